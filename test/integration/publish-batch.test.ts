import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { fanOutNow } from '../support/fan-out.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

const PUBLISH_EVENTS = `mutation($inputs: [PublishEventInput!]!) {
  publishEvents(inputs: $inputs) {
    acceptedCount
    results { index duplicate event { id type data idempotencyKey } error { code message field } }
  }
}`;
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id type data } duplicate } }';

interface ItemResult {
  index: number;
  duplicate: boolean;
  event: { id: string; type: string; data: unknown; idempotencyKey: string | null } | null;
  error: { code: string; message: string; field: string | null } | null;
}
interface BatchResult {
  acceptedCount: number;
  results: ItemResult[];
}
interface Input {
  type: string;
  data: unknown;
  idempotencyKey?: string;
}

function paid(invoiceId: string, amount: unknown = 100) {
  return { type: 'invoices.paid', data: { invoiceId, customerId: 'C-1', amount, currency: 'EUR', paidAt: '2026-11-23T10:00:00.000Z' } };
}

describe('publishing in batches (API only, no workers)', () => {
  let t: TestApp;
  let acme: Tenant;
  let sql: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await t?.stop();
  });

  async function publishEvents(inputs: Input[], token = acme.adminToken): Promise<BatchResult> {
    return (await t.ok<{ publishEvents: BatchResult }>(token, PUBLISH_EVENTS, { inputs })).publishEvents;
  }

  async function count(query: string, params: unknown[] = []): Promise<number> {
    return (await sql.query(query, params)).rows[0].n as number;
  }

  it('accepts the valid items and refuses each invalid one with its code and path, in input order', async () => {
    const subscription = await acme.subscribe({ url: 'http://127.0.0.1:9/batch', channels: ['invoices'] });
    const inputs: Input[] = [
      paid('INV-1'),
      { type: 'invoices.exploded', data: {} },
      paid('INV-3', -4),
      { type: 'invoices.created', data: { blob: 'x'.repeat(256 * 1024) } },
      { type: 'invoices.created', data: { invoiceId: 'INV-5' }, idempotencyKey: 'k'.repeat(256) },
      { type: 'invoices.created', data: { invoiceId: 'INV-6' } },
    ];
    const batch = await publishEvents(inputs);
    expect(batch.results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batch.acceptedCount).toBe(2);
    expect(batch.results.map((r) => r.error && [r.error.code, r.error.field])).toEqual([
      null,
      ['UNKNOWN_EVENT_TYPE', 'inputs.1.type'],
      ['BAD_USER_INPUT', 'inputs.2.data.amount'],
      ['PAYLOAD_TOO_LARGE', 'inputs.3.data'],
      ['BAD_USER_INPUT', 'inputs.4.idempotencyKey'],
      null,
    ]);
    expect(batch.results[2]!.error!.message).toMatch(/inputs\.2\.data\.amount/);
    expect(batch.results.filter((r) => r.error).every((r) => r.event === null && !r.duplicate)).toBe(true);
    expect(batch.results[0]!.event).toMatchObject({ type: 'invoices.paid', data: inputs[0]!.data });
    expect(batch.results[5]!.event).toMatchObject({ type: 'invoices.created', data: { invoiceId: 'INV-6' } });

    // The accepted events are stored with a job each; fanned out, they have a delivery each, due now and
    // claimed by no worker yet (the deliveries table is the delivery engine's queue); the refused ones
    // left nothing behind.
    const ids = [batch.results[0]!.event!.id, batch.results[5]!.event!.id];
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])`, [ids])).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM deliveries WHERE event_id = ANY($1::uuid[])`, [ids])).toBe(0);
    expect(await fanOutNow(t)).toBe(2);
    const { rows } = await sql.query(
      `SELECT d.event_id, d.subscription_id, d.status, d.next_attempt_at <= now() AS due, d.lease_token IS NULL AS unclaimed
       FROM deliveries d WHERE d.event_id = ANY($1::uuid[]) ORDER BY d.event_id`,
      [ids],
    );
    expect(rows).toEqual(
      [...ids].sort().map((id) => ({ event_id: id, subscription_id: subscription.id, status: 'PENDING', due: true, unclaimed: true })),
    );
    expect(await count(`SELECT count(*)::int AS n FROM deliveries WHERE subscription_id = $1`, [subscription.id])).toBe(2);
  });

  it('refuses more than 1,000 items as a whole and stores nothing', async () => {
    const before = await count('SELECT count(*)::int AS n FROM events');
    const inputs = Array.from({ length: 1001 }, (_, i) => ({ type: 'clients.created', data: { clientId: `C-${i}` } }));
    const result = await t.gql(acme.adminToken, PUBLISH_EVENTS, { inputs });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'inputs' }] });
    expect(result.errors?.[0]?.message).toMatch(/1000/);
    expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before);

    const full = await publishEvents(inputs.slice(0, 1000));
    expect(full.acceptedCount).toBe(1000);
  });

  it('refuses a call over the size limit as a whole and stores nothing', async () => {
    const before = await count('SELECT count(*)::int AS n FROM events');
    // Each item is within its own 256 KiB, together they are over 8 MiB.
    const inputs = Array.from({ length: 34 }, (_, i) => ({ type: 'clients.created', data: { clientId: `C-${i}`, blob: 'x'.repeat(250_000) } }));
    const result = await t.gql(acme.adminToken, PUBLISH_EVENTS, { inputs });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'inputs' }] });
    expect(JSON.stringify(result)).not.toMatch(/blob|xxxx/);
    expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before);

    const fits = await publishEvents(inputs.slice(0, 30));
    expect(fits.acceptedCount).toBe(30);
  });

  it('refuses a request body over the HTTP limit as a GraphQL error and stores nothing', async () => {
    const before = await count('SELECT count(*)::int AS n FROM events');
    const inputs = Array.from({ length: 40 }, (_, i) => ({ type: 'clients.created', data: { clientId: `C-${i}`, blob: 'x'.repeat(250_000) } }));
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${acme.adminToken}` },
      body: JSON.stringify({ query: PUBLISH_EVENTS, variables: { inputs } }),
    });
    expect(response.status).toBe(413);
    const result = (await response.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
    expect(result.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'body' }] });
    expect(result.errors[0]!.message).not.toMatch(/at |node_modules|stack/i);
    expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before);
  });

  it('gives one event for one key inside a batch, and refuses the key with other data', async () => {
    const batch = await publishEvents([
      { type: 'deposits.created', data: { depositId: 'D-1', amount: 5 }, idempotencyKey: 'dep-1' },
      { type: 'deposits.created', data: { amount: 5, depositId: 'D-1' }, idempotencyKey: 'dep-1' },
      { type: 'deposits.created', data: { depositId: 'D-1', amount: 6 }, idempotencyKey: 'dep-1' },
      { type: 'deposits.updated', data: { depositId: 'D-1', amount: 5 }, idempotencyKey: 'dep-1' },
    ]);
    const [first, repeat, otherData, otherType] = batch.results;
    expect(first).toMatchObject({ duplicate: false, error: null });
    // The same data with its keys in another order is the same event.
    expect(repeat).toMatchObject({ duplicate: true, error: null, event: { id: first!.event!.id } });
    for (const refused of [otherData!, otherType!]) {
      expect(refused.event).toBeNull();
      expect(refused.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: `inputs.${refused.index}.idempotencyKey` });
    }
    expect(batch.acceptedCount).toBe(2);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE idempotency_key = 'dep-1'`)).toBe(1);
  });

  it('answers a key seen in an earlier batch or publishEvent with the first event, and refuses it with another type or data', async () => {
    const subscription = await acme.subscribe({ url: 'http://127.0.0.1:9/sales', channels: ['sales'] });
    const single = await t.ok<{ publishEvent: { event: { id: string }; duplicate: boolean } }>(acme.adminToken, PUBLISH, {
      input: { type: 'sales.created', data: { saleId: 'S-1', secretNote: 'first' }, idempotencyKey: 'sale-1' },
    });
    const batch = await publishEvents([
      { type: 'sales.created', data: { saleId: 'S-2' }, idempotencyKey: 'sale-2' },
      { type: 'sales.created', data: { saleId: 'S-1', secretNote: 'first' }, idempotencyKey: 'sale-1' },
    ]);
    expect(batch.results[1]).toMatchObject({ duplicate: true, event: { id: single.publishEvent.event.id } });
    const again = await publishEvents([
      { type: 'sales.created', data: { saleId: 'S-2' }, idempotencyKey: 'sale-2' },
      { type: 'sales.updated', data: { saleId: 'S-1', secretNote: 'first' }, idempotencyKey: 'sale-1' },
      { type: 'sales.created', data: { saleId: 'S-3' }, idempotencyKey: 'sale-2' },
    ]);
    expect(again.results[0]).toMatchObject({ duplicate: true, event: { id: batch.results[0]!.event!.id } });
    expect(again.results.slice(1).map((r) => [r.event, r.error?.code])).toEqual([
      [null, 'IDEMPOTENCY_KEY_REUSED'],
      [null, 'IDEMPOTENCY_KEY_REUSED'],
    ]);
    // Two repeats in one batch of a key first used elsewhere for other data: both refused, each under its own path.
    const twice = await publishEvents([
      { type: 'sales.updated', data: { saleId: 'S-9' }, idempotencyKey: 'sale-1' },
      { type: 'sales.updated', data: { saleId: 'S-9' }, idempotencyKey: 'sale-1' },
    ]);
    expect(twice.results.map((r) => r.error?.field)).toEqual(['inputs.0.idempotencyKey', 'inputs.1.idempotencyKey']);
    expect(twice.acceptedCount).toBe(0);
    // Duplicates and refusals queue nothing more: fanned out, the first two events are all there is.
    await fanOutNow(t);
    expect(await count(`SELECT count(*)::int AS n FROM deliveries WHERE subscription_id = $1`, [subscription.id])).toBe(2);

    // A PUBLISHER reusing someone's key for another type learns nothing of the first event.
    const publisher = await createKey(t, acme.adminToken, 'PUBLISHER');
    const reuse = await t.gql(publisher, PUBLISH, { input: { type: 'invoices.created', data: { invoiceId: 'I' }, idempotencyKey: 'sale-1' } });
    expect(reuse.data).toBeNull();
    expect(reuse.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    expect(JSON.stringify(reuse)).not.toMatch(/S-1|secretNote|sales|first/);
  });

  it('lets two racing batches with overlapping keys agree', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const item = (key: string) => ({ type: 'quotes.created', data: { quoteId: key }, idempotencyKey: key });
    // Overlapping in opposite orders: the second half of one is the first half of the other, reversed.
    const one = keys.slice(0, 30).map(item);
    const two = keys.slice(10).reverse().map(item);
    const [a, b] = await Promise.all([publishEvents(one), publishEvents(two)]);
    expect(a.acceptedCount).toBe(30);
    expect(b.acceptedCount).toBe(30);
    const byKey = new Map<string, ItemResult[]>();
    for (const r of [...a.results, ...b.results]) byKey.set(r.event!.idempotencyKey!, [...(byKey.get(r.event!.idempotencyKey!) ?? []), r]);
    for (const key of keys.slice(10, 30)) {
      const both = byKey.get(key)!;
      expect(both).toHaveLength(2);
      expect(both[0]!.event!.id).toBe(both[1]!.event!.id);
      expect(both.filter((r) => !r.duplicate)).toHaveLength(1);
    }
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE idempotency_key LIKE 'race-%'`)).toBe(40);
  });

  it('applies the same checks to the typed mutations, naming their fields', async () => {
    const bad = await t.gql(acme.adminToken, 'mutation($input: InvoicePaidInput!) { recordInvoicePaid(input: $input) { duplicate } }', {
      input: { invoiceId: '', customerId: 'C', amount: 0, currency: 'EUR', paidAt: '2026-11-23T10:00:00Z' },
    });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((bad.errors?.[0]?.extensions?.fields as Array<{ field: string }>).map((f) => f.field).sort()).toEqual(['input.amount', 'input.invoiceId']);
  });
});

describe('a published batch on the wire', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  it('delivers every accepted event of a batch, signed, once per subscription', async () => {
    const payroll = await acme.subscribe({ url: `${receiver.url}/payroll`, channels: ['salary_payments'] });
    receiver.setSecrets([payroll.secret]);
    const inputs = Array.from({ length: 50 }, (_, i) => ({ type: 'salary_payments.created', data: { employeeId: `E-${i}`, amount: 1000 + i } }));
    inputs.push({ type: 'salary_payments.exploded', data: { employeeId: 'E-X', amount: 1 } });
    const batch = (await t.ok<{ publishEvents: BatchResult }>(acme.adminToken, PUBLISH_EVENTS, { inputs })).publishEvents;
    expect(batch.acceptedCount).toBe(50);
    const requests = await receiver.waitFor(50, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.requests).toHaveLength(50);
    expect(requests.every((r) => r.verified)).toBe(true);
    const delivered = receiver.requests.map((r) => (JSON.parse(r.body) as { data: { employeeId: string } }).data.employeeId).sort();
    expect(delivered).toEqual(
      inputs
        .slice(0, 50)
        .map((i) => i.data.employeeId)
        .sort(),
    );
  });
});
