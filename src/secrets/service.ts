import type { DataSource, EntityManager } from 'typeorm';
import { SigningSecretEntity } from '../db/entities/index.js';
import { InputError } from '../errors.js';
import { newId } from '../ids.js';
import { decryptSecret, encryptSecret, generateSecret, headersAreCurrent, openHeaders, sealHeaders, secretHint, secretProblem } from './crypto.js';
import { Keyring } from './keyring.js';

/** How long a rotated-out secret keeps signing when the caller does not say (contract default). */
export const DEFAULT_EXPIRE_AFTER_SECONDS = 86_400;
/** A rotated-out secret keeps signing for at most this long. */
export const MAX_EXPIRE_AFTER_SECONDS = 30 * 24 * 3600;
/**
 * Every active secret adds a signature to every delivery; receivers and
 * proxies cap header sizes, so rotations that pile up are refused.
 */
export const MAX_ACTIVE_SECRETS = 10;

/** A secret signs until it expires (rotation gives the old one an expiry); `at` is an SQL expression. */
const activeAt = (at: string) => `(expires_at IS NULL OR expires_at > ${at})`;
const ACTIVE = activeAt('$2');

/** A stored signing secret as read from signing_secrets, still encrypted. */
export interface SigningSecretRow {
  id: string;
  subscription_id: string;
  ciphertext: Buffer;
}

/**
 * The signing_secrets rows of the subscriptions `ids` that are active at
 * `at` (both SQL expressions: a uuid[] and a timestamptz), newest first per
 * subscription; activeSecretsOf decrypts them.
 */
export function activeSecretRowsSql(ids: string, at: string): string {
  return `SELECT id, subscription_id, ciphertext FROM signing_secrets
          WHERE subscription_id = ANY(${ids}) AND ${activeAt(at)}
          ORDER BY subscription_id, created_at DESC, id DESC`;
}

/** Decrypted secrets a process keeps; far more than the subscriptions one worker serves at a time. */
const PLAINTEXT_CACHE_SIZE = 10_000;

/**
 * Signing secrets of subscriptions: stored encrypted (AES-256-GCM under the
 * master key), shown in plaintext only to the callers that need it (the
 * delivery worker, and ADMINs through the subscription service, which
 * checks the tenant first). Methods here take subscription ids that the
 * caller has already scoped.
 */
export class SecretService {
  /** Decrypted secrets by row id, oldest first (a Map keeps insertion order). */
  private readonly plaintexts = new Map<string, string>();

  private readonly masterKey: Keyring;

  constructor(
    private readonly db: DataSource,
    masterKey: Keyring | Buffer,
  ) {
    this.masterKey = masterKey instanceof Keyring ? masterKey : new Keyring(masterKey);
  }

  /** A subscription's custom headers as they are stored: every value sealed. */
  sealHeaders(subscriptionId: string, headers: Record<string, string> | null): Record<string, string> | null {
    return headers === null ? null : sealHeaders(this.masterKey, subscriptionId, headers);
  }

  /**
   * The plaintext of stored custom headers: what the delivery worker sends
   * (call it on the subscription row the worker read) and what an ADMIN reads.
   */
  openHeaders(subscriptionId: string, headers: Record<string, string> | null): Record<string, string> | null {
    if (headers === null) return null;
    try {
      return openHeaders(this.masterKey, subscriptionId, headers);
    } catch {
      throw new Error(`headers of subscription ${subscriptionId} cannot be decrypted with the configured master keys`);
    }
  }

