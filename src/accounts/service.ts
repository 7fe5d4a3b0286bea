import { In, IsNull, type DataSource } from 'typeorm';
import { AUDIT_ACTIONS, actorOf } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import { AccountEntity, ApiKeyEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { Environment, Role } from '../domain.js';
import { AppError, InputError, NotFoundError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import type { ApiKeyCache } from './key-cache.js';
import { generateToken, hashesEqual, hashToken, visiblePrefix } from './tokens.js';
import { MAX_DISPLAY_NAME_LENGTH } from '../limits.js';

/** Who is calling: the resolved API key. */
export interface Principal {
  apiKeyId: string;
  accountId: string | null;
  role: Role;
  environment: Environment;
  /** Set when the caller is a console session opened by a portal link rather than an API key. */
  consoleSessionId?: string;
  /** The key's own request budget; null or absent: the installation's default. */
  rateLimitPerSecond?: number | null;
}

export interface AccountSettings {
  /** The most requests per second an ADMIN may give a key. */
  rateLimitPerKeyCeiling: number;
}

export interface AccountScopedPrincipal extends Principal {
  accountId: string;
}

/** lastUsedAt is written at most this often per key, to keep it off the hot path. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** The hookline_settings row that says the bootstrap operator token was minted. */
const OPERATOR_MINTED = 'operator_token_minted';

function checkName(field: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw InputError.field(field, 'must not be empty');
  if (trimmed.length > MAX_DISPLAY_NAME_LENGTH) throw InputError.field(field, `must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`);
  return trimmed;
}

/**
 * What an entry shows of a key, never its token or hash: for a new key its
 * fields as { before: null, after }, for a revoked one which key it was.
 */
function keyFields(before: ApiKeyEntity | null, after: ApiKeyEntity): Record<string, unknown> {
  const view = { name: after.name, role: after.role, environment: after.environment, prefix: after.prefix };
  if (before) return { key: view };
  return Object.fromEntries(Object.entries(view).map(([field, value]) => [field, { before: null, after: value }]));
}

function lastUseIsStale(lastUsedAt: Date | null): boolean {
  return !lastUsedAt || Date.now() - lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS;
}

/**
 * The environments whose keys a caller manages. Environments are a wall with
 * a door one way: a PRODUCTION ADMIN manages the account's keys of both
 * environments (as a live-mode owner manages test keys), a STAGING ADMIN only
 * STAGING's, so a staging credential can never mint or remove a live one.
 */
export function manageableEnvironments(caller: Principal): Environment[] {
  return caller.environment === Environment.PRODUCTION ? [Environment.PRODUCTION, Environment.STAGING] : [caller.environment];
}

function requireManageable(caller: Principal, environment: Environment): void {
  if (!manageableEnvironments(caller).includes(environment)) {
    throw new AppError('FORBIDDEN', `A ${caller.environment} key cannot manage ${environment} keys`);
  }
}

function keyScope(caller: Principal, environment?: Environment | null) {
  return caller.accountId === null
    ? { accountId: IsNull(), role: Role.OPERATOR }
    : { accountId: caller.accountId, environment: environment ? environment : In(manageableEnvironments(caller)) };
}

export class AccountService {
  private readonly keyColumns: EntityColumns<ApiKeyEntity>;
  private keyCache: ApiKeyCache | undefined;

  /** Without the audit log (the operator commands of the CLI) only operator keys, which no account's log records, can be made. */
  constructor(
    private readonly db: DataSource,
    private readonly audit?: AuditService,
    private readonly settings: AccountSettings = { rateLimitPerKeyCeiling: 1_000 },
  ) {
    this.keyColumns = entityColumns(db, ApiKeyEntity, 'k');
  }

  private requireAudit(): AuditService {
    if (!this.audit) throw new Error('AccountService needs the audit log to change an account');
    return this.audit;
  }

  /**
   * Lets authenticate answer from memory while the cache is listening for
   * key changes (an API process sets it up; see ApiKeyCache).
   */
  cacheAuthentication(cache: ApiKeyCache): void {
    this.keyCache = cache;
  }

  /**
   * Resolves a bearer token to its key, or throws UNAUTHENTICATED. Only with
   * fromCache may the answer come from the key cache, which hears of a
   * revocation in another process a moment after its commit: the caller must
   * then have the key checked again in the database by its own transaction
   * (publishing does, in its event insert), so that a revoked key is refused
   * at once everywhere.
   */
  async authenticate(token: string, { fromCache = false }: { fromCache?: boolean } = {}): Promise<Principal> {
    return (await this.resolveKey(token, fromCache)).principal;
  }

  /** Like authenticate; cached says whether the answer came from the key cache rather than the database. */
  async resolveKey(token: string, fromCache: boolean): Promise<{ principal: Principal; cached: boolean }> {
    const hash = hashToken(token);
    const cacheKey = hash.toString('base64');
    const cached = fromCache ? this.keyCache?.get(cacheKey) : undefined;
    if (cached) {
      if (lastUseIsStale(cached.lastUsedAt)) {
        cached.lastUsedAt = new Date();
        await this.db.getRepository(ApiKeyEntity).update({ id: cached.principal.apiKeyId }, { lastUsedAt: cached.lastUsedAt });
      }
      return { principal: cached.principal, cached: true };
    }
    const generation = this.keyCache?.generation ?? 0;
    // Without the cache every request comes here first: one plain statement, no query building.
    const [row] = (await this.db.query(`SELECT ${this.keyColumns.select} FROM api_keys k WHERE k.token_hash = $1`, [hash])) as Array<
      Record<string, unknown>
    >;
    const key = row ? this.keyColumns.read(row) : undefined;
    if (!key || !hashesEqual(key.tokenHash, hash) || key.revokedAt) {
      throw new AppError('UNAUTHENTICATED', 'The API key is missing, unknown or revoked');
    }
    let lastUsedAt = key.lastUsedAt;
    if (lastUseIsStale(lastUsedAt)) {
      lastUsedAt = new Date();
      await this.db.getRepository(ApiKeyEntity).update({ id: key.id }, { lastUsedAt });
    }
    const principal: Principal = {
      apiKeyId: key.id,
      accountId: key.accountId,
      role: key.role,
      environment: key.environment,
      rateLimitPerSecond: key.rateLimitPerSecond,
    };
    this.keyCache?.remember(generation, cacheKey, { principal, lastUsedAt });
    return { principal, cached: false };
  }

  async getAccount(id: string): Promise<AccountEntity | null> {
    return this.db.getRepository(AccountEntity).findOneBy({ id });
  }

  /** The key a principal was resolved from. */
  async getOwnKey(principal: Principal): Promise<ApiKeyEntity> {
    const key = await this.db.getRepository(ApiKeyEntity).findOneBy({ id: principal.apiKeyId });
    if (!key || key.revokedAt) throw new AppError('UNAUTHENTICATED', 'The API key is missing, unknown or revoked');
    return key;
  }

  /** A new account with a PRODUCTION ADMIN key. */
  async createAccount(caller: Principal, name: string): Promise<{ account: AccountEntity; adminToken: string }> {
    const accountName = checkName('name', name);
    const audit = this.requireAudit();
    return this.db.transaction(async (manager) => {
      const account = manager.create(AccountEntity, { id: newId(), name: accountName });
      await manager.insert(AccountEntity, account);
      const { token } = await this.insertKey(manager.getRepository(ApiKeyEntity), {
        accountId: account.id,
        name: 'Initial admin key',
        role: Role.ADMIN,
        environment: Environment.PRODUCTION,
      });
      await audit.record(manager, { accountId: account.id, environment: Environment.PRODUCTION }, actorOf(caller), {
        action: AUDIT_ACTIONS.accountCreated,
        targetType: 'account',
        targetId: account.id,
        changes: { name: { before: null, after: accountName }, initialAdminKeyPrefix: { before: null, after: visiblePrefix(token) } },
      });
      return { account: await manager.findOneByOrFail(AccountEntity, { id: account.id }), adminToken: token };
    });
  }

  /**
   * A new key in the caller's account, of the caller's environment unless
   * another is asked for. An ADMIN may create keys of any account role for
   * the environments it manages; OPERATOR keys are created only by an
   * operator and belong to no account or environment.
   */
  async createApiKey(
    caller: Principal,
    input: { name: string; role: Role; environment?: Environment | null; rateLimitPerSecond?: number | null },
  ): Promise<{ apiKey: ApiKeyEntity; token: string }> {
    const name = checkName('name', input.name);
    const rateLimitPerSecond = this.checkRateLimit(input.rateLimitPerSecond);
    if (input.role === Role.OPERATOR) {
      if (caller.role !== Role.OPERATOR) throw new AppError('FORBIDDEN', 'Only an operator can create OPERATOR keys');
      if (input.environment && input.environment !== Environment.PRODUCTION) {
        throw InputError.field('environment', 'an OPERATOR key sees no account data and takes no environment');
      }
      return this.insertKey(this.db.getRepository(ApiKeyEntity), {
        accountId: null,
        name,
        role: Role.OPERATOR,
        environment: Environment.PRODUCTION,
        rateLimitPerSecond,
      });
    }
    if (caller.accountId === null) {
      throw InputError.field('role', 'an operator key belongs to no account and can only create OPERATOR keys');
    }
    const environment = input.environment ?? caller.environment;
    requireManageable(caller, environment);
    const accountId = caller.accountId;
    const audit = this.requireAudit();
    return this.db.transaction(async (manager) => {
      const created = await this.insertKey(manager.getRepository(ApiKeyEntity), {
        accountId,
        name,
        role: input.role,
        environment,
        rateLimitPerSecond,
      });
      // In the caller's log: a PRODUCTION ADMIN's STAGING key is its act.
      await audit.record(manager, { accountId, environment: caller.environment }, actorOf(caller), {
        action: AUDIT_ACTIONS.apiKeyCreated,
        targetType: 'api_key',
        targetId: created.apiKey.id,
        changes: keyFields(null, created.apiKey),
      });
      return created;
    });
  }

  /**
   * Gives a key the caller manages its own request budget, up to the
   * operator's ceiling; null returns it to the installation's default. Every
   * API process's key cache hears of the change, so it counts from the next
   * request on. A change of an account's key is in its audit log.
   */
  async setApiKeyRateLimit(caller: Principal, id: string, rateLimitPerSecond: number | null): Promise<ApiKeyEntity> {
    const budget = this.checkRateLimit(rateLimitPerSecond);
    const key = await this.managedKey(caller, id);
    if (key.rateLimitPerSecond === budget) return key;
    const before = key.rateLimitPerSecond;
    key.rateLimitPerSecond = budget;
    const accountId = caller.accountId;
    if (accountId === null) {
      await this.db.getRepository(ApiKeyEntity).update({ id: key.id }, { rateLimitPerSecond: budget });
      return key;
    }
    const audit = this.requireAudit();
    await this.db.transaction(async (manager) => {
      await manager.getRepository(ApiKeyEntity).update({ id: key.id }, { rateLimitPerSecond: budget });
      await audit.record(manager, { accountId, environment: caller.environment }, actorOf(caller), {
        action: AUDIT_ACTIONS.apiKeyRateLimitSet,
        targetType: 'api_key',
        targetId: key.id,
        changes: { ...keyFields(key, key), rateLimitPerSecond: { before, after: budget } },
      });
    });
    return key;
  }

  private checkRateLimit(value: number | null | undefined): number | null {
    if (value === undefined || value === null) return null;
    const ceiling = this.settings.rateLimitPerKeyCeiling;
    if (!Number.isInteger(value) || value < 1 || value > ceiling) {
      throw InputError.field('rateLimitPerSecond', `must be a whole number between 1 and ${ceiling} (the installation's ceiling), or null`);
    }
    return value;
  }

  /** A key the caller manages: another account's is NOT_FOUND, one of an environment the caller does not manage FORBIDDEN. */
  private async managedKey(caller: Principal, id: string): Promise<ApiKeyEntity> {
    const where = caller.accountId === null ? keyScope(caller) : { accountId: caller.accountId };
    const key = isUuid(id) ? await this.db.getRepository(ApiKeyEntity).findOneBy({ id, ...where }) : null;
    if (!key) throw new NotFoundError('API key', id);
    if (caller.accountId !== null) requireManageable(caller, key.environment);
    return key;
  }

  /**
   * The keys the caller manages (of one environment when asked, which must
   * be one it manages), or the operator keys for an operator.
   */
  async listApiKeys(caller: Principal, environment?: Environment | null): Promise<ApiKeyEntity[]> {
    if (environment && caller.accountId !== null) requireManageable(caller, environment);
    return this.db.getRepository(ApiKeyEntity).find({
      where: keyScope(caller, caller.accountId === null ? null : environment),
      order: { createdAt: 'DESC', id: 'ASC' },
    });
  }

  /**
   * Revokes a key the caller manages. A key of the caller's account in an
   * environment it does not manage is FORBIDDEN; any other account's is
   * NOT_FOUND, as if it did not exist.
   */
  async revokeApiKey(caller: Principal, id: string): Promise<ApiKeyEntity> {
    const repo = this.db.getRepository(ApiKeyEntity);
    const key = await this.managedKey(caller, id);
    if (!key.revokedAt) {
      const before = { ...key };
      key.revokedAt = new Date();
      const accountId = caller.accountId;
      if (accountId === null) {
        await repo.update({ id: key.id }, { revokedAt: key.revokedAt });
      } else {
        const audit = this.requireAudit();
        await this.db.transaction(async (manager) => {
          await manager.getRepository(ApiKeyEntity).update({ id: key.id }, { revokedAt: key.revokedAt });
          await audit.record(manager, { accountId, environment: caller.environment }, actorOf(caller), {
            action: AUDIT_ACTIONS.apiKeyRevoked,
            targetType: 'api_key',
            targetId: key.id,
            changes: { ...keyFields(before, key), revokedAt: { before: null, after: key.revokedAt!.toISOString() } },
          });
        });
      }
    }
    return key;
  }

  /**
   * Creates the first operator key, once in the life of the installation:
   * the mint is recorded in hookline_settings, so that revoking that key
   * (or every operator key) and restarting never mints another, nor fails
   * on a HOOKLINE_BOOTSTRAP_TOKEN whose key was revoked. Serialised with an
   * advisory lock so that several processes starting at once create one key.
   * Returns the token when a key was created. `hookline create-operator-token`
   * makes another on purpose.
   */
  async bootstrapOperator(presetToken: string | undefined): Promise<string | undefined> {
    return this.db.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['hookline.bootstrap-operator']);
      const minted = await manager.query(`SELECT 1 FROM hookline_settings WHERE name = $1`, [OPERATOR_MINTED]);
      if (minted.length > 0) return undefined;
      const existing = await manager.getRepository(ApiKeyEntity).countBy({ role: Role.OPERATOR });
      let token: string | undefined;
      if (existing === 0) {
        ({ token } = await this.insertKey(
          manager.getRepository(ApiKeyEntity),
          { accountId: null, name: 'Bootstrap operator key', role: Role.OPERATOR, environment: Environment.PRODUCTION },
          presetToken,
        ));
      }
      await manager.query(`INSERT INTO hookline_settings (name, value) VALUES ($1, $2)`, [
        OPERATOR_MINTED,
        token ? 'at first start' : 'operator keys existed before',
      ]);
      return token;
    });
  }

  /** A new operator key on an operator's explicit request (the CLI), e.g. after every operator key was revoked. */
  async createOperatorToken(name = 'Operator key created from the command line'): Promise<string> {
    const { token } = await this.insertKey(this.db.getRepository(ApiKeyEntity), {
      accountId: null,
      name: checkName('name', name),
      role: Role.OPERATOR,
      environment: Environment.PRODUCTION,
    });
    return token;
  }

  private async insertKey(
    repo: ReturnType<DataSource['getRepository']>,
    fields: { accountId: string | null; name: string; role: Role; environment: Environment; rateLimitPerSecond?: number | null },
    presetToken?: string,
  ): Promise<{ apiKey: ApiKeyEntity; token: string }> {
    const token = presetToken ?? generateToken();
    const id = newId();
    await repo.insert({ id, ...fields, prefix: visiblePrefix(token), tokenHash: hashToken(token) });
    const apiKey = (await repo.findOneByOrFail({ id })) as ApiKeyEntity;
    return { apiKey, token };
  }
}
