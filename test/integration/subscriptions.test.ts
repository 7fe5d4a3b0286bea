import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import {
  CREATE,
  DELETE,
  GET,
  LIST,
  REVEAL,
  ROTATE,
  UPDATE,
  createSubscription,
  errorOf,
  expectBadInput,
  type Subscription,
} from '../support/subscriptions.js';

const DEFAULT_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

describe('webhook subscriptions', () => {
  let t: TestApp;
  let admin: string;
  let sql: pg.Client;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: admin } = await createAccount(t, 'Subscriber'));
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await t?.stop();
  });

  const create = (input: Record<string, unknown>, token = admin) =>
    t.gql(token, CREATE, { input: { url: 'http://127.0.0.1:9/hook', channels: ['invoices'], ...input } });
  const update = (id: string, input: Record<string, unknown>, token = admin) =>
    t.gql<{ updateWebhookSubscription: Subscription }>(token, UPDATE, { id, input });

  describe('createWebhookSubscription', () => {
    it('creates a subscription with the defaults and shows its secret once', async () => {
      const { subscription, secret } = await createSubscription(t, admin, {
        url: 'http://127.0.0.1:8080/webhooks/hookline',
        channels: ['invoices', 'disputes'],
        description: 'Receivables sync',
      });
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(subscription).toMatchObject({
        url: 'http://127.0.0.1:8080/webhooks/hookline',
        description: 'Receivables sync',
        channels: ['invoices', 'disputes'],
        events: [],
        environment: 'PRODUCTION',
        enabled: true,
        disabledReason: null,
        payloadFormat: 'ENVELOPE',
        retrySchedule: DEFAULT_SCHEDULE,
        headers: null,
        rateLimitPerSecond: null,
      });
      expect(subscription.secrets).toHaveLength(1);
      expect(subscription.secrets[0]).toMatchObject({ hint: secret.slice(-4), expiresAt: null });

      const again = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscription.id });
      expect(again.webhookSubscription).toEqual(subscription);
      expect(JSON.stringify(again)).not.toContain(secret.slice(6));
    });

    it('stores every option it is given', async () => {
      const { subscription } = await createSubscription(t, admin, {
        url: 'https://Receiver.Example.com:8443/in?source=hookline',
        channels: ['invoices'],
        events: ['invoices.paid', 'invoices.payment_failed'],
        payloadFormat: 'XML',
        retrySchedule: [],
        headers: { authorization: 'Bearer receiver-token', 'X-Tenant': 'acme' },
        rateLimitPerSecond: 10_000,
      });
      expect(subscription).toMatchObject({
        // Stored as the URL parser (the one the delivery client uses) reads it.
        url: 'https://receiver.example.com:8443/in?source=hookline',
        events: ['invoices.paid', 'invoices.payment_failed'],
        payloadFormat: 'XML',
        retrySchedule: [],
        headers: { authorization: 'Bearer receiver-token', 'X-Tenant': 'acme' },
        rateLimitPerSecond: 10_000,
      });
      const bounds = await createSubscription(t, admin, { retrySchedule: [1, 86_400], rateLimitPerSecond: 1 });
      expect(bounds.subscription).toMatchObject({ retrySchedule: [1, 86_400], rateLimitPerSecond: 1 });
    });

    it('accepts a secret brought by the user and signs with it', async () => {
      const brought = `whsec_${randomBytes(24).toString('base64')}`;
      const { subscription, secret } = await createSubscription(t, admin, { sharedSecret: brought });
      expect(secret).toBe(brought);
      expect((await t.ok<{ webhookSecrets: string[] }>(admin, REVEAL, { id: subscription.id })).webhookSecrets).toEqual([brought]);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['a URL that does not parse', { url: 'not a url' }, 'input.url'],
      ['a relative URL', { url: '/webhooks' }, 'input.url'],
      ['another scheme', { url: 'ftp://example.com/in' }, 'input.url'],
      ['credentials in the URL', { url: 'https://user:pass@example.com/in' }, 'input.url'],
      ['a URL over 2048 characters', { url: `https://example.com/${'a'.repeat(2030)}` }, 'input.url'],
      ['a description over 500 characters', { description: 'd'.repeat(501) }, 'input.description'],
      ['no channel', { channels: [] }, 'input.channels'],
      ['an unknown channel', { channels: ['invoices', 'invoicez'] }, 'input.channels'],
      ['a channel given twice', { channels: ['invoices', 'invoices'] }, 'input.channels'],
      ['an unknown event', { events: ['invoices.exploded'] }, 'input.events'],
      ['an event of a channel not subscribed', { events: ['bills.created'] }, 'input.events'],
      ['an event given twice', { events: ['invoices.paid', 'invoices.paid'] }, 'input.events'],
      ['a zero wait', { retrySchedule: [0] }, 'input.retrySchedule'],
      ['a negative wait', { retrySchedule: [5, -300] }, 'input.retrySchedule'],
      ['a wait over a day', { retrySchedule: [86_401] }, 'input.retrySchedule'],
      ['more than 20 retries', { retrySchedule: Array.from({ length: 21 }, () => 60) }, 'input.retrySchedule'],
      ['a content-type header', { headers: { 'Content-Type': 'text/plain' } }, 'input.headers'],
      ['a user-agent header', { headers: { 'user-agent': 'me' } }, 'input.headers'],
      ['a webhook-signature header', { headers: { 'webhook-signature': 'v1,forged' } }, 'input.headers'],
      ['a webhook-id header', { headers: { 'Webhook-Id': 'x' } }, 'input.headers'],
      ['a webhook-timestamp header', { headers: { 'webhook-timestamp': '1' } }, 'input.headers'],
      ['a host header', { headers: { host: 'internal.local' } }, 'input.headers'],
      ['a content-length header', { headers: { 'content-length': '0' } }, 'input.headers'],
      ['a header name with a space', { headers: { 'x tenant': 'a' } }, 'input.headers'],
      ['a header value with CR LF', { headers: { 'x-tenant': 'a\r\nx-evil: 1' } }, 'input.headers'],
      ['a header value that is not a string', { headers: { 'x-tenant': 1 } }, 'input.headers'],
      ['headers that are not an object', { headers: ['x-tenant'] }, 'input.headers'],
      ['more than 20 headers', { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v'])) }, 'input.headers'],
      ['a rate limit of 0', { rateLimitPerSecond: 0 }, 'input.rateLimitPerSecond'],
      ['a rate limit over 10000', { rateLimitPerSecond: 10_001 }, 'input.rateLimitPerSecond'],
      ['a payload format that does not exist', { payloadFormat: 'YAML' }, 'input.payloadFormat'],
    ])('refuses %s with BAD_USER_INPUT naming the field', async (_what, input, field) => {
      expectBadInput(await create(input), field);
    });

    it('refuses a malformed shared secret without repeating it', async () => {
      for (const sharedSecret of [
        'not-a-secret-at-all',
        `whsec_${randomBytes(16).toString('base64')}`,
        `whsec_${randomBytes(65).toString('base64')}`,
      ]) {
        const result = await create({ sharedSecret });
        expectBadInput(result, 'input.sharedSecret');
        expect(JSON.stringify(result)).not.toContain(sharedSecret.slice(6, 26));
      }
    });

    it('reports every bad field at once', async () => {
      const { code, fields } = errorOf(await create({ url: 'ftp://x', description: 'd'.repeat(501), rateLimitPerSecond: 0 }));
      expect(code).toBe('BAD_USER_INPUT');
      expect(fields).toEqual(expect.arrayContaining(['input.url', 'input.description', 'input.rateLimitPerSecond']));
    });

    it('saves nothing when it refuses', async () => {
      const before = (await t.ok<{ webhookSubscriptions: Subscription[] }>(admin, LIST)).webhookSubscriptions.length;
      await create({ channels: ['nope'] });
      await create({ channels: ['ledgers', 'invoices'] });
      expect((await t.ok<{ webhookSubscriptions: Subscription[] }>(admin, LIST)).webhookSubscriptions).toHaveLength(before);
    });
  });

  describe('the exclusive ledgers channel', () => {
    const conflict = /ledgers is exclusive.*unsubscribe from the other channels first/i;

    it('is refused beside other channels on create', async () => {
      const result = await create({ channels: ['invoices', 'ledgers'] });
      expect(errorOf(result)).toMatchObject({ code: 'EXCLUSIVE_CHANNEL_CONFLICT', message: expect.stringMatching(conflict) });
      const alone = await createSubscription(t, admin, { channels: ['ledgers'], events: ['ledgers.created'] });
      expect(alone.subscription.channels).toEqual(['ledgers']);
    });

    it('is refused beside other channels on update, either way round', async () => {
      const ledgers = (await createSubscription(t, admin, { channels: ['ledgers'] })).subscription;
      expect(errorOf(await update(ledgers.id, { channels: ['ledgers', 'bills'] }))).toMatchObject({
        code: 'EXCLUSIVE_CHANNEL_CONFLICT',
        message: expect.stringMatching(conflict),
      });
      const invoices = (await createSubscription(t, admin, { channels: ['invoices', 'bills'] })).subscription;
      expect(errorOf(await update(invoices.id, { channels: ['invoices', 'bills', 'ledgers'] })).code).toBe('EXCLUSIVE_CHANNEL_CONFLICT');

      // Unsubscribing from the others first, as the message says, works.
      const moved = await update(invoices.id, { channels: ['ledgers'] });
      expect(moved.data?.updateWebhookSubscription.channels).toEqual(['ledgers']);
    });
  });

  describe('updateWebhookSubscription', () => {
    it('changes what it is given and keeps the rest', async () => {
      const { subscription } = await createSubscription(t, admin, {
        description: 'before',
        headers: { 'x-tenant': 'acme' },
        rateLimitPerSecond: 5,
        events: ['invoices.paid'],
      });
      const result = await update(subscription.id, { description: 'after', payloadFormat: 'FLAT', retrySchedule: [10, 20] });
      expect(result.errors).toBeUndefined();
      const updated = result.data!.updateWebhookSubscription;
      expect(updated).toMatchObject({
        description: 'after',
        payloadFormat: 'FLAT',
        retrySchedule: [10, 20],
        headers: { 'x-tenant': 'acme' },
        rateLimitPerSecond: 5,
        events: ['invoices.paid'],
        url: subscription.url,
        channels: ['invoices'],
      });
      expect(new Date(updated.updatedAt).getTime()).toBeGreaterThan(new Date(subscription.updatedAt).getTime());
      expect(updated.secrets).toEqual(subscription.secrets);
    });

    it('resets to the create defaults with null, and refuses null where there is no default', async () => {
      const { subscription } = await createSubscription(t, admin, {
        description: 'd',
        events: ['invoices.paid'],
        retrySchedule: [1],
        headers: { 'x-a': 'b' },
        rateLimitPerSecond: 3,
        payloadFormat: 'XML',
      });
      const reset = await update(subscription.id, {
        description: null,
        events: null,
        retrySchedule: null,
        headers: null,
        rateLimitPerSecond: null,
        payloadFormat: null,
      });
      expect(reset.data?.updateWebhookSubscription).toMatchObject({
        description: null,
        events: [],
        retrySchedule: DEFAULT_SCHEDULE,
        headers: null,
        rateLimitPerSecond: null,
        payloadFormat: 'ENVELOPE',
      });
      for (const field of ['url', 'channels', 'enabled']) expectBadInput(await update(subscription.id, { [field]: null }), `input.${field}`);
    });

    it('validates the fields it is given as create does', async () => {
      const { subscription } = await createSubscription(t, admin, {});
      expectBadInput(await update(subscription.id, { url: 'ftp://example.com' }), 'input.url');
      expectBadInput(await update(subscription.id, { channels: [] }), 'input.channels');
      expectBadInput(await update(subscription.id, { channels: ['nope'] }), 'input.channels');
      expectBadInput(await update(subscription.id, { retrySchedule: [-1] }), 'input.retrySchedule');
      expectBadInput(await update(subscription.id, { headers: { 'webhook-signature': 'x' } }), 'input.headers');
      expectBadInput(await update(subscription.id, { rateLimitPerSecond: 10_001 }), 'input.rateLimitPerSecond');
      expectBadInput(await update(subscription.id, { description: 'd'.repeat(501) }), 'input.description');
    });

    it('checks the whole resulting subscription: events must stay within the channels', async () => {
      const { subscription } = await createSubscription(t, admin, { channels: ['invoices', 'bills'], events: ['invoices.paid', 'bills.created'] });
      const result = await update(subscription.id, { channels: ['invoices'] });
      expectBadInput(result, 'input.events');
      expect(errorOf(result).message).toMatch(/bills\.created/);
      const both = await update(subscription.id, { channels: ['invoices'], events: ['invoices.paid'] });
      expect(both.data?.updateWebhookSubscription).toMatchObject({ channels: ['invoices'], events: ['invoices.paid'] });
    });

    it('disables and re-enables; re-enabling clears the reason and the failure streak', async () => {
      const { subscription } = await createSubscription(t, admin, {});
      const off = await update(subscription.id, { enabled: false });
      expect(off.data?.updateWebhookSubscription).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/ADMIN/) });

      // As the delivery side does after a 410 Gone or five days of failures.
      await update(subscription.id, { enabled: true });
      await sql.query(`UPDATE webhook_subscriptions SET failing_since = now() - interval '5 days' WHERE id = $1`, [subscription.id]);
      await t.app.services.subscriptions.disable(subscription.id, 'The endpoint answered 410 Gone');
      const disabled = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscription.id });
      expect(disabled.webhookSubscription).toMatchObject({ enabled: false, disabledReason: 'The endpoint answered 410 Gone' });

      const on = await update(subscription.id, { enabled: true });
      expect(on.data?.updateWebhookSubscription).toMatchObject({ enabled: true, disabledReason: null });
      const row = await sql.query(`SELECT failing_since FROM webhook_subscriptions WHERE id = $1`, [subscription.id]);
      expect(row.rows[0].failing_since).toBeNull();
    });

    it('keeps the failure streak of a subscription that was enabled already', async () => {
      const { subscription } = await createSubscription(t, admin, {});
      await sql.query(`UPDATE webhook_subscriptions SET failing_since = now() WHERE id = $1`, [subscription.id]);
      await update(subscription.id, { enabled: true });
      const row = await sql.query(`SELECT failing_since FROM webhook_subscriptions WHERE id = $1`, [subscription.id]);
      expect(row.rows[0].failing_since).not.toBeNull();
    });
  });

  describe('deleteWebhookSubscription', () => {
    it('soft-deletes: the subscription is NOT_FOUND afterwards, its row and history stay, its secrets stop signing', async () => {
      const { subscription } = await createSubscription(t, admin, {});
      expect((await t.ok<{ deleteWebhookSubscription: boolean }>(admin, DELETE, { id: subscription.id })).deleteWebhookSubscription).toBe(true);

      for (const [query, variables] of [
        [GET, { id: subscription.id }],
        [UPDATE, { id: subscription.id, input: { description: 'x' } }],
        [DELETE, { id: subscription.id }],
        [ROTATE, { id: subscription.id }],
        [REVEAL, { id: subscription.id }],
      ] as const) {
        expect(errorOf(await t.gql(admin, query, variables)).code).toBe('NOT_FOUND');
      }
      const list = await t.ok<{ webhookSubscriptions: Subscription[] }>(admin, LIST);
      expect(list.webhookSubscriptions.map((s) => s.id)).not.toContain(subscription.id);

      const row = await sql.query(`SELECT deleted_at FROM webhook_subscriptions WHERE id = $1`, [subscription.id]);
      expect(row.rows[0].deleted_at).toBeInstanceOf(Date);
      expect(await t.app.services.secrets.activeSecrets(subscription.id)).toEqual([]);
    });
  });

  describe('webhookSubscriptions', () => {
    it("lists the subscriptions of the key's account and environment, newest first", async () => {
      const account = await createAccount(t, 'Lister');
      const first = (await createSubscription(t, account.adminToken, { description: 'first' })).subscription;
      const second = (await createSubscription(t, account.adminToken, { description: 'second' })).subscription;
      const staging = await createKey(t, account.adminToken, 'ADMIN', 'STAGING');
      const inStaging = (await createSubscription(t, staging, { description: 'staging' })).subscription;
      expect(inStaging.environment).toBe('STAGING');

      const production = await t.ok<{ webhookSubscriptions: Subscription[] }>(account.adminToken, LIST);
      expect(production.webhookSubscriptions.map((s) => s.id)).toEqual([second.id, first.id]);
      const stagingList = await t.ok<{ webhookSubscriptions: Subscription[] }>(staging, LIST);
      expect(stagingList.webhookSubscriptions.map((s) => s.id)).toEqual([inStaging.id]);
    });
  });

  describe('roles', () => {
    let subscriptionId: string;
    let viewer: string;
    let publisher: string;
    beforeAll(async () => {
      subscriptionId = (await createSubscription(t, admin, { headers: { authorization: 'Bearer receiver-token', 'x-tenant': 'acme' } })).subscription
        .id;
      viewer = await createKey(t, admin, 'VIEWER');
      publisher = await createKey(t, admin, 'PUBLISHER');
    });

    it('lets a VIEWER read subscriptions, with secret metadata but neither secrets nor header values', async () => {
      const one = await t.ok<{ webhookSubscription: Subscription }>(viewer, GET, { id: subscriptionId });
      expect(one.webhookSubscription.headers).toEqual({ authorization: '[redacted]', 'x-tenant': '[redacted]' });
      expect(one.webhookSubscription.secrets).toHaveLength(1);
      const list = await t.ok<{ webhookSubscriptions: Subscription[] }>(viewer, LIST);
      expect(list.webhookSubscriptions.map((s) => s.id)).toContain(subscriptionId);
      expect(JSON.stringify(list)).not.toContain('receiver-token');

      const asAdmin = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscriptionId });
      expect(asAdmin.webhookSubscription.headers).toEqual({ authorization: 'Bearer receiver-token', 'x-tenant': 'acme' });
    });

    it('lets neither a VIEWER nor a PUBLISHER change subscriptions or see secrets; a PUBLISHER does not read them', async () => {
      const writes: Array<[string, Record<string, unknown>]> = [
        [CREATE, { input: { url: 'http://127.0.0.1:9/', channels: ['invoices'] } }],
        [UPDATE, { id: subscriptionId, input: { description: 'x' } }],
        [DELETE, { id: subscriptionId }],
        [ROTATE, { id: subscriptionId }],
        [REVEAL, { id: subscriptionId }],
      ];
      for (const token of [viewer, publisher]) {
        for (const [query, variables] of writes) expect(errorOf(await t.gql(token, query, variables)).code).toBe('FORBIDDEN');
      }
      expect(errorOf(await t.gql(publisher, LIST)).code).toBe('FORBIDDEN');
      expect(errorOf(await t.gql(publisher, GET, { id: subscriptionId })).code).toBe('FORBIDDEN');
      for (const [query, variables] of [...writes, [LIST, {}] as [string, Record<string, unknown>]]) {
        expect(errorOf(await t.gql(t.operatorToken, query, variables)).code).toBe('FORBIDDEN');
        expect(errorOf(await t.gql(undefined, query, variables)).code).toBe('UNAUTHENTICATED');
      }
      // Still there, unchanged.
      const still = await t.ok<{ webhookSubscription: Subscription }>(admin, GET, { id: subscriptionId });
      expect(still.webhookSubscription.description).toBeNull();
    });
  });

  describe('tenancy', () => {
    it("treats another account's and the other environment's subscriptions, and malformed ids, as NOT_FOUND", async () => {
      const owner = await createAccount(t, 'Owner');
      const { subscription, secret } = await createSubscription(t, owner.adminToken, { description: 'mine' });
      const stranger = await createAccount(t, 'Stranger');
      const ownerStaging = await createKey(t, owner.adminToken, 'ADMIN', 'STAGING');
      const strangerViewer = await createKey(t, stranger.adminToken, 'VIEWER');

      for (const token of [stranger.adminToken, ownerStaging]) {
        for (const [query, variables] of [
          [GET, { id: subscription.id }],
          [UPDATE, { id: subscription.id, input: { description: 'hijacked', url: 'http://127.0.0.1:1/steal' } }],
          [DELETE, { id: subscription.id }],
          [ROTATE, { id: subscription.id, expire: 0 }],
          [REVEAL, { id: subscription.id }],
        ] as const) {
          const result = await t.gql(token, query, variables);
          expect(errorOf(result).code).toBe('NOT_FOUND');
          expect(JSON.stringify(result)).not.toContain(secret.slice(6));
        }
        const list = await t.ok<{ webhookSubscriptions: Subscription[] }>(token, LIST);
        expect(list.webhookSubscriptions.map((s) => s.id)).not.toContain(subscription.id);
      }
      expect(errorOf(await t.gql(strangerViewer, GET, { id: subscription.id })).code).toBe('NOT_FOUND');
      for (const id of ['not-a-uuid', '00000000-0000-0000-0000-000000000000']) {
        expect(errorOf(await t.gql(owner.adminToken, GET, { id })).code).toBe('NOT_FOUND');
        expect(errorOf(await t.gql(owner.adminToken, UPDATE, { id, input: {} })).code).toBe('NOT_FOUND');
      }

      // The owner's subscription is untouched and its secret still the only one.
      const mine = await t.ok<{ webhookSubscription: Subscription }>(owner.adminToken, GET, { id: subscription.id });
      expect(mine.webhookSubscription).toMatchObject({ description: 'mine', url: subscription.url });
      expect((await t.ok<{ webhookSecrets: string[] }>(owner.adminToken, REVEAL, { id: subscription.id })).webhookSecrets).toEqual([secret]);
    });

    it("validates channels and events against the catalog of the caller's account and environment", async () => {
      const a = await createAccount(t, 'Definer');
      const b = await createAccount(t, 'Bystander');
      await t.ok(a.adminToken, 'mutation { defineEventType(input: { name: "purchase_orders.approved", description: "Approved." }) { name } }');
      const mine = await createSubscription(t, a.adminToken, { channels: ['purchase_orders'], events: ['purchase_orders.approved'] });
      expect(mine.subscription.channels).toEqual(['purchase_orders']);
      expectBadInput(await t.gql(b.adminToken, CREATE, { input: { url: 'http://127.0.0.1:9/', channels: ['purchase_orders'] } }), 'input.channels');
      const aStaging = await createKey(t, a.adminToken, 'ADMIN', 'STAGING');
      expectBadInput(await t.gql(aStaging, CREATE, { input: { url: 'http://127.0.0.1:9/', channels: ['purchase_orders'] } }), 'input.channels');
    });
  });
});
