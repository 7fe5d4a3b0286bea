import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Environment } from '../../src/domain.js';
import { portalSigningKey, signLink, verifyLink, type LinkClaims } from '../../src/portal/link-token.js';

const master = Buffer.alloc(32, 1);
const key = portalSigningKey(master);
const claims: LinkClaims = {
  linkId: '01a2336d-f69a-77e5-9849-c69b1ad70449',
  accountId: '01a2336d-f69a-77e5-9849-c69b1ad70450',
  environment: Environment.STAGING,
  readOnly: true,
  expiresAt: 2_000_000_000,
};

describe('portal link tokens', () => {
  it('verify with the key that signed them, until they expire', () => {
    const token = signLink(key, claims);
    expect(verifyLink(key, token, 1_999_999_999)).toEqual({ ok: true, claims });
    expect(verifyLink(key, token, 2_000_000_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('derive a key of their own from the master key', () => {
    expect(key.equals(master)).toBe(false);
    expect(key).toHaveLength(32);
    expect(portalSigningKey(master).equals(key)).toBe(true);
    const other = portalSigningKey(Buffer.alloc(32, 2));
    expect(verifyLink(other, signLink(key, claims), 0)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuse any change to the payload or the signature', () => {
    const token = signLink(key, claims);
    const [payload, signature] = token.split('.') as [string, string];
    const changed = Buffer.from(
      JSON.stringify({ v: 1, id: claims.linkId, a: claims.accountId, e: 'PRODUCTION', r: true, x: claims.expiresAt }),
    ).toString('base64url');
    for (const bad of [
      `${changed}.${signature}`,
      `${payload}.${signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
      payload,
      `${payload}.`,
      '',
      'a.b.c',
    ]) {
      expect(verifyLink(key, bad, 0), bad).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('refuse a well-signed payload of the wrong shape', () => {
    const payload = Buffer.from(JSON.stringify({ v: 1, id: 'x', a: 'y', e: 'MOON', r: false, x: 2_000_000_000 })).toString('base64url');
    const signature = createHmac('sha256', key).update(payload).digest('base64url');
    expect(verifyLink(key, `${payload}.${signature}`, 0)).toEqual({ ok: false, reason: 'invalid' });
  });
});
