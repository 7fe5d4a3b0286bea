import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/delivery-engine/signing.js';
import { generateSecret } from '../../src/secrets/crypto.js';

/** What a receiver gets: the headers of docs/api.md (The wire format) beside the body. */
function delivery(secrets: string[], body = JSON.stringify({ event: 'invoices.paid', data: { invoiceId: 'INV12345', amount: 10.5 } })) {
  const id = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87';
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader({ id, timestamp, body, secrets }),
  };
  return { id, timestamp, body, headers };
}

describe('signatureHeader', () => {
  it('verifies with the standardwebhooks library for one secret', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('gives the signature that the library itself computes', () => {
    const secret = generateSecret();
    const { id, timestamp, body, headers } = delivery([secret]);
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign(id, new Date(timestamp * 1000), body));
  });

  it('signs with every secret during a rotation, so that a receiver with either one verifies', () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const { body, headers } = delivery([newSecret, oldSecret]);
    const parts = headers['webhook-signature'].split(' ');
    expect(parts).toHaveLength(2);
    expect(parts.every((p) => p.startsWith('v1,'))).toBe(true);
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('verifies with secrets brought by users, of 24 and 64 bytes', () => {
    for (const size of [24, 64]) {
      const secret = `whsec_${randomBytes(size).toString('base64')}`;
      const { body, headers } = delivery([secret]);
      expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    }
  });

  it('fails verification with a wrong secret', () => {
    const { body, headers } = delivery([generateSecret()]);
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow(WebhookVerificationError);
  });

  it('fails verification when the body, the id or the timestamp was changed', () => {
    const secret = generateSecret();
    const { body, headers } = delivery([secret]);
    const webhook = new Webhook(secret);
    expect(() => webhook.verify(body.replace('10.5', '1000.5'), headers)).toThrow(WebhookVerificationError);
    expect(() => webhook.verify(body, { ...headers, 'webhook-id': 'another-id' })).toThrow(WebhookVerificationError);
    const earlier = String(Number(headers['webhook-timestamp']) - 1);
    expect(() => webhook.verify(body, { ...headers, 'webhook-timestamp': earlier })).toThrow(WebhookVerificationError);
  });

  it('signs the bytes of the body: a Buffer and its string give the same header', () => {
    const secret = generateSecret();
    const body = '<webhook><event>invoices.paid</event><message>Facture payée</message></webhook>';
    const args = { id: 'msg_1', timestamp: 1_700_000_000, secrets: [secret] };
    expect(signatureHeader({ ...args, body: Buffer.from(body, 'utf8') })).toBe(signatureHeader({ ...args, body }));
  });

  it('refuses to sign with no secret or a timestamp that is not whole seconds', () => {
    expect(() => signatureHeader({ id: 'x', timestamp: 1, body: '{}', secrets: [] })).toThrow(/at least one active signing secret/);
    expect(() => signatureHeader({ id: 'x', timestamp: 1_700_000_000.5, body: '{}', secrets: [generateSecret()] })).toThrow(/whole seconds/);
    expect(() => signatureHeader({ id: 'x', timestamp: 1, body: '{}', secrets: ['not-a-secret'] })).toThrow(/whsec_/);
  });
});
