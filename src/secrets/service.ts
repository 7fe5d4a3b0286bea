import type { DataSource, EntityManager } from 'typeorm';
import { SigningSecretEntity } from '../db/entities/index.js';
import { InputError } from '../errors.js';
import { newId } from '../ids.js';
import { decryptSecret, encryptSecret, generateSecret, secretHint, secretProblem } from './crypto.js';

/** How long a rotated-out secret keeps signing when the caller does not say (contract default). */
export const DEFAULT_EXPIRE_AFTER_SECONDS = 86_400;
/** A rotated-out secret keeps signing for at most this long. */
export const MAX_EXPIRE_AFTER_SECONDS = 30 * 24 * 3600;
/**
 * Every active secret adds a signature to every delivery; receivers and
 * proxies cap header sizes, so rotations that pile up are refused.
 */
export const MAX_ACTIVE_SECRETS = 10;

const ACTIVE = '(expires_at IS NULL OR expires_at > $2)';

/**
 * Signing secrets of subscriptions: stored encrypted (AES-256-GCM under the
 * master key), shown in plaintext only to the callers that need it (the
 * delivery worker, and ADMINs through the subscription service, which
 * checks the tenant first). Methods here take subscription ids that the
 * caller has already scoped.
 */
export class SecretService {
  constructor(
    private readonly db: DataSource,
    private readonly masterKey: Buffer,
  ) {}

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
  async rotate(
    manager: EntityManager,
    subscriptionId: string,
    expireAfterSeconds: number | null | undefined,
    secret: string,
  ): Promise<void> {
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

  /**
   * The whsec_ secrets that sign at `at` (default now), newest first: what
   * the delivery worker signs with. The subscription id must come from a
   * scoped lookup or from a delivery row.
   */
  async activeSecrets(subscriptionId: string, at: Date = new Date()): Promise<string[]> {
    const rows = await this.listActive(subscriptionId, at);
    return rows.map((row) => {
      try {
        return decryptSecret(this.masterKey, row.ciphertext, subscriptionId);
      } catch {
        // The usual cause is a changed HOOKLINE_MASTER_KEY; say so without any key material.
        throw new Error(`signing secret ${row.id} cannot be decrypted with the configured master key`);
      }
    });
  }
}
