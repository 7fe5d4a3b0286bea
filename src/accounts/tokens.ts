import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const TOKEN_PREFIX = 'hkl_';
/** Characters of the token kept in clear, enough to recognise a key in a list. */
const VISIBLE_PREFIX_LENGTH = 12;

/** A new API token: 32 random bytes, base64url, behind a recognisable prefix. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function visiblePrefix(token: string): string {
  return token.slice(0, VISIBLE_PREFIX_LENGTH);
}

/** Constant-time comparison of a presented token's hash with a stored hash. */
export function hashesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
