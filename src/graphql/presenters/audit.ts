import type { AuditActorKind } from '../../audit/actions.js';
import type { AuditEntryEntity } from '../../audit/entities.js';
import type { AuditVerification as Verification } from '../../audit/service.js';
import { AuditActor, AuditEntry, AuditVerification } from '../types/audit.js';

/** The console session id stays in the log and its export; the API shows the key behind it. */
export function presentAuditEntry(entity: AuditEntryEntity): AuditEntry {
  return Object.assign(new AuditEntry(), {
    id: entity.id,
    at: entity.at,
    environment: entity.environment,
    actor: Object.assign(new AuditActor(), { kind: entity.actorKind as AuditActorKind, apiKeyId: entity.actorApiKeyId, name: entity.actorName }),
    action: entity.action,
    targetType: entity.targetType,
    targetId: entity.targetId,
    changes: entity.changes,
    hash: entity.hash,
  });
}

export function presentAuditVerification(result: Verification): AuditVerification {
  return Object.assign(new AuditVerification(), result);
}
