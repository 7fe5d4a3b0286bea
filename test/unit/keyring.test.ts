import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateSecret, openHeaders, sealHeaders } from '../../src/secrets/crypto.js';
import { Keyring, keyIdOf } from '../../src/secrets/keyring.js';

const subscriptionId = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87';
const aad = Buffer.from(`hookline:signing-secret:${subscriptionId}`);

/** The layout written before ciphertexts named their key: nonce, tag, ciphertext. */
function legacySeal(key: Buffer, plaintext: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]);
}

describe('Keyring', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('names the sealing key: version byte, then the first 8 bytes of its SHA-256', () => {
    const sealed = encryptSecret(new Keyring(newKey), generateSecret(), subscriptionId);
    expect(sealed[0]).toBe(1);
    expect(sealed.subarray(1, 9)).toEqual(keyIdOf(newKey));
    expect(sealed.includes(newKey.subarray(0, 8))).toBe(false);
  });

  it('opens values sealed under a previous key, and tells them from current ones', () => {
    const secret = generateSecret();
    const sealedOld = encryptSecret(new Keyring(oldKey), secret, subscriptionId);
    const rotated = new Keyring(newKey, [oldKey]);
    expect(decryptSecret(rotated, sealedOld, subscriptionId)).toBe(secret);
    expect(rotated.isCurrent(sealedOld)).toBe(false);
    expect(rotated.isCurrent(encryptSecret(rotated, secret, subscriptionId))).toBe(true);
    expect(() => decryptSecret(new Keyring(newKey), sealedOld, subscriptionId)).toThrow(/does not open with any configured master key/);
  });

  it('still opens the layout without a key id, under the current or a previous key', () => {
    const secret = generateSecret();
    expect(decryptSecret(new Keyring(oldKey), legacySeal(oldKey, secret), subscriptionId)).toBe(secret);
    expect(decryptSecret(new Keyring(newKey, [oldKey]), legacySeal(oldKey, secret), subscriptionId)).toBe(secret);
    expect(new Keyring(oldKey).isCurrent(legacySeal(oldKey, secret))).toBe(false);
  });

  it('seals header values bound to their subscription and name', () => {
    const keyring = new Keyring(newKey);
    const sealed = sealHeaders(keyring, subscriptionId, { authorization: 'Bearer abc', 'x-key': 'k' });
    expect(JSON.stringify(sealed)).not.toContain('Bearer abc');
    expect(openHeaders(keyring, subscriptionId, sealed)).toEqual({ authorization: 'Bearer abc', 'x-key': 'k' });
    // A value moved to another header or another subscription does not open.
    expect(() => openHeaders(keyring, subscriptionId, { 'x-key': sealed.authorization! })).toThrow();
    expect(() => openHeaders(keyring, '0190f5a2-7c1e-7b4e-9a51-000000000000', sealed)).toThrow();
    // Sealing is idempotent: a sealed value is not sealed twice.
    expect(sealHeaders(keyring, subscriptionId, sealed)).toEqual(sealed);
  });
});
