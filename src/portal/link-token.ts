import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Environment } from '../domain.js';

/**
 * Portal link tokens: `<payload>.<signature>`, both base64url. The payload
 * names the link, its account and environment, whether it is read-only and
 * when it expires; the signature is HMAC-SHA256 under a key derived from
 * the master key, so that a token cannot be made or changed without it.
 * Pure apart from the key derivation.
 */

export interface LinkClaims {
  /** The portal_links row that makes the link single-use. */
  linkId: string;
  accountId: string;
  environment: Environment;
  readOnly: boolean;
  /** Seconds since the epoch. */
  expiresAt: number;
}

const VERSION = 1;
/** HKDF info: a portal key is never the key of anything else derived from the master key. */
const KEY_INFO = 'hookline:portal-link-signing:v1';

/** The HMAC key for portal links, derived from the master key's bytes. */
export function portalSigningKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), KEY_INFO, 32));
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload, 'utf8').digest('base64url');
}

export function signLink(key: Buffer, claims: LinkClaims): string {
  const payload = Buffer.from(
    JSON.stringify({ v: VERSION, id: claims.linkId, a: claims.accountId, e: claims.environment, r: claims.readOnly, x: claims.expiresAt }),
    'utf8',
  ).toString('base64url');
  return `${payload}.${sign(key, payload)}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'invalid' | 'expired' };

/** Verifies the signature first, then the shape, then the expiry (at `nowSeconds`). */
export function verifyLink(key: Buffer, token: string, nowSeconds: number): LinkCheck {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { ok: false, reason: 'invalid' };
  const [payload, signature] = parts as [string, string];
  const expected = Buffer.from(sign(key, payload), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid' };
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  const b = body as Record<string, unknown>;
  if (
    b.v !== VERSION ||
    typeof b.id !== 'string' ||
    typeof b.a !== 'string' ||
    (b.e !== Environment.STAGING && b.e !== Environment.PRODUCTION) ||
    typeof b.r !== 'boolean' ||
    typeof b.x !== 'number'
  ) {
    return { ok: false, reason: 'invalid' };
  }
  if (b.x <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { linkId: b.id, accountId: b.a, environment: b.e, readOnly: b.r, expiresAt: b.x } };
}
