import type { AccountEntity, ApiKeyEntity } from '../../db/entities/index.js';
import { Account, ApiKey } from '../types/account.js';

export function presentAccount(entity: AccountEntity): Account {
  return Object.assign(new Account(), { id: entity.id, name: entity.name, createdAt: entity.createdAt });
}

/** The token hash is left behind on purpose: it has no field. */
export function presentApiKey(entity: ApiKeyEntity): ApiKey {
  return Object.assign(new ApiKey(), {
    id: entity.id,
    name: entity.name,
    role: entity.role,
    environment: entity.environment,
    prefix: entity.prefix,
    createdAt: entity.createdAt,
    lastUsedAt: entity.lastUsedAt,
    revokedAt: entity.revokedAt,
  });
}
