import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { migrations } from '../../migrations/index.js';
import { SealedHeadersAndSettings1795000000030 } from '../../migrations/1795000000030-sealed-headers-and-settings.js';
import { openHeaders } from '../../src/secrets/crypto.js';
import { Keyring, keyIdOf } from '../../src/secrets/keyring.js';
import { TEST_RATE_LIMITS, createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { CREATE, GET, REVEAL, type Subscription } from '../support/subscriptions.js';

const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;
const HEADER_SECRET = 'Bearer receiver-credential-0123456789abcdef';

describe('secrets and header values at rest', () => {
  let t: TestApp;
  let receiver: Receiver;
  let admin: string;
  let viewer: string;
  let sql: pg.Client;
  const oldKey = Buffer.alloc(32, 7);
  const newKey = randomBytes(32);

  beforeAll(async () => {
    t = await startTestApp();
    receiver = await startReceiver();
    ({ adminToken: admin } = await createAccount(t, 'Sealed'));
    viewer = await createKey(t, admin, 'VIEWER');
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await receiver?.close();
    await t?.stop();
  });

  async function create(input: Record<string, unknown>): Promise<{ subscription: Subscription; secret: string }> {
    const data = await t.ok<{ createWebhookSubscription: { subscription: Subscription; secret: string } }>(admin, CREATE, {
      input: { url: `${receiver.url}/hook`, channels: ['invoices'], ...input },
    });
    return data.createWebhookSubscription;
  }

  it('stores header values sealed, sends them in plaintext, and shows them to an ADMIN only', async () => {
    const { subscription, secret } = await create({
      url: `${receiver.url}/hook?token=endpoint-token-42&tenant=7`,
      headers: { authorization: HEADER_SECRET, 'x-tenant': 'acme' },
    });
    expect(subscription.headers).toEqual({ authorization: HEADER_SECRET, 'x-tenant': 'acme' });

    const { rows } = await sql.query<{ headers: Record<string, string> }>('SELECT headers FROM webhook_subscriptions WHERE id = $1', [
      subscription.id,
    ]);
    expect(Object.keys(rows[0]!.headers).sort()).toEqual(['authorization', 'x-tenant']);
    expect(JSON.stringify(rows[0]!.headers)).not.toContain('receiver-credential');
    expect(JSON.stringify(rows[0]!.headers)).not.toContain('acme');

    const asViewer = await t.ok<{ webhookSubscription: Subscription }>(viewer, GET, { id: subscription.id });
    expect(asViewer.webhookSubscription.headers).toEqual({ authorization: '[redacted]', 'x-tenant': '[redacted]' });
    expect(asViewer.webhookSubscription.url).toBe(`${receiver.url}/hook?token=%5Bredacted%5D&tenant=%5Bredacted%5D`);
    const asAdmin = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscription.id });
    expect(asAdmin.webhookSubscription.url).toBe(`${receiver.url}/hook?token=endpoint-token-42&tenant=7`);
    expect(asAdmin.webhookSubscription.headers).toEqual({ authorization: HEADER_SECRET, 'x-tenant': 'acme' });

    receiver.setSecrets(secret);
    await t.ok(admin, 'mutation { publishEvent(input: { type: "invoices.created", data: { invoiceId: "INV1" } }) { event { id } } }');
    const [request] = await receiver.waitFor(1);
    expect(request!.headers.authorization).toBe(HEADER_SECRET);
    expect(request!.headers['x-tenant']).toBe('acme');
    expect(request!.verified).toBe(true);
  });

  it('names the sealing key in every ciphertext, opens the previous key after a rotation, and re-encrypts on command', async () => {
    const { subscription, secret } = await create({ headers: { authorization: HEADER_SECRET } });
    const keyIds = async () =>
      (await sql.query<{ key_id: string }>(`SELECT encode(substring(ciphertext from 2 for 8), 'hex') AS key_id FROM signing_secrets`)).rows.map(
        (r) => r.key_id,
      );
    expect(new Set(await keyIds())).toEqual(new Set([keyIdOf(oldKey).toString('hex')]));

    const env = (extra: Record<string, string>) => ({
      NODE_ENV: 'test',
      DATABASE_URL: t.database.url,
      PORT: '0',
      HOOKLINE_ALLOW_PRIVATE_URLS: 'true',
      ...TEST_RATE_LIMITS,
      ...extra,
    });
    const logger = createLogger('silent');
    const withApp = async (extra: Record<string, string>, work: (app: RunningApp, url: string) => Promise<void>) => {
      const app = await startApp({ config: loadConfig(env(extra)), logger, role: 'api', migrate: false });
      try {
        await work(app, `http://127.0.0.1:${app.port}/graphql`);
      } finally {
        await app.stop();
      }
    };
    const ask = async (url: string, query: string, variables: Record<string, unknown>) =>
      (await (
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify({ query, variables }),
        })
      ).json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string; extensions: { code: string } }> };

    // A process with the new key alone cannot open what the old key sealed, and says nothing of it.
    await withApp({ HOOKLINE_MASTER_KEY: newKey.toString('base64') }, async (_app, url) => {
      const result = await ask(url, REVEAL, { id: subscription.id });
      expect(result.errors?.[0]?.extensions.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(result)).not.toContain(secret);
    });
    const rotated = { HOOKLINE_MASTER_KEY: newKey.toString('base64'), HOOKLINE_MASTER_KEY_PREVIOUS: oldKey.toString('base64') };
    await withApp(rotated, async (_app, url) => {
      expect((await ask(url, REVEAL, { id: subscription.id })).data).toEqual({ webhookSecrets: [secret] });
      expect(((await ask(url, GET, { id: subscription.id })).data!.webhookSubscription as Subscription).headers).toEqual({
        authorization: HEADER_SECRET,
      });
    });

    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'reencrypt-secrets'], {
      env: { ...process.env, ...env(rotated), LOG_LEVEL: 'error' },
    });
    expect(stdout).toMatch(
      new RegExp(`re-encrypted under key ${keyIdOf(newKey).toString('hex')}: [1-9]\\d* signing secrets, the headers of [1-9]\\d* subscriptions`),
    );
    expect(new Set(await keyIds())).toEqual(new Set([keyIdOf(newKey).toString('hex')]));

    // Afterwards the new key alone opens everything.
    await withApp({ HOOKLINE_MASTER_KEY: newKey.toString('base64') }, async (_app, url) => {
      expect((await ask(url, REVEAL, { id: subscription.id })).data).toEqual({ webhookSecrets: [secret] });
      expect(((await ask(url, GET, { id: subscription.id })).data!.webhookSubscription as Subscription).headers).toEqual({
        authorization: HEADER_SECRET,
      });
    });
  });
});

