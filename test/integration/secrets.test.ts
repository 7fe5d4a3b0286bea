import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { getNamedType, isObjectType } from 'graphql';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/delivery-engine/signing.js';
import { buildHooklineSchema } from '../../src/graphql/schema.js';
import { createAccount, startTestApp, type TestApp } from '../support/app.js';
import { GET, REVEAL, ROTATE, createSubscription, errorOf, expectBadInput, type Subscription } from '../support/subscriptions.js';

interface Rotated {
  rotateWebhookSecret: { secret: string; subscription: Subscription };
}

describe('signing secrets', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: admin } = await createAccount(t, 'Secrets'));
  });
  afterAll(async () => {
    await t?.stop();
  });

  const reveal = async (id: string) => (await t.ok<{ webhookSecrets: string[] }>(admin, REVEAL, { id })).webhookSecrets;
  const rotate = async (id: string, variables: { expire?: number; secret?: string } = {}) =>
    (await t.ok<Rotated>(admin, ROTATE, { id, ...variables })).rotateWebhookSecret;

  it('rotates: the new secret signs at once and the old one beside it until it expires, a day by default', async () => {
    const { subscription, secret: first } = await createSubscription(t, admin, {});
    expect(await reveal(subscription.id)).toEqual([first]);

    const before = Date.now();
    const rotated = await rotate(subscription.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(first);
    expect(await reveal(subscription.id)).toEqual([rotated.secret, first]);
    expect(await t.app.services.secrets.activeSecrets(subscription.id)).toEqual([rotated.secret, first]);

    const [newest, oldest] = rotated.subscription.secrets;
    expect(rotated.subscription.secrets).toHaveLength(2);
    expect(newest).toMatchObject({ hint: rotated.secret.slice(-4), expiresAt: null });
    expect(oldest!.hint).toBe(first.slice(-4));
    const expiresIn = new Date(oldest!.expiresAt!).getTime() - before;
    expect(expiresIn).toBeGreaterThan(86_400_000 - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(86_400_000 + 60_000);

    // What the delivery worker does with them: a receiver holding either secret verifies.
    const body = JSON.stringify({ event: 'invoices.paid', data: { invoiceId: 'INV1' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'delivery-1',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({
        id: 'delivery-1',
        timestamp,
        body,
        secrets: await t.app.services.secrets.activeSecrets(subscription.id),
      }),
    };
    expect(() => new Webhook(first).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(rotated.secret).verify(body, headers)).not.toThrow();
  });

  it('stops the old secret at once with expireCurrentAfterSeconds: 0', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    const rotated = await rotate(subscription.id, { expire: 0 });
    expect(await reveal(subscription.id)).toEqual([rotated.secret]);
    expect(rotated.subscription.secrets.map((s) => s.hint)).toEqual([rotated.secret.slice(-4)]);
  });

  it('stops the old secret once expireCurrentAfterSeconds has passed', async () => {
    const { subscription, secret: first } = await createSubscription(t, admin, {});
    const rotated = await rotate(subscription.id, { expire: 1 });
    expect(await reveal(subscription.id)).toEqual([rotated.secret, first]);
    await sleep(1_100);
    expect(await reveal(subscription.id)).toEqual([rotated.secret]);
    const after = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscription.id });
    expect(after.webhookSubscription.secrets).toHaveLength(1);
  });

  it('never extends the life of a secret that is already on its way out', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    const second = await rotate(subscription.id, { expire: 3600 });
    const firstExpiry = second.subscription.secrets[1]!.expiresAt!;
    const third = await rotate(subscription.id, { expire: 86_400 });
    const [, secondMeta, firstMeta] = third.subscription.secrets;
    expect(third.subscription.secrets).toHaveLength(3);
    expect(firstMeta!.expiresAt).toBe(firstExpiry);
    expect(new Date(secondMeta!.expiresAt!).getTime()).toBeGreaterThan(new Date(firstExpiry).getTime());
  });

  it('rotates to a secret brought by the user, and refuses a malformed one or a bad expiry without changing anything', async () => {
    const { subscription, secret: first } = await createSubscription(t, admin, {});
    const brought = `whsec_${randomBytes(48).toString('base64')}`;
    expect((await rotate(subscription.id, { secret: brought, expire: 0 })).secret).toBe(brought);

    const bad = await t.gql(admin, ROTATE, { id: subscription.id, secret: `whsec_${randomBytes(8).toString('base64')}` });
    expectBadInput(bad, 'secret');
    expectBadInput(await t.gql(admin, ROTATE, { id: subscription.id, expire: -1 }), 'expireCurrentAfterSeconds');
    expectBadInput(await t.gql(admin, ROTATE, { id: subscription.id, expire: 31 * 86_400 }), 'expireCurrentAfterSeconds');
    expect(await reveal(subscription.id)).toEqual([brought]);
    expect(await reveal(subscription.id)).not.toContain(first);
  });

  it('refuses to pile up more than ten secrets signing at once', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    for (let i = 0; i < 9; i++) await rotate(subscription.id);
    expect(await reveal(subscription.id)).toHaveLength(10);
    const refused = await t.gql(admin, ROTATE, { id: subscription.id });
    expectBadInput(refused, 'expireCurrentAfterSeconds');
    expect(await reveal(subscription.id)).toHaveLength(10);
    const now = await rotate(subscription.id, { expire: 0 });
    expect(await reveal(subscription.id)).toEqual([now.secret]);
  });

  it('stores no secret in plaintext: a dump of the tables holds none of them', async () => {
    const created = await createSubscription(t, admin, { headers: { 'x-tenant': 'acme' } });
    const brought = `whsec_${randomBytes(32).toString('base64')}`;
    const own = await createSubscription(t, admin, { sharedSecret: brought });
    const rotated = await rotate(created.subscription.id, { expire: 3600 });
    const secrets = [created.secret, brought, rotated.secret, ...(await reveal(own.subscription.id))];

    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    let dump: string;
    try {
      const rows = await client.query(
        `SELECT row_to_json(s)::text AS row FROM signing_secrets s
         UNION ALL SELECT row_to_json(w)::text FROM webhook_subscriptions w`,
      );
      dump = rows.rows.map((r: { row: string }) => r.row).join('\n');
      const count = await client.query(`SELECT count(*)::int AS n FROM signing_secrets WHERE subscription_id = ANY($1::uuid[])`, [
        [created.subscription.id, own.subscription.id],
      ]);
      expect(count.rows[0].n).toBe(3);
    } finally {
      await client.end();
    }
    expect(dump).toContain(created.subscription.id);
    for (const secret of secrets) {
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice('whsec_'.length, 'whsec_'.length + 16));
      expect(dump).not.toContain(key.toString('hex').slice(0, 16));
    }
  });

  it('shows plaintext secrets only in the one-time secret fields and webhookSecrets', async () => {
    const schema = await buildHooklineSchema();
    const exposing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (/secret|ciphertext|hash/i.test(field.name) && getNamedType(field.type).name === 'String') exposing.push(`${type.name}.${field.name}`);
      }
    }
    // The audit log's chain hashes are HMACs that a customer keeps outside Hookline, not secrets.
    expect(exposing.sort()).toEqual([
      'AuditEntry.hash',
      'AuditVerification.headHash',
      'CreatedWebhookSubscription.secret',
      'Query.webhookSecrets',
      'RotatedSecret.secret',
    ]);
    const signingSecret = schema.getType('SigningSecret');
    expect(isObjectType(signingSecret) && Object.keys(signingSecret.getFields()).sort()).toEqual(['createdAt', 'expiresAt', 'hint', 'id']);
  });

  it('cannot read secrets with another master key', async () => {
    const { subscription } = await createSubscription(t, admin, {});
    const { SecretService } = await import('../../src/secrets/service.js');
    const wrongKey = new SecretService(t.app.db, randomBytes(32));
    const failure = await wrongKey.activeSecrets(subscription.id).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/cannot be decrypted with the configured master key/);
    expect(errorOf(await t.gql(admin, REVEAL, { id: 'not-a-uuid' })).code).toBe('NOT_FOUND');
  });
});
