import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { CREATE, DELETE, errorOf } from '../support/subscriptions.js';

const DEFINE = 'mutation($input: DefineEventTypeInput!) { defineEventType(input: $input) { name } }';

describe('quotas per account and environment', () => {
  let t: TestApp;
  let admin: string;
  let stagingAdmin: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api', env: { HOOKLINE_MAX_SUBSCRIPTIONS: '3', HOOKLINE_MAX_EVENT_TYPES: '2' } });
    ({ adminToken: admin } = await createAccount(t, 'Quotas'));
    stagingAdmin = await createKey(t, admin, 'ADMIN', 'STAGING');
  });
  afterAll(async () => {
    await t?.stop();
  });

  const subscribe = (token: string) => t.gql(token, CREATE, { input: { url: 'https://example.com/hook', channels: ['invoices'] } });

  it('refuses a subscription over the quota with QUOTA_EXCEEDED, also when requests race, and counts deleted ones out', async () => {
    // Five at once against a quota of three: the count and the insert are serialised.
    const results = await Promise.all(Array.from({ length: 5 }, () => subscribe(admin)));
    const refused = results.filter((r) => r.errors);
    expect(refused).toHaveLength(2);
    for (const result of refused) {
      expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'subscriptions', limit: 3 });
      expect(errorOf(result).message).toMatch(/3 webhook subscriptions in PRODUCTION, its quota \(3\)/);
    }
    // Another environment has its own quota.
    expect((await subscribe(stagingAdmin)).errors).toBeUndefined();

    const created = results.find((r) => !r.errors)!.data as { createWebhookSubscription: { subscription: { id: string } } };
    await t.ok(admin, DELETE, { id: created.createWebhookSubscription.subscription.id });
    expect((await subscribe(admin)).errors).toBeUndefined();
  });

  it('refuses a new event type over the quota, while redefining one stays possible', async () => {
    const define = (name: string, description = 'An event.') => t.gql(admin, DEFINE, { input: { name, description } });
    expect((await define('orders.created')).errors).toBeUndefined();
    expect((await define('orders.shipped')).errors).toBeUndefined();
    const over = await define('orders.cancelled');
    expect(over.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'eventTypes', limit: 2 });
    expect(errorOf(over).message).toMatch(/2 event types of its own in PRODUCTION, its quota \(2\)/);
    expect((await define('orders.created', 'An order was created.')).errors).toBeUndefined();
  });
});
