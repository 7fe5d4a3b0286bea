import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolOf } from '../../src/db/data-source.js';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { verifySignature } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';
import { errorOf, expectBadInput } from '../support/subscriptions.js';

interface Pulled {
  delivery: { id: string; status: string; attemptCount: number; event: { id: string; type: string } };
  leaseToken: string;
  headers: Record<string, string>;
  body: string;
}

const CREATE_PULL = `mutation($input: CreatePullSubscriptionInput!) {
  createPullSubscription(input: $input) { subscription { id url kind enabled channels expireAfterIdleSeconds } secret } }`;
const PULL = `query($id: ID!, $first: Int, $wait: Int) {
  pullDeliveries(subscriptionId: $id, first: $first, waitSeconds: $wait) {
    delivery { id status attemptCount event { id type } } leaseToken headers body } }`;
const ACK = `mutation($id: ID!, $results: [PullResultInput!]!) { acknowledgeDeliveries(subscriptionId: $id, results: $results) }`;
const ATTEMPTS = `query($id: ID!) { delivery(id: $id) { status attemptCount attempts { number responseStatus responseBody error succeeded durationMs } } }`;

interface Attempts {
  status: string;
  attemptCount: number;
  attempts: Array<{
    number: number;
    responseStatus: number | null;
    responseBody: string | null;
    error: string | null;
    succeeded: boolean;
    durationMs: number;
  }>;
}

/** The ordering-key and sequence of a pulled delivery, as a receiver reads them. */
function sequenceOf(p: Pulled): number {
  return Number(p.headers['hookline-sequence']);
}

