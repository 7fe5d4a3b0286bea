import type { Principal } from '../../accounts/service.js';
import type { AccountEntity, ApiKeyEntity } from '../../db/entities/index.js';
import { Account, ApiKey, CreatedAccount, CreatedApiKey, Viewer } from '../types/account.js';

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
    rateLimitPerSecond: entity.rateLimitPerSecond,
  });
}

/** Role and environment are the principal's: a console session's role is its link's, not that of the key that made the link. */
export function presentViewer(principal: Principal, account: AccountEntity | null, key: ApiKeyEntity): Viewer {
  return Object.assign(new Viewer(), {
    account: account ? presentAccount(account) : null,
    role: principal.role,
    environment: principal.environment,
    apiKey: presentApiKey(key),
  });
}

/** The token is shown here once; only its hash is kept. */
export function presentCreatedAccount(created: { account: AccountEntity; adminToken: string }): CreatedAccount {
  return Object.assign(new CreatedAccount(), { account: presentAccount(created.account), adminToken: created.adminToken });
}

/** The token is shown here once; only its hash is kept. */
export function presentCreatedApiKey(created: { apiKey: ApiKeyEntity; token: string }): CreatedApiKey {
  return Object.assign(new CreatedApiKey(), { apiKey: presentApiKey(created.apiKey), token: created.token });
}