  /**
   * Seals every signing secret and header value again under the current
   * master key, a batch of rows per transaction; values already sealed under
   * it are left alone, so that the command can be run again after an
   * interruption. Returns how many rows were rewritten.
   */
  async reencryptAll(batchSize = 500): Promise<{ secrets: number; subscriptions: number }> {
    const counts = { secrets: 0, subscriptions: 0 };
    for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
      const rows = (await this.db.query('SELECT id, subscription_id, ciphertext FROM signing_secrets WHERE id > $1 ORDER BY id LIMIT $2', [
        after,
        batchSize,
      ])) as Array<{ id: string; subscription_id: string; ciphertext: Buffer }>;
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const stale = rows.filter((row) => !this.masterKey.isCurrent(row.ciphertext));
      await this.db.transaction(async (manager) => {
        for (const row of stale) {
          const sealed = encryptSecret(this.masterKey, this.decrypt(row), row.subscription_id);
          await manager.query('UPDATE signing_secrets SET ciphertext = $2 WHERE id = $1 AND ciphertext = $3', [row.id, sealed, row.ciphertext]);
        }
      });
      counts.secrets += stale.length;
    }
    for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
      const rows = (await this.db.query('SELECT id, headers FROM webhook_subscriptions WHERE id > $1 AND headers IS NOT NULL ORDER BY id LIMIT $2', [
        after,
        batchSize,
      ])) as Array<{ id: string; headers: Record<string, string> }>;
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const stale = rows.filter((row) => !headersAreCurrent(this.masterKey, row.headers));
      await this.db.transaction(async (manager) => {
        for (const row of stale) {
          const sealed = sealHeaders(this.masterKey, row.id, this.openHeaders(row.id, row.headers)!);
          // Only if no ADMIN changed the headers meanwhile; a change seals them under the current key anyway.
          await manager.query('UPDATE webhook_subscriptions SET headers = $2::jsonb WHERE id = $1 AND headers = $3::jsonb', [
            row.id,
            JSON.stringify(sealed),
            JSON.stringify(row.headers),
          ]);
        }
      });
      counts.subscriptions += stale.length;
    }
    return counts;
  }

  /** The secret to store: the one brought (validated, errors on `field`) or a new one. */
  prepare(brought: string | null | undefined, field: string): string {
    if (brought === undefined || brought === null) return generateSecret();
    const problem = secretProblem(brought);
    if (problem) throw InputError.field(field, problem);
    return brought;
  }

  /** Stores a secret that signs from now on, in the caller's transaction. */
  async add(manager: EntityManager, subscriptionId: string, secret: string): Promise<SigningSecretEntity> {
    const id = newId();
    await manager.insert(SigningSecretEntity, {
      id,
      subscriptionId,
      ciphertext: encryptSecret(this.masterKey, secret, subscriptionId),
      hint: secretHint(secret),
      expiresAt: null,
    });
    return manager.findOneByOrFail(SigningSecretEntity, { id });
  }

  /**
   * Rotation inside the caller's transaction (which holds the subscription's
   * row lock): the active secrets stop signing after expireAfterSeconds, the
   * new one signs at once. A secret already on its way out never gets a
   * later expiry than it had: a second rotation is often made because a
   * secret leaked.
   */
  async rotate(manager: EntityManager, subscriptionId: string, expireAfterSeconds: number | null | undefined, secret: string): Promise<void> {
    expireAfterSeconds ??= DEFAULT_EXPIRE_AFTER_SECONDS;
    if (!Number.isInteger(expireAfterSeconds) || expireAfterSeconds < 0 || expireAfterSeconds > MAX_EXPIRE_AFTER_SECONDS) {
      throw InputError.field('expireCurrentAfterSeconds', `must be a whole number of seconds from 0 to ${MAX_EXPIRE_AFTER_SECONDS}`);
    }
    const now = new Date();
    const expiresAt = new Date(now.getTime() + expireAfterSeconds * 1000);
    await manager.query(
      `UPDATE signing_secrets SET expires_at = LEAST(COALESCE(expires_at, 'infinity'::timestamptz), $3)
       WHERE subscription_id = $1 AND ${ACTIVE}`,
      [subscriptionId, now, expiresAt],
    );
    const signing: Array<{ count: string }> = await manager.query(
      `SELECT count(*) AS count FROM signing_secrets WHERE subscription_id = $1 AND ${ACTIVE}`,
      [subscriptionId, now],
    );
    // The caller's transaction rolls the expiry back with this error.
    if (Number(signing[0]?.count ?? 0) + 1 > MAX_ACTIVE_SECRETS) {
      throw InputError.field(
        'expireCurrentAfterSeconds',
        `the subscription would have more than ${MAX_ACTIVE_SECRETS} secrets signing at once; expire the current ones sooner (0 expires them now)`,
      );
    }
    await this.add(manager, subscriptionId, secret);
  }

  /** Stops every secret of the subscription from signing, e.g. when it is deleted. */
  async expireAll(manager: EntityManager, subscriptionId: string): Promise<void> {
    const now = new Date();
    await manager.query(`UPDATE signing_secrets SET expires_at = $2 WHERE subscription_id = $1 AND ${ACTIVE}`, [subscriptionId, now]);
  }

  /** Metadata of the secrets that sign at `at`, newest first. */
  async listActive(subscriptionId: string, at: Date = new Date()): Promise<SigningSecretEntity[]> {
    return this.db
      .getRepository(SigningSecretEntity)
      .createQueryBuilder('s')
      .where('s.subscription_id = :subscriptionId', { subscriptionId })
      .andWhere('(s.expires_at IS NULL OR s.expires_at > :at)', { at })
      .orderBy('s.created_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .getMany();
  }

  /** listActive for many subscriptions in one statement. */
  async listActiveFor(subscriptionIds: readonly string[], at: Date = new Date()): Promise<SigningSecretEntity[]> {
    if (subscriptionIds.length === 0) return [];
    return this.db
      .getRepository(SigningSecretEntity)
      .createQueryBuilder('s')
      .where('s.subscription_id = ANY(:subscriptionIds)', { subscriptionIds: [...subscriptionIds] })
      .andWhere('(s.expires_at IS NULL OR s.expires_at > :at)', { at })
      .orderBy('s.created_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .getMany();
  }

  /**
   * The whsec_ secrets that sign at `at` (default now), newest first: what
   * a delivery is signed with. The subscription id must come from a scoped
   * lookup or from a delivery row.
   */
  async activeSecrets(subscriptionId: string, at: Date = new Date()): Promise<string[]> {
    const rows = (await this.db.query(activeSecretRowsSql('$1::uuid[]', '$2'), [[subscriptionId], at])) as SigningSecretRow[];
    return rows.map((row) => this.decrypt(row));
  }

  /**
   * The active secrets of many subscriptions from rows of activeSecretRowsSql
   * read elsewhere (the delivery worker reads them in its claim's
   * transaction), newest first per subscription. A subscription whose secret
   * cannot be decrypted maps to the error, so that only its deliveries fail.
   */
  activeSecretsOf(subscriptionIds: Iterable<string>, rows: readonly SigningSecretRow[]): Map<string, string[] | Error> {
    const result = new Map<string, string[] | Error>();
    for (const id of subscriptionIds) result.set(id, []);
    for (const row of rows) {
      const secrets = result.get(row.subscription_id);
      if (!Array.isArray(secrets)) continue;
      try {
        secrets.push(this.decrypt(row));
      } catch (error) {
        result.set(row.subscription_id, error instanceof Error ? error : new Error(String(error)));
      }
    }
    return result;
  }

  /**
   * A stored secret never changes (rotation adds a row), so its plaintext is
   * kept by row id: a busy worker would otherwise decrypt the same few
   * secrets for every attempt.
   */
  private decrypt(row: SigningSecretRow): string {
    const cached = this.plaintexts.get(row.id);
    if (cached !== undefined) return cached;
    let secret: string;
    try {
      secret = decryptSecret(this.masterKey, row.ciphertext, row.subscription_id);
    } catch {
      // The usual cause is a changed HOOKLINE_MASTER_KEY; say so without any key material.
      throw new Error(`signing secret ${row.id} cannot be decrypted with the configured master keys`);
    }
    if (this.plaintexts.size >= PLAINTEXT_CACHE_SIZE) this.plaintexts.delete(this.plaintexts.keys().next().value!);
    this.plaintexts.set(row.id, secret);
    return secret;
  }
}
