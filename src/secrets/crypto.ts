import { randomBytes } from 'node:crypto';
import { Keyring } from './keyring.js';

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
 * AES-256-GCM under the master keys (see Keyring). The additional data
 * binds the ciphertext to its subscription, so that a row copied into
 * another subscription (another tenant's) does not decrypt there.
 */
export function encryptSecret(keys: Keyring | Buffer, secret: string, subscriptionId: string): Buffer {
  return ring(keys).seal(secret, secretData(subscriptionId));
}

/** The secret back; throws when the key, the subscription or the bytes are not the ones it was sealed with. */
export function decryptSecret(keys: Keyring | Buffer, sealed: Buffer, subscriptionId: string): string {
  return ring(keys).open(sealed, secretData(subscriptionId));
}

/**
 * A custom header value as stored: sealed like a signing secret, bound to
 * its subscription and header name, so that the delivery worker and ADMINs
 * can have it back and nothing else in the row gives it away.
 */
const SEALED_HEADER_PREFIX = 'sealed:';

export function isSealedHeaderValue(value: string): boolean {
  return value.startsWith(SEALED_HEADER_PREFIX);
}

export function sealHeaders(keys: Keyring | Buffer, subscriptionId: string, headers: Record<string, string>): Record<string, string> {
  const keyring = ring(keys);
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      isSealedHeaderValue(value) ? value : SEALED_HEADER_PREFIX + keyring.seal(value, headerData(subscriptionId, name)).toString('base64'),
    ]),
  );
}

/**
 * The header values in plaintext: what the delivery worker sends and an
 * ADMIN reads. A value that is not sealed (written before values were, and
 * not yet sealed by `hookline reencrypt-secrets`) is returned as it is.
 */
export function openHeaders(keys: Keyring | Buffer, subscriptionId: string, headers: Record<string, string>): Record<string, string> {
  const keyring = ring(keys);
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      isSealedHeaderValue(value)
        ? keyring.open(Buffer.from(value.slice(SEALED_HEADER_PREFIX.length), 'base64'), headerData(subscriptionId, name))
        : value,
    ]),
  );
}

/** True when every value is sealed under the current key in the current layout. */
export function headersAreCurrent(keyring: Keyring, headers: Record<string, string>): boolean {
  return Object.values(headers).every(
    (value) => isSealedHeaderValue(value) && keyring.isCurrent(Buffer.from(value.slice(SEALED_HEADER_PREFIX.length), 'base64')),
  );
}

function ring(keys: Keyring | Buffer): Keyring {
  return keys instanceof Keyring ? keys : new Keyring(keys);
}

function secretData(subscriptionId: string): Buffer {
  return Buffer.from(`hookline:signing-secret:${subscriptionId}`, 'utf8');
}

function headerData(subscriptionId: string, name: string): Buffer {
  return Buffer.from(`hookline:header:${subscriptionId}:${name.toLowerCase()}`, 'utf8');
}
