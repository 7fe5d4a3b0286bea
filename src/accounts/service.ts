import { IsNull, type DataSource } from 'typeorm';
import { AccountEntity, ApiKeyEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { Environment, Role } from '../domain.js';
import { AppError, InputError, NotFoundError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { generateToken, hashesEqual, hashToken, visiblePrefix } from './tokens.js';

/** Who is calling: the resolved API key. */
export interface Principal {
  apiKeyId: string;
  accountId: string | null;
  role: Role;
  environment: Environment;
  /** Set when the caller is a console session opened by a portal link rather than an API key. */
  consoleSessionId?: string;
}

export interface AccountScopedPrincipal extends Principal {
  accountId: string;
}

/** lastUsedAt is written at most this often per key, to keep it off the hot path. */
const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_NAME_LENGTH = 200;

function checkName(field: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw InputError.field(field, 'must not be empty');
  if (trimmed.length > MAX_NAME_LENGTH) throw InputError.field(field, `must be at most ${MAX_NAME_LENGTH} characters`);
  return trimmed;
}

function keyScope(caller: Principal) {
  return caller.accountId === null
    ? { accountId: IsNull(), role: Role.OPERATOR }
    : { accountId: caller.accountId, environment: caller.environment };
}

export class AccountService {
  private readonly keyColumns: EntityColumns<ApiKeyEntity>;

  constructor(private readonly db: DataSource) {
    this.keyColumns = entityColumns(db, ApiKeyEntity, 'k');
  }

  /** Resolves a bearer token to its key, or throws UNAUTHENTICATED. */
  async authenticate(token: string): Promise<Principal> {
    const hash = hashToken(token);
    // Every request comes here first: one plain statement, no query building.
    const [row] = (await this.db.query(`SELECT ${this.keyColumns.select} FROM api_keys k WHERE k.token_hash = $1`, [hash])) as Array<
      Record<string, unknown>
    >;
    const key = row ? this.keyColumns.read(row) : undefined;
    if (!key || !hashesEqual(key.tokenHash, hash) || key.revokedAt) {
      throw new AppError('UNAUTHENTICATED', 'The API key is missing, unknown or revoked');
    }
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.db.getRepository(ApiKeyEntity).update({ id: key.id }, { lastUsedAt: new Date() });
    }
    return { apiKeyId: key.id, accountId: key.accountId, role: key.role, environment: key.environment };
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
  async createAccount(name: string): Promise<{ account: AccountEntity; adminToken: string }> {
    const accountName = checkName('name', name);
    return this.db.transaction(async (manager) => {
      const account = manager.create(AccountEntity, { id: newId(), name: accountName });
      await manager.insert(AccountEntity, account);
      const { token } = await this.insertKey(manager.getRepository(ApiKeyEntity), {
        accountId: account.id,
        name: 'Initial admin key',
        role: Role.ADMIN,
        environment: Environment.PRODUCTION,
      });
      return { account: await manager.findOneByOrFail(AccountEntity, { id: account.id }), adminToken: token };
    });
  }

  /**
   * A new key in the caller's account. An ADMIN may create keys of any
   * account role for either environment; OPERATOR keys are created only by
   * an operator and belong to no account.
   */
  async createApiKey(
    caller: Principal,
    input: { name: string; role: Role; environment?: Environment | null },
  ): Promise<{ apiKey: ApiKeyEntity; token: string }> {
    const name = checkName('name', input.name);
    if (input.role === Role.OPERATOR) {
      if (caller.role !== Role.OPERATOR) throw new AppError('FORBIDDEN', 'Only an operator can create OPERATOR keys');
      return this.insertKey(this.db.getRepository(ApiKeyEntity), {
        accountId: null,
        name,
        role: Role.OPERATOR,
        environment: Environment.PRODUCTION,
      });
    }
    if (caller.accountId === null) {
      throw InputError.field('role', 'an operator key belongs to no account and can only create OPERATOR keys');
    }
    return this.insertKey(this.db.getRepository(ApiKeyEntity), {
      accountId: caller.accountId,
      name,
      role: input.role,
      environment: input.environment ?? caller.environment,
    });
  }

  /**
   * Keys of the caller's account and environment (an environment's keys are
   * that environment's data), or the operator keys for an operator.
   */
  async listApiKeys(caller: Principal): Promise<ApiKeyEntity[]> {
    return this.db.getRepository(ApiKeyEntity).find({
      where: keyScope(caller),
      order: { createdAt: 'DESC', id: 'ASC' },
    });
  }

  async revokeApiKey(caller: Principal, id: string): Promise<ApiKeyEntity> {
    const repo = this.db.getRepository(ApiKeyEntity);
    const key = isUuid(id) ? await repo.findOneBy({ id, ...keyScope(caller) }) : null;
    if (!key) throw new NotFoundError('API key', id);
    if (!key.revokedAt) {
      key.revokedAt = new Date();
      await repo.update({ id: key.id }, { revokedAt: key.revokedAt });
    }
    return key;
  }

  /**
   * Creates the first operator key when none is active. Serialised with an
   * advisory lock so that several processes starting at once create one key.
   * Returns the token when a key was created.
   */
  async bootstrapOperator(presetToken: string | undefined): Promise<string | undefined> {
    return this.db.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['hookline.bootstrap-operator']);
      const active = await manager.getRepository(ApiKeyEntity).countBy({ role: Role.OPERATOR, revokedAt: IsNull() });
      if (active > 0) return undefined;
      const { token } = await this.insertKey(
        manager.getRepository(ApiKeyEntity),
        { accountId: null, name: 'Bootstrap operator key', role: Role.OPERATOR, environment: Environment.PRODUCTION },
        presetToken,
      );
      return token;
    });
  }

  private async insertKey(
    repo: ReturnType<DataSource['getRepository']>,
    fields: { accountId: string | null; name: string; role: Role; environment: Environment },
    presetToken?: string,
  ): Promise<{ apiKey: ApiKeyEntity; token: string }> {
    const token = presetToken ?? generateToken();
    const id = newId();
    await repo.insert({ id, ...fields, prefix: visiblePrefix(token), tokenHash: hashToken(token) });
    const apiKey = (await repo.findOneByOrFail({ id })) as ApiKeyEntity;
    return { apiKey, token };
  }
}
