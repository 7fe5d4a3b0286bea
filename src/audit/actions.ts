import type { Principal } from '../accounts/service.js';

/**
 * The actions an entry may name, `target.verb`. Each is written by the
 * code that makes the change, in the change's own transaction.
 */
export const AUDIT_ACTIONS = {
  subscriptionCreated: 'subscription.created',
  subscriptionUpdated: 'subscription.updated',
  subscriptionDeleted: 'subscription.deleted',
  subscriptionEnabled: 'subscription.enabled',
  subscriptionDisabled: 'subscription.disabled',
  secretRotated: 'secret.rotated',
  secretRevealed: 'secret.revealed',
  apiKeyCreated: 'api_key.created',
  apiKeyRevoked: 'api_key.revoked',
  apiKeyRateLimitSet: 'api_key.rate_limit_set',
  consoleSignedIn: 'console.signed_in',
  consoleSignedOut: 'console.signed_out',
  eventTypeDefined: 'event_type.defined',
  portalSessionCreated: 'portal_session.created',
  deliveryRedelivered: 'delivery.redelivered',
  deliveriesReplayed: 'deliveries.replayed',
  orderingKeyUnblocked: 'ordering_key.unblocked',
  endpointHeld: 'endpoint.held',
  endpointRecovered: 'endpoint.recovered',
  endpointDisabled: 'endpoint.disabled',
  accountCreated: 'account.created',
} as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];

export enum AuditActorKind {
  API_KEY = 'API_KEY',
  CONSOLE_SESSION = 'CONSOLE_SESSION',
  /** Hookline itself; `name` says which part, e.g. delivery-engine. */
  SYSTEM = 'SYSTEM',
}

/** Who acted, as an entry records it. */
export interface AuditActor {
  kind: AuditActorKind;
  /** The key; for a console session, the key that made its portal link. */
  apiKeyId: string | null;
  sessionId: string | null;
  name: string | null;
}

export function actorOf(principal: Principal): AuditActor {
  return principal.consoleSessionId
    ? { kind: AuditActorKind.CONSOLE_SESSION, apiKeyId: principal.apiKeyId, sessionId: principal.consoleSessionId, name: null }
    : { kind: AuditActorKind.API_KEY, apiKeyId: principal.apiKeyId, sessionId: null, name: null };
}

export function systemActor(name: string): AuditActor {
  return { kind: AuditActorKind.SYSTEM, apiKeyId: null, sessionId: null, name };
}

/** What happened to what. */
export interface AuditRecord {
  action: AuditAction;
  targetType: string;
  targetId: string | null;
  /** Field → { before, after }, or the figures of an act (e.g. how many deliveries); never a secret or a header value. */
  changes?: Record<string, unknown> | null;
}

/**
 * The fields that differ between two states, as { before, after }, for the
 * names given. Values are compared by their JSON, so arrays and objects
 * count as changed only when their content changed.
 */
export function fieldChanges<T extends object>(
  before: T | null,
  after: T | null,
  fields: ReadonlyArray<keyof T & string>,
): Record<string, { before: unknown; after: unknown }> {
  const changes: Record<string, { before: unknown; after: unknown }> = {};
  for (const field of fields) {
    const b = before ? ((before[field] as unknown) ?? null) : null;
    const a = after ? ((after[field] as unknown) ?? null) : null;
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[field] = { before: b, after: a };
  }
  return changes;
}
