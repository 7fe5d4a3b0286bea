import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { SECRET_PREFIX } from '../secrets/crypto.js';

/**
 * Standard Webhooks signatures: HMAC-SHA256 over
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded
 * part of the `whsec_` secret, sent as `v1,<base64>`; one per active secret,
 * space separated, so that a receiver holding either the old or the new
 * secret verifies during a rotation.
 */

/** The HMAC key of a `whsec_` secret. */
export function signingKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a signing secret starts with whsec_');
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length === 0) throw new Error('a signing secret holds base64 after whsec_');
  return key;
}

/**
 * HMAC keys by secret. Node turns a Buffer key into a KeyObject on every
 * createHmac, which costs seven times the HMAC of a typical body; a worker
 * signs with the same few secrets all day.
 */
const keyObjects = new Map<string, KeyObject>();
const KEY_CACHE_SIZE = 10_000;

function hmacKey(secret: string): KeyObject {
  let key = keyObjects.get(secret);
  if (!key) {
    key = createSecretKey(signingKey(secret));
    if (keyObjects.size >= KEY_CACHE_SIZE) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(secret, key);
  }
  return key;
}

/** One `v1,<base64>` signature of the content with one secret. */
export function signature(secret: string, content: Buffer): string {
  return `v1,${createHmac('sha256', hmacKey(secret)).update(content).digest('base64')}`;
}

export interface SignatureInput {
  /** The webhook-id header: the delivery id. */
  id: string;
  /** The webhook-timestamp header: whole seconds since the epoch. */
  timestamp: number;
  /** The request body exactly as sent. */
  body: string | Buffer;
  /** Active secrets, newest first. */
  secrets: readonly string[];
}

/** The webhook-signature header value. */
export function signatureHeader({ id, timestamp, body, secrets }: SignatureInput): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new Error('the timestamp is whole seconds since the epoch');
  // An unsigned delivery would be rejected by every receiver; better to fail here, loudly.
  if (secrets.length === 0) throw new Error('a delivery needs at least one active signing secret');
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
  return secrets.map((secret) => signature(secret, content)).join(' ');
}
