import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalForm, canonicalJson, chainMessage, deriveAuditKeys, Hmac, hmacHex } from '../../src/audit/canonical.js';

describe('the canonical form of an audit entry', () => {
  it('sorts keys at every depth, leaves out undefined members and writes times in UTC with milliseconds', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'é' }], c: undefined }, t: new Date(Date.UTC(2026, 10, 23, 10)) })).toBe(
      '{"a":{"d":[1,{"y":"é","z":null}]},"b":1,"t":"2026-11-23T10:00:00.000Z"}',
    );
  });

  it('is the documented shape, the same after a round trip through JSON', () => {
    const entry = {
      id: 'e1',
      accountId: 'a1',
      environment: 'PRODUCTION',
      at: new Date('2026-11-23T10:00:00.123Z'),
      actorKind: 'API_KEY',
      actorApiKeyId: 'k1',
      actorSessionId: null,
      actorName: null,
      action: 'subscription.updated',
      targetType: 'subscription',
      targetId: 's1',
      changes: { url: { before: 'https://a.example/', after: 'https://b.example/' }, enabled: { after: true, before: false } },
    };
    const canonical = canonicalForm(entry);
    expect(canonical).toBe(
      '{"account":"a1","action":"subscription.updated","actor":{"apiKeyId":"k1","kind":"API_KEY","name":null,"sessionId":null},' +
        '"at":"2026-11-23T10:00:00.123Z","changes":{"enabled":{"after":true,"before":false},"url":{"after":"https://b.example/","before":"https://a.example/"}},' +
        '"environment":"PRODUCTION","id":"e1","target":{"id":"s1","type":"subscription"}}',
    );
    expect(canonicalForm({ ...entry, changes: JSON.parse(JSON.stringify(entry.changes)) as typeof entry.changes })).toBe(canonical);
  });

  it('chains with HMAC-SHA256 under keys derived apart from the master key', () => {
    const keys = deriveAuditKeys(Buffer.alloc(32, 7));
    expect(keys.entry.equals(keys.checkpoint)).toBe(false);
    expect(keys.entry.equals(Buffer.alloc(32, 7))).toBe(false);
    const message = chainMessage(2, 'ab', '{}');
    expect(message).toBe('hookline-audit-v1\n2\nab\n{}');
    const expected = createHmac('sha256', keys.entry).update(message).digest('hex');
    expect(hmacHex(keys.entry, message)).toBe(expected);
    const mac = new Hmac(keys.entry);
    expect(mac.hex(message)).toBe(expected);
    expect(mac.hex(message)).toBe(expected);
  });
});
