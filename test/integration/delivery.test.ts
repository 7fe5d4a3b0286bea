import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XMLParser } from 'fast-xml-parser';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

describe('publishing and delivering', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await startTestApp({ env: { HOOKLINE_DELIVERY_TIMEOUT_MS: '1000' } });
    acme = await tenant(t);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });
  beforeEach(() => {
    receiver.reset();
  });

  it('delivers an event, signed, to exactly the subscriptions the channel rules choose', async () => {
    const invoices = await acme.subscribe({ url: `${receiver.url}/invoices`, channels: ['invoices'] });
    const paidOnly = await acme.subscribe({ url: `${receiver.url}/paid-only`, channels: ['invoices'], events: ['invoices.paid'] });
    const ledgers = await acme.subscribe({ url: `${receiver.url}/ledgers`, channels: ['ledgers'] });
    const clients = await acme.subscribe({ url: `${receiver.url}/clients`, channels: ['clients', 'invoices'], events: ['clients.created'] });
    receiver.setSecrets([invoices.secret, paidOnly.secret, ledgers.secret, clients.secret]);

    const created = await acme.publish('invoices.created', { invoiceId: 'INV-1' });
    const paid = await acme.publish('invoices.paid', {
      invoiceId: 'INV-1',
      customerId: 'C-1',
      amount: 120.5,
      currency: 'EUR',
      paidAt: '2026-11-23T10:00:00.000Z',
    });
    const ledger = await acme.publish('ledgers.created', { entryId: 'L-1' });

    await receiver.waitFor(4, 20_000);
    // Let any wrongly routed delivery arrive before counting.
    await new Promise((r) => setTimeout(r, 1500));
    const byPath = receiver.requests.map((r) => `${r.path} ${JSON.parse(r.body).event}`).sort();
    expect(byPath).toEqual(['/invoices invoices.created', '/invoices invoices.paid', '/ledgers ledgers.created', '/paid-only invoices.paid']);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);

    const [delivery] = await acme.waitForDeliveries(paid.event.id, 2);
    const request = receiver.requests.find((r) => r.headers['webhook-id'] === delivery!.id)!;
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Hookline\/\d+\.\d+\.\d+/);
    expect(JSON.parse(request.body)).toEqual({
      event: 'invoices.paid',
      message: expect.any(String),
      idempotency_key: delivery!.id,
      environment: 'production',
      timestamp: expect.any(String),
      data: { invoiceId: 'INV-1', customerId: 'C-1', amount: 120.5, currency: 'EUR', paidAt: '2026-11-23T10:00:00.000Z' },
    });
    for (const event of [created, paid, ledger]) {
      for (const d of await acme.deliveriesOfEvent(event.event.id)) {
        const settled = await acme.waitForStatus(d.id, 'SUCCEEDED');
        expect(settled.attempts).toHaveLength(1);
        expect(settled.attempts[0]).toMatchObject({ number: 1, responseStatus: 200, succeeded: true, error: null });
      }
    }
  });

  it('sends FLAT and XML bodies and the subscription headers, which cannot override the signature headers', async () => {
    const flat = await acme.subscribe({
      url: `${receiver.url}/flat`,
      channels: ['quotes'],
      payloadFormat: 'FLAT',
      headers: { 'X-Tenant': 'acme-42' },
    });
    const xml = await acme.subscribe({ url: `${receiver.url}/xml`, channels: ['quotes'], payloadFormat: 'XML' });
    receiver.setSecrets([flat.secret, xml.secret]);
    await acme.publish('quotes.created', { quoteId: 'Q-9', total: 10, lines: [{ sku: 'A' }, { sku: 'B' }] });
    await receiver.waitFor(2, 20_000);

    const flatRequest = receiver.requests.find((r) => r.path === '/flat')!;
    expect(flatRequest.verified).toBe(true);
    expect(flatRequest.headers['x-tenant']).toBe('acme-42');
    expect(JSON.parse(flatRequest.body)).toEqual({ event: 'quotes.created', quoteId: 'Q-9', total: 10, lines: [{ sku: 'A' }, { sku: 'B' }] });

    const xmlRequest = receiver.requests.find((r) => r.path === '/xml')!;
    expect(xmlRequest.verified).toBe(true);
    expect(xmlRequest.headers['content-type']).toBe('application/xml');
    const parsed = new XMLParser().parse(xmlRequest.body) as { webhook: Record<string, unknown> };
    expect(parsed.webhook).toMatchObject({ event: 'quotes.created', environment: 'production', data: { quoteId: 'Q-9', total: 10 } });
    expect(parsed.webhook.idempotency_key).toBe(xmlRequest.headers['webhook-id']);
  });

  it('returns the first event for a repeated idempotency key and queues nothing, also under a race', async () => {
    await acme.subscribe({ url: `${receiver.url}/idem`, channels: ['deposits'] });
    const first = await acme.publish('deposits.created', { n: 1 }, 'deposit-77');
    const again = await acme.publish('deposits.created', { n: 1 }, 'deposit-77');
    expect(again).toEqual({ event: { id: first.event.id }, duplicate: true });
    expect(first.duplicate).toBe(false);

    const racing = await Promise.all(Array.from({ length: 8 }, () => acme.publish('deposits.created', { n: 3 }, 'deposit-race')));
    expect(new Set(racing.map((r) => r.event.id)).size).toBe(1);
    expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);

    await receiver.waitFor(2, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.requests.filter((r) => r.path === '/idem')).toHaveLength(2);
  });

  it('retries on the schedule until the endpoint succeeds, keeping the webhook-id', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/flaky`, channels: ['sales'], retrySchedule: [1, 1, 1] });
    receiver.setSecrets([sub.secret]);
    receiver.respondWith((_req, n) => (n <= 2 ? { status: 500, body: 'database locked' } : { status: 204 }));
    const { event } = await acme.publish('sales.created', { saleId: 'S-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    const done = await acme.waitForStatus(d!.id, 'SUCCEEDED', 30_000);
    expect(done.attempts.map((a) => [a.number, a.responseStatus, a.succeeded])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 204, true],
    ]);
    expect(done.attempts[0]!.responseBody).toBe('database locked');
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([d!.id]));
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });

  it('makes a single attempt with an empty schedule, and records a timeout', async () => {
    await acme.subscribe({ url: `${receiver.url}/slow`, channels: ['expenses'], retrySchedule: [] });
    receiver.respondWith(() => ({ status: 200, delayMs: 3000 }));
    const { event } = await acme.publish('expenses.created', { expenseId: 'E-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    const failed = await acme.waitForStatus(d!.id, 'FAILED', 20_000);
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0]).toMatchObject({ responseStatus: null, succeeded: false });
    expect(failed.attempts[0]!.error).toMatch(/timeout/i);
    expect(failed.attempts[0]!.durationMs).toBeLessThan(2500);
    expect(failed.nextAttemptAt).toBeNull();
  });

  it('fails at once on 410 Gone and disables the subscription with a reason', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/gone`, channels: ['suppliers'], retrySchedule: [1, 1] });
    receiver.respondWith(() => ({ status: 410 }));
    const { event } = await acme.publish('suppliers.created', { supplierId: 'SUP-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    const failed = await acme.waitForStatus(d!.id, 'FAILED');
    expect(failed.attempts).toHaveLength(1);
    expect(await acme.subscriptionState(sub.id)).toEqual({ enabled: false, disabledReason: expect.stringMatching(/410/) });
  });

  it('disables a subscription whose deliveries have all failed for five days', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/down`, channels: ['wallet_transactions'], retrySchedule: [1, 1] });
    const sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
    try {
      // The streak began five days and a minute ago; the next failure ends it.
      await sql.query(`UPDATE webhook_subscriptions SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1`, [sub.id]);
    } finally {
      await sql.end();
    }
    receiver.respondWith(() => ({ status: 500 }));
    const { event } = await acme.publish('wallet_transactions.created', { transactionId: 'W-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    const failed = await acme.waitForStatus(d!.id, 'FAILED');
    expect(failed.attempts).toHaveLength(1);
    expect(await acme.subscriptionState(sub.id)).toEqual({ enabled: false, disabledReason: expect.stringMatching(/5 days/) });
  });

  it('waits at least as long as Retry-After on 429', async () => {
    await acme.subscribe({ url: `${receiver.url}/throttled`, channels: ['bills'], retrySchedule: [1, 1] });
    receiver.respondWith((_req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 }));
    const { event } = await acme.publish('bills.created', { billId: 'B-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    await acme.waitForStatus(d!.id, 'SUCCEEDED', 30_000);
    const [firstTry, secondTry] = receiver.requests;
    expect(secondTry!.receivedAt.getTime() - firstTry!.receivedAt.getTime()).toBeGreaterThanOrEqual(2900);
  });

  it('cancels a delivery whose subscription was disabled before its turn, and redelivers with the same id', async () => {
    // The retry waits long enough that the subscription is surely disabled before it falls due, however slow the machine.
    const sub = await acme.subscribe({ url: `${receiver.url}/later`, channels: ['employees'], retrySchedule: [5] });
    receiver.setSecrets([sub.secret]);
    receiver.respondWith(() => ({ status: 500 }));
    const { event } = await acme.publish('employees.created', { employeeId: 'EMP-1' });
    const [d] = await acme.waitForDeliveries(event.id, 1);
    await acme.waitForStatus(d!.id, 'RETRYING');
    await t.ok(acme.adminToken, 'mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { enabled: false }) { id } }', { id: sub.id });
    const cancelled = await acme.waitForStatus(d!.id, 'CANCELLED', 30_000);
    expect(cancelled.attempts).toHaveLength(1);

    await t.ok(acme.adminToken, 'mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { enabled: true }) { id } }', { id: sub.id });
    receiver.respondWith(() => ({ status: 200 }));
    const requeued = await t.ok<{ redeliver: { id: string; status: string } }>(
      acme.adminToken,
      'mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }',
      { id: d!.id },
    );
    expect(requeued.redeliver).toEqual({ id: d!.id, status: 'PENDING' });
    const done = await acme.waitForStatus(d!.id, 'SUCCEEDED');
    expect(done.attempts.map((a) => a.number)).toEqual([1, 2]);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([d!.id, d!.id]);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });

  it('sends a test event to a disabled subscription, and nothing else of it', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/disabled`, channels: ['bills'] });
    receiver.setSecrets([sub.secret]);
    receiver.respondWith(() => ({ status: 200 }));
    const { event: before } = await acme.publish('bills.created', { billId: 'B-1' });
    const earlier = (await acme.waitForDeliveries(before.id, 1)).find((d) => d.subscription.id === sub.id);
    await acme.waitForStatus(earlier!.id, 'SUCCEEDED');
    await t.ok(acme.adminToken, 'mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { enabled: false }) { id } }', { id: sub.id });

    // How an integrator checks the endpoint before enabling it again.
    const sent = await t.ok<{ sendTestEvent: { id: string } }>(acme.adminToken, 'mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id } }', {
      id: sub.id,
    });
    const tested = await acme.waitForStatus(sent.sendTestEvent.id, 'SUCCEEDED');
    expect(tested.attempts).toHaveLength(1);
    const testRequest = receiver.requests.find((r) => r.headers['webhook-id'] === sent.sendTestEvent.id);
    expect(testRequest?.verified).toBe(true);
    expect(JSON.parse(testRequest!.body).event).toBe('webhook.test');

    // Events published while it is disabled give it no delivery; a delivery sent again while it is disabled is cancelled.
    const { event: during } = await acme.publish('bills.created', { billId: 'B-2' });
    const ofDuring = await acme.deliveriesOfEvent(during.id);
    expect(ofDuring.filter((d) => d.subscription.id === sub.id)).toEqual([]);
    await t.ok(acme.adminToken, 'mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', { id: earlier!.id });
    expect((await acme.waitForStatus(earlier!.id, 'CANCELLED')).attempts).toHaveLength(1);
    expect(receiver.requests.filter((r) => r.path.startsWith('/disabled'))).toHaveLength(2);
    expect(await acme.subscriptionState(sub.id)).toEqual({ enabled: false, disabledReason: expect.any(String) });
  });

  it('replays the failed deliveries of a subscription', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/replay`, channels: ['journals'], retrySchedule: [] });
    receiver.respondWith(() => ({ status: 503 }));
    const since = new Date().toISOString();
    const events = [];
    for (let i = 0; i < 3; i++) events.push((await acme.publish('journals.created', { journalId: `J-${i}` })).event.id);
    const ids = [];
    for (const e of events) ids.push((await acme.waitForDeliveries(e, 1))[0]!.id);
    for (const id of ids) await acme.waitForStatus(id, 'FAILED');

    receiver.respondWith(() => ({ status: 200 }));
    const replayed = await t.ok<{ replayFailedDeliveries: number }>(
      acme.adminToken,
      'mutation($id: ID!, $since: DateTime!) { replayFailedDeliveries(subscriptionId: $id, since: $since) }',
      { id: sub.id, since },
    );
    expect(replayed.replayFailedDeliveries).toBe(3);
    for (const id of ids) expect((await acme.waitForStatus(id, 'SUCCEEDED')).attempts).toHaveLength(2);
  });

  it('sends a test event to one subscription whatever its channels, and reports stats and history', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/test-me`, channels: ['pay_runs'] });
    receiver.setSecrets([sub.secret]);
    const sent = await t.ok<{ sendTestEvent: { id: string; event: { type: string } } }>(
      acme.adminToken,
      'mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id event { type } } }',
      { id: sub.id },
    );
    expect(sent.sendTestEvent.event.type).toBe('webhook.test');
    await acme.waitForStatus(sent.sendTestEvent.id, 'SUCCEEDED');
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.verified).toBe(true);
    expect(JSON.parse(receiver.requests[0]!.body).event).toBe('webhook.test');

    const data = await t.ok<{
      webhookSubscription: { stats: Record<string, unknown>; deliveries: { totalCount: number; nodes: Array<{ id: string }> } };
    }>(
      acme.adminToken,
      `query($id: ID!) { webhookSubscription(id: $id) {
         stats { total succeeded failed pending successRate latencyP50Ms latencyP95Ms lastSuccessAt lastFailureAt }
         deliveries(first: 10) { totalCount nodes { id } } } }`,
      { id: sub.id },
    );
    expect(data.webhookSubscription.stats).toMatchObject({ total: 1, succeeded: 1, failed: 0, pending: 0, successRate: 1, lastFailureAt: null });
    expect(data.webhookSubscription.stats.latencyP50Ms).toEqual(expect.any(Number));
    expect(data.webhookSubscription.deliveries).toEqual({ totalCount: 1, nodes: [{ id: sent.sendTestEvent.id }] });
  });

  it('spaces the sends to a rate-limited endpoint', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/limited`, channels: ['accounts'] });
    await t.ok(acme.adminToken, 'mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { rateLimitPerSecond: 2 }) { id } }', {
      id: sub.id,
    });
    receiver.setSecrets([sub.secret]);
    for (let i = 0; i < 6; i++) await acme.publish('accounts.created', { accountId: `A-${i}` });
    await receiver.waitFor(6, 30_000);
    const times = receiver.requests.map((r) => r.receivedAt.getTime()).sort((a, b) => a - b);
    // Six sends at two a second take at least 2.5 s from first to last.
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(2400);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });

  it('paginates deliveries and events newest first with cursors and totals', async () => {
    const other = await tenant(t, 'Paginated');
    await other.subscribe({ url: `${receiver.url}/pages`, channels: ['products_services'] });
    const published = [];
    for (let i = 0; i < 5; i++) published.push((await other.publish('products_services.created', { i })).event.id);
    for (const id of published) await other.waitForDeliveries(id, 1);

    const seen: string[] = [];
    let after: string | null = null;
    let total: number | undefined;
    for (;;) {
      const page: { events: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } } =
        await t.ok(
          other.adminToken,
          'query($after: String) { events(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } totalCount } }',
          { after },
        );
      seen.push(...page.events.nodes.map((n) => n.id));
      total = page.events.totalCount;
      if (!page.events.pageInfo.hasNextPage) break;
      after = page.events.pageInfo.endCursor;
    }
    expect(total).toBe(5);
    expect(seen).toEqual([...published].reverse());

    const filtered = await t.ok<{ deliveries: { totalCount: number; nodes: Array<{ id: string }> } }>(
      other.adminToken,
      '{ deliveries(filter: { eventType: "products_services.created" }, first: 3) { totalCount nodes { id } } }',
    );
    expect(filtered.deliveries.totalCount).toBe(5);
    expect(filtered.deliveries.nodes).toHaveLength(3);
    const bad = await t.gql(other.adminToken, '{ deliveries(after: "bm90LWEtY3Vyc29y") { totalCount } }');
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'after' }] });
  });
});
