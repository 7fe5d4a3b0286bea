import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Signing secrets: their format, and their encryption at rest. Pure, apart
 * from the randomness.
 */

export const SECRET_PREFIX = 'whsec_';
const GENERATED_BYTES = 32;
/** Bounds of a brought secret (contract: base64 of 24 to 64 bytes). */
const MIN_BYTES = 24;
const MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A new secret: whsec_ and base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_BYTES).toString('base64');
}

/**
 * Why a secret brought by the user is unusable, or undefined when it is fine.
 * Padded, canonical base64 only: receivers' Standard Webhooks libraries
 * decode the secret themselves, and some refuse anything else. The message
 * never repeats the value.
 */
export function secretProblem(value: string): string | undefined {
  const shape = `must be ${SECRET_PREFIX} followed by base64 of ${MIN_BYTES} to ${MAX_BYTES} bytes`;
  if (!value.startsWith(SECRET_PREFIX)) return shape;
  const encoded = value.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return shape;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return shape;
  if (bytes.length < MIN_BYTES || bytes.length > MAX_BYTES) return `${shape}; it holds ${bytes.length} bytes`;
  return undefined;
}

/** What the API shows of a secret: its last four characters. */
export function secretHint(secret: string): string {
  return secret.slice(-4);
}

/**
 * AES-256-GCM under the master key. The additional data binds the
 * ciphertext to its subscription, so that a row copied into another
 * subscription (another tenant's) does not decrypt there.
 * Layout: nonce (12 bytes), tag (16 bytes), ciphertext.
 */
export function encryptSecret(masterKey: Buffer, secret: string, subscriptionId: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', masterKey, nonce);
  cipher.setAAD(additionalData(subscriptionId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]);
}

/** The secret back; throws when the key, the subscription or the bytes are not the ones it was sealed with. */
export function decryptSecret(masterKey: Buffer, sealed: Buffer, subscriptionId: string): string {
  if (sealed.length <= NONCE_BYTES + TAG_BYTES) throw new Error('sealed signing secret is truncated');
  const decipher = createDecipheriv('aes-256-gcm', masterKey, sealed.subarray(0, NONCE_BYTES));
  decipher.setAAD(additionalData(subscriptionId));
  decipher.setAuthTag(sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

function additionalData(subscriptionId: string): Buffer {
  return Buffer.from(`hookline:signing-secret:${subscriptionId}`, 'utf8');
}
