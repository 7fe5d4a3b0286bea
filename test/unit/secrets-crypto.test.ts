import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateSecret, secretHint, secretProblem } from '../../src/secrets/crypto.js';

const masterKey = randomBytes(32);
const subscriptionId = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87';

describe('generateSecret', () => {
  it('is whsec_ and base64 of 32 random bytes', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(secretProblem(a)).toBeUndefined();
  });
});

describe('secretProblem', () => {
  const of = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;

  it('accepts whsec_ and padded base64 of 24 to 64 bytes', () => {
    for (const bytes of [24, 32, 48, 64]) expect(secretProblem(of(bytes))).toBeUndefined();
  });

  it.each([
    ['no prefix', randomBytes(32).toString('base64')],
    ['another prefix', `wh_${randomBytes(32).toString('base64')}`],
    ['too short', of(23)],
    ['too long', of(65)],
    ['not base64', 'whsec_this is not base64 at all, not even close!!'],
    ['base64url', `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}`],
    ['missing padding', `whsec_${randomBytes(32).toString('base64').replace(/=+$/, '')}`],
    ['empty', 'whsec_'],
  ])('refuses %s, without repeating the value', (_what, value) => {
    const problem = secretProblem(value);
    expect(problem).toMatch(/whsec_ followed by base64 of 24 to 64 bytes/);
    if (value.length > 8) expect(problem).not.toContain(value.slice(6, 20));
  });
});

describe('encryptSecret and decryptSecret', () => {
  it('give the secret back, and the stored bytes hold neither the secret nor its key', () => {
    const secret = generateSecret();
    const sealed = encryptSecret(masterKey, secret, subscriptionId);
    expect(decryptSecret(masterKey, sealed, subscriptionId)).toBe(secret);
    const key = Buffer.from(secret.slice(6), 'base64');
    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect(sealed.includes(key.subarray(0, 8))).toBe(false);
    expect(sealed.toString('hex')).not.toContain(Buffer.from(secret).toString('hex').slice(0, 16));
  });

  it('uses a fresh nonce each time', () => {
    const secret = generateSecret();
    expect(encryptSecret(masterKey, secret, subscriptionId).equals(encryptSecret(masterKey, secret, subscriptionId))).toBe(false);
  });

  it('refuses another master key, another subscription, and altered bytes', () => {
    const sealed = encryptSecret(masterKey, generateSecret(), subscriptionId);
    expect(() => decryptSecret(randomBytes(32), sealed, subscriptionId)).toThrow();
    expect(() => decryptSecret(masterKey, sealed, '0190f5a2-7c1e-7b4e-9a51-000000000000')).toThrow();
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(() => decryptSecret(masterKey, altered, subscriptionId)).toThrow();
    expect(() => decryptSecret(masterKey, sealed.subarray(0, 20), subscriptionId)).toThrow(/truncated/);
  });
});

describe('secretHint', () => {
  it('is the last four characters', () => {
    expect(secretHint('whsec_abcdefgh1234')).toBe('1234');
  });
});