describe('PULL subscriptions', () => {
  let t: TestApp;
  let acme: Tenant;
  let publisher: string;
  let db: pg.Client;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    publisher = await createKey(t, acme.adminToken, 'PUBLISHER');
    db = new pg.Client({ connectionString: t.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  async function createPull(input: Record<string, unknown>): Promise<{ id: string; secret: string; url: string }> {
    const data = await t.ok<{ createPullSubscription: { subscription: { id: string; url: string; kind: string }; secret: string } }>(
      acme.adminToken,
      CREATE_PULL,
      { input },
    );
    const { subscription, secret } = data.createPullSubscription;
    expect(subscription.kind).toBe('PULL');
    return { id: subscription.id, secret, url: subscription.url };
  }

  async function pull(id: string, first = 100, wait = 0, token = publisher): Promise<Pulled[]> {
    return (await t.ok<{ pullDeliveries: Pulled[] }>(token, PULL, { id, first, wait })).pullDeliveries;
  }

  /** Pulls until `count` deliveries have come (the fan-out runs in the app's workers). */
  async function pullAtLeast(id: string, count: number): Promise<Pulled[]> {
    const got: Pulled[] = [];
    const until = Date.now() + 20_000;
    while (got.length < count && Date.now() < until) got.push(...(await pull(id, count - got.length, 5)));
    return got;
  }

  async function ack(id: string, results: Array<Record<string, unknown>>, token = publisher): Promise<number> {
    return (await t.ok<{ acknowledgeDeliveries: number }>(token, ACK, { id, results })).acknowledgeDeliveries;
  }

  async function attemptsOf(deliveryId: string): Promise<Attempts> {
    return (await t.ok<{ delivery: Attempts }>(acme.adminToken, ATTEMPTS, { id: deliveryId })).delivery;
  }

  it('hands out the exact signed request a push would send, which the Standard Webhooks library verifies; a 2xx result settles it', async () => {
    const sub = await createPull({ channels: ['invoices'], description: 'on-premises ERP' });
    expect(sub.url).toBe(`urn:hookline:pull:${sub.id}`);
    const { event } = await acme.publish('invoices.sent', { invoiceId: 'INV-1', amount: 120.5 });

    const [pulled, ...rest] = await pullAtLeast(sub.id, 1);
    expect(rest).toEqual([]);
    expect(pulled!.delivery.event.id).toBe(event.id);
    expect(pulled!.headers['webhook-id']).toBe(pulled!.delivery.id);
    expect(verifySignature([sub.secret], Buffer.from(pulled!.body), pulled!.headers)).toBeNull();
    const body = JSON.parse(pulled!.body) as { event: string; data: { invoiceId: string } };
    expect(body.event).toBe('invoices.sent');
    expect(body.data.invoiceId).toBe('INV-1');
    // Leased: nobody else gets it meanwhile.
    expect(await pull(sub.id)).toEqual([]);

    expect(await ack(sub.id, [{ deliveryId: pulled!.delivery.id, leaseToken: pulled!.leaseToken, status: 204, body: '', durationMs: 12 }])).toBe(1);
    const settled = await attemptsOf(pulled!.delivery.id);
    expect(settled.status).toBe('SUCCEEDED');
    expect(settled.attempts).toEqual([expect.objectContaining({ number: 1, responseStatus: 204, succeeded: true, durationMs: 12 })]);
    // Acknowledged twice: the second names a lease that is over and is not recorded.
    expect(await ack(sub.id, [{ deliveryId: pulled!.delivery.id, leaseToken: pulled!.leaseToken, status: 200 }])).toBe(0);
    expect((await attemptsOf(pulled!.delivery.id)).attempts).toHaveLength(1);
  });

  it('answers a waiting long poll as soon as a delivery arrives', async () => {
    const sub = await createPull({ channels: ['quotes'] });
    const started = Date.now();
    const poll = pull(sub.id, 10, 20);
    // The poll is waiting (nothing is due) when the event is published.
    await new Promise((r) => setTimeout(r, 500));
    const { event } = await acme.publish('quotes.created', { quoteId: 'Q-1' });
    const pulled = await poll;
    expect(pulled.map((p) => p.delivery.event.id)).toEqual([event.id]);
    // Well before the 20 s wait ran out: it was woken, not timed out (the bench measures how soon).
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('offers an unacknowledged delivery again after its lease, recording the lapse without using up the retry schedule', async () => {
    const sub = await createPull({ channels: ['invoices'], events: ['invoices.created'], retrySchedule: [1] });
    await acme.publish('invoices.created', { invoiceId: 'INV-LAPSE' });
    const [first] = await pullAtLeast(sub.id, 1);
    // The lease runs out in two seconds: a consumer waiting meanwhile is woken when it does.
    await db.query(`UPDATE deliveries SET lease_expires_at = now() + interval '2 seconds' WHERE id = $1`, [first!.delivery.id]);
    const [again] = await pull(sub.id, 10, 15);
    expect(again!.delivery.id).toBe(first!.delivery.id);
    expect(again!.leaseToken).not.toBe(first!.leaseToken);
    expect(verifySignature([sub.secret], Buffer.from(again!.body), again!.headers)).toBeNull();

    // The first consumer's late answer names a lapsed lease: not recorded.
    expect(await ack(sub.id, [{ deliveryId: first!.delivery.id, leaseToken: first!.leaseToken, status: 200 }])).toBe(0);
    const lapsed = await attemptsOf(first!.delivery.id);
    expect(lapsed.status).toBe('PENDING');
    expect(lapsed.attempts).toEqual([expect.objectContaining({ number: 1, succeeded: false, responseStatus: null })]);
    expect(lapsed.attempts[0]!.error).toMatch(/lease lapsed/);

    // The schedule ([1]: one retry) is still whole: a failure is retried, and only the next one fails it.
    expect(await ack(sub.id, [{ deliveryId: again!.delivery.id, leaseToken: again!.leaseToken, status: 500, body: 'ERP is down' }])).toBe(1);
    expect((await attemptsOf(first!.delivery.id)).status).toBe('RETRYING');
    const [retried] = await pull(sub.id, 10, 15);
    expect(retried!.delivery.id).toBe(first!.delivery.id);
    expect(await ack(sub.id, [{ deliveryId: retried!.delivery.id, leaseToken: retried!.leaseToken, status: 0, body: 'connect ECONNREFUSED' }])).toBe(
      1,
    );
    const failed = await attemptsOf(first!.delivery.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts.map((a) => [a.number, a.responseStatus, a.succeeded])).toEqual([
      [1, null, false],
      [2, 500, false],
      [3, null, false],
    ]);
    expect(failed.attempts[1]!.responseBody).toBe('ERP is down');
    expect(failed.attempts[2]!.error).toBe('connect ECONNREFUSED');
  });

  it('shares a subscription between consumers: concurrent pulls lease disjoint deliveries', async () => {
    const sub = await createPull({ channels: ['bills'], ordering: 'NONE' });
    const published = new Set<string>();
    for (let n = 0; n < 12; n++) published.add((await acme.publish('bills.created', { billId: `B-${n}` })).event.id);
    const seen: Pulled[] = [];
    const until = Date.now() + 20_000;
    while (seen.length < 12 && Date.now() < until) {
      const [a, b, c] = await Promise.all([pull(sub.id, 3, 2), pull(sub.id, 3, 2), pull(sub.id, 3, 2)]);
      seen.push(...a!, ...b!, ...c!);
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen.map((p) => p.delivery.id)).size).toBe(12);
    expect(new Set(seen.map((p) => p.delivery.event.id))).toEqual(published);
    const recorded = await ack(
      sub.id,
      seen.map((p) => ({ deliveryId: p.delivery.id, leaseToken: p.leaseToken, status: 200 })),
    );
    expect(recorded).toBe(12);
  });

  it('keeps the order per key: the next delivery of a key is offered once the one before it is acknowledged', async () => {
    const sub = await createPull({ channels: ['sales'] });
    for (let n = 1; n <= 3; n++) await acme.publish('sales.created', { n }, undefined, acme.adminToken, 'customer-7');
    for (let expected = 1; expected <= 3; expected++) {
      const pulled = await pullAtLeast(sub.id, 1);
      expect(pulled).toHaveLength(1);
      expect(pulled[0]!.headers['hookline-ordering-key']).toBe('customer-7');
      expect(sequenceOf(pulled[0]!)).toBe(expected);
      // Nothing else of the key is offered while this one is out.
      expect(await pull(sub.id)).toEqual([]);
      expect(await ack(sub.id, [{ deliveryId: pulled[0]!.delivery.id, leaseToken: pulled[0]!.leaseToken, status: 200 }])).toBe(1);
    }
  });

  it('is created by an ADMIN, pulled by ADMIN and PUBLISHER keys of its account and environment only', async () => {
    const sub = await createPull({ channels: ['clients'] });
    const viewer = await createKey(t, acme.adminToken, 'VIEWER');
    expect(errorOf(await t.gql(publisher, CREATE_PULL, { input: { channels: ['clients'] } })).code).toBe('FORBIDDEN');
    expect(errorOf(await t.gql(viewer, PULL, { id: sub.id })).code).toBe('FORBIDDEN');
    expect(errorOf(await t.gql(viewer, ACK, { id: sub.id, results: [] })).code).toBe('FORBIDDEN');
    expect(await pull(sub.id, 10, 0, acme.adminToken)).toEqual([]);
    // A viewer sees it, with its kind.
    const seen = await t.ok<{ webhookSubscription: { kind: string; url: string } }>(
      viewer,
      `query($id: ID!) { webhookSubscription(id: $id) { kind url } }`,
      {
        id: sub.id,
      },
    );
    expect(seen.webhookSubscription).toEqual({ kind: 'PULL', url: `urn:hookline:pull:${sub.id}` });

    const staging = await createKey(t, acme.adminToken, 'PUBLISHER', 'STAGING');
    expect(errorOf(await t.gql(staging, PULL, { id: sub.id })).code).toBe('NOT_FOUND');
    const other = await tenant(t, 'Globex');
    expect(errorOf(await t.gql(other.adminToken, PULL, { id: sub.id })).code).toBe('NOT_FOUND');
    expect(errorOf(await t.gql(other.adminToken, ACK, { id: sub.id, results: [] })).code).toBe('NOT_FOUND');
  });

  it('refuses bad input with errors that name the field', async () => {
    const sub = await createPull({ channels: ['invoices'] });
    const push = await acme.subscribe({ url: 'https://erp.example.com/hooks', channels: ['journals'] });
    expectBadInput(await t.gql(publisher, PULL, { id: push.id }), 'subscriptionId');
    expectBadInput(await t.gql(publisher, PULL, { id: sub.id, wait: 21 }), 'waitSeconds');
    expectBadInput(await t.gql(publisher, PULL, { id: sub.id, first: 0 }), 'first');
    expectBadInput(
      await t.gql(publisher, ACK, { id: sub.id, results: [{ deliveryId: sub.id, leaseToken: 'not-a-token', status: 200 }] }),
      'results[0].leaseToken',
    );
    expectBadInput(
      await t.gql(publisher, ACK, { id: sub.id, results: [{ deliveryId: sub.id, leaseToken: sub.id, status: 42 }] }),
      'results[0].status',
    );
    expectBadInput(
      await t.gql(acme.adminToken, CREATE_PULL, { input: { channels: ['invoices'], expireAfterIdleSeconds: 5 } }),
      'input.expireAfterIdleSeconds',
    );
    expectBadInput(await t.gql(acme.adminToken, CREATE_PULL, { input: { channels: ['nope'] } }), 'input.channels');
    // The ledgers channel stays exclusive.
    expect(errorOf(await t.gql(acme.adminToken, CREATE_PULL, { input: { channels: ['ledgers', 'invoices'] } })).code).not.toBeUndefined();
    // A PULL subscription has no endpoint to point elsewhere.
    expectBadInput(
      await t.gql(acme.adminToken, `mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { url: "https://erp.example.com/x" }) { id } }`, {
        id: sub.id,
      }),
      'input.url',
    );
  });

  it('is never POSTed by the delivery engine, and a test event reaches its consumer', async () => {
    const sub = await createPull({ channels: ['invoices'], events: ['invoices.cancelled'] });
    const test = await t.ok<{ sendTestEvent: { id: string } }>(acme.adminToken, `mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id } }`, {
      id: sub.id,
    });
    const [pulled] = await pull(sub.id, 10, 10);
    expect(pulled!.delivery.id).toBe(test.sendTestEvent.id);
    expect(pulled!.delivery.event.type).toBe('webhook.test');
    expect(pulled!.delivery.attemptCount).toBe(0);
  });

  it('ends its waiting deliveries when it is disabled or deleted: nobody is left to pull them', async () => {
    const disabled = await createPull({ channels: ['expenses'] });
    const deleted = await createPull({ channels: ['expenses'] });
    const { event } = await acme.publish('expenses.created', { expenseId: 'E-1' });
    const waiting = await acme.waitForDeliveries(event.id, 2, 20_000);
    expect(waiting.map((d) => d.status)).toEqual(['PENDING', 'PENDING']);
    await t.ok(acme.adminToken, `mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { enabled: false }) { id } }`, { id: disabled.id });
    await t.ok(acme.adminToken, `mutation($id: ID!) { deleteWebhookSubscription(id: $id) }`, { id: deleted.id });
    const after = await acme.deliveriesOfEvent(event.id);
    expect(after.map((d) => d.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('is deleted by Hookline once nobody has pulled for its idle expiry, with an audit entry', async () => {
    const sub = await createPull({ channels: ['invoices'], expireAfterIdleSeconds: 60 });
    const kept = await createPull({ channels: ['invoices'] });
    await pull(sub.id);
    expect(await t.app.services.subscriptions.expireIdle()).toBe(0);
    await db.query(
      `UPDATE webhook_subscriptions SET last_pulled_at = now() - interval '61 seconds', created_at = now() - interval '1 hour' WHERE id = ANY($1)`,
      [[sub.id, kept.id]],
    );
    expect(await t.app.services.subscriptions.expireIdle()).toBe(1);
    expect(errorOf(await t.gql(publisher, PULL, { id: sub.id })).code).toBe('NOT_FOUND');
    expect(await pull(kept.id)).toEqual([]);
    const log = await t.ok<{ auditLog: { nodes: Array<{ action: string; targetId: string; actor: { kind: string; name: string | null } }> } }>(
      acme.adminToken,
      `query($id: ID!) { auditLog(filter: { targetId: $id }) { nodes { action targetId actor { kind name } } } }`,
      { id: sub.id },
    );
    expect(log.auditLog.nodes[0]).toEqual({ action: 'subscription.deleted', targetId: sub.id, actor: { kind: 'SYSTEM', name: 'pull-idle-expiry' } });
  });
});

describe('PULL long polls at rest', () => {
  let t: TestApp;
  let acme: Tenant;

  beforeAll(async () => {
    // No workers: the only statements on the pool are the API's own.
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a thousand waiting long polls cost no database work until a delivery arrives', { timeout: 180_000 }, async () => {
    const subs: string[] = [];
    for (let i = 0; i < 10; i++) {
      const data = await t.ok<{ createPullSubscription: { subscription: { id: string } } }>(acme.adminToken, CREATE_PULL, {
        input: { channels: ['invoices'], events: ['invoices.sent'] },
      });
      subs.push(data.createPullSubscription.subscription.id);
    }
    const pool = poolOf(t.app.db);
    let checkouts = 0;
    pool.on('acquire', () => (checkouts += 1));

    // A thousand consumers, each polling again when its wait runs out (as a consumer does), until one gets the event.
    let polls = 0;
    let pulled = false;
    const got: Pulled[] = [];
    const errors: string[] = [];
    const consumers = Array.from({ length: 1000 }, async (_, i) => {
      while (!pulled) {
        polls += 1;
        const answer = await t.gql<{ pullDeliveries: Pulled[] }>(acme.adminToken, PULL, { id: subs[i % subs.length], first: 1, wait: 20 });
        if (answer.errors) errors.push(answer.errors[0]!.message);
        got.push(...(answer.data?.pullDeliveries ?? []));
        if (got.length === subs.length) pulled = true;
      }
    });
    // Every consumer has looked once and is waiting. (On a loaded machine the first ones may time out and poll again meanwhile.)
    const until = Date.now() + 120_000;
    while (Date.now() < until && t.app.services.pull.waiting < 1000) await new Promise((r) => setTimeout(r, 20));
    expect(t.app.services.pull.waiting).toBe(1000);
    const [checkoutsBefore, pollsBefore] = [checkouts, polls];
    await new Promise((r) => setTimeout(r, 2_000));
    // Only a poll that starts looks at the database (a few statements); a waiting one costs nothing.
    const started = polls - pollsBefore;
    expect(checkouts - checkoutsBefore).toBeLessThanOrEqual(4 * started);
    if (started === 0) expect(checkouts - checkoutsBefore).toBe(0);

    // One event reaches every subscription: the waiters wake, and each delivery goes to exactly one of its subscription's polls.
    await acme.publish('invoices.sent', { invoiceId: 'INV-WAKE' });
    const deadline = Date.now() + 30_000;
    while (!pulled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(errors).toEqual([]);
    expect(got).toHaveLength(10);
    expect(new Set(got.map((p) => p.delivery.id)).size).toBe(10);
    expect(new Set(got.map((p) => p.body)).size).toBe(10);
    // The others end with their waits; nothing more is due, so they get nothing.
    await Promise.all(consumers);
    expect(got).toHaveLength(10);
  });
});