describe('the migration that seals header values', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('seals the values stored before under the current key, and needs the key only when there are some', async () => {
    const db = createDataSource({ url: database.url, poolSize: 1 });
    await db.initialize();
    try {
      await runMigrations(db);
      // Back to the schema just before the sealing migration: the ones after it go first.
      const later = migrations.slice(migrations.indexOf(SealedHeadersAndSettings1795000000030));
      for (let i = 0; i < later.length; i++) await db.undoLastMigration({ transaction: 'each' });
      const accountId = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a80';
      const subscriptionId = '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a81';
      await db.query(`INSERT INTO accounts (id, name) VALUES ($1, 'Before')`, [accountId]);
      await db.query(
        `INSERT INTO webhook_subscriptions (id, account_id, environment, url, channels, retry_schedule, headers)
         VALUES ($1, $2, 'PRODUCTION', 'https://example.com/', '{invoices}', '{5}', $3::jsonb)`,
        [subscriptionId, accountId, JSON.stringify({ authorization: HEADER_SECRET })],
      );
      await expect(runMigrations(db)).rejects.toThrow(/needs the master key/);
      const keyring = new Keyring(Buffer.alloc(32, 3));
      expect(await runMigrations(db, keyring)).toEqual(later.map((m) => m.name));
      const [row] = (await db.query('SELECT headers FROM webhook_subscriptions WHERE id = $1', [subscriptionId])) as Array<{
        headers: Record<string, string>;
      }>;
      expect(JSON.stringify(row!.headers)).not.toContain('receiver-credential');
      expect(openHeaders(keyring, subscriptionId, row!.headers)).toEqual({ authorization: HEADER_SECRET });
    } finally {
      await db.destroy();
    }
  });
});
