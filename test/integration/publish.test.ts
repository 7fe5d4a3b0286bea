import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { WAKE_CHANNEL } from '../../src/queue/wakeup.js';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { fanOutNow } from '../support/fan-out.js';
import { tenant, type Tenant } from '../support/scenario.js';

const PUBLISH_RETURNING_ID = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const PUBLISH =
  'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id type data idempotencyKey environment } duplicate } }';
const INVOICE_PAID = {
  invoiceId: 'INV12345',
  customerId: 'CUST-9',
  amount: 1250.75,
  currency: 'USD',
  paidAt: '2026-11-23T10:00:00.000Z',
};

describe('publishing events (API only, no workers)', () => {
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

  /** The event's deliveries that are due (queued for the workers), by subscription. */
  async function queuedDeliveries(eventId: string): Promise<Array<{ subscriptionId: string; due: boolean }>> {
    const { rows } = await sql.query(
      `SELECT subscription_id AS "subscriptionId", (status = 'PENDING' AND next_attempt_at <= now()) AS due
       FROM deliveries WHERE event_id = $1 ORDER BY subscription_id`,
      [eventId],
    );
    return rows as Array<{ subscriptionId: string; due: boolean }>;
  }

  it('stores the event with its job; fanned out, it has a delivery per matching subscription, each due at once', async () => {
    const first = await acme.subscribe({ url: 'http://127.0.0.1:9/a', channels: ['invoices'] });
    const second = await acme.subscribe({ url: 'http://127.0.0.1:9/b', channels: ['invoices', 'clients'] });
    await acme.subscribe({ url: 'http://127.0.0.1:9/c', channels: ['clients'] });
    const { publishEvent } = await t.ok<{ publishEvent: { event: { id: string } } }>(acme.adminToken, PUBLISH_RETURNING_ID, {
      input: { type: 'invoices.created', data: { invoiceId: 'INV-1' } },
    });
    const event = publishEvent.event;
    expect(await queuedDeliveries(event.id)).toEqual([]);
    expect(await fanOutNow(t)).toBe(2);
    const queued = await queuedDeliveries(event.id);
    expect(queued).toEqual([first.id, second.id].sort().map((subscriptionId) => ({ subscriptionId, due: true })));
  });

  /** The workers' wake-ups as they are sent, heard on a connection of the test's own. */
  async function listenToWakeUps(): Promise<{ wakeUps: string[]; listener: pg.Client }> {
    const wakeUps: string[] = [];
    const listener = new pg.Client({ connectionString: t.database.url });
    await listener.connect();
    listener.on('notification', (n) => wakeUps.push(n.payload ?? ''));
    await listener.query(`LISTEN ${WAKE_CHANNEL}`);
    return { wakeUps, listener };
  }

  it('wakes the fan-out workers after a commit that queued events, and not after a duplicate', async () => {
    const { wakeUps, listener } = await listenToWakeUps();
    const publish = (quoteId: string) =>
      t.ok(acme.adminToken, PUBLISH, { input: { type: 'quotes.created', data: { quoteId }, idempotencyKey: `quote-${quoteId}` } });
    try {
      await publish('Q-1');
      const deadline = Date.now() + 5000;
      while (wakeUps.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(wakeUps).toEqual(['events']);
      // Wait out anything sent late, then repeat the publish: nothing is queued, nobody is woken.
      await new Promise((r) => setTimeout(r, 300));
      wakeUps.length = 0;
      await publish('Q-1');
      await new Promise((r) => setTimeout(r, 300));
      expect(wakeUps).toEqual([]);
    } finally {
      await listener.end();
    }
  });

  it("wakes only the fan-out of the queues that a publish put events in: the ledger queue's for a ledger event", async () => {
    const { wakeUps, listener } = await listenToWakeUps();
    const settled = async (count: number) => {
      const deadline = Date.now() + 5000;
      while (wakeUps.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
    };
    try {
      // Without keys: sent at once, the wake-up after the COMMIT in the same write.
      await t.ok(acme.adminToken, PUBLISH, { input: { type: 'ledgers.created', data: { ledgerId: 'L-1' } } });
      await settled(1);
      expect(wakeUps).toEqual(['ledger-events']);
      wakeUps.length = 0;
      // With a key: statement by statement, the wake-up sent after the commit.
      await t.ok(acme.adminToken, PUBLISH, { input: { type: 'ledgers.created', data: { ledgerId: 'L-2' }, idempotencyKey: 'ledger-L-2' } });
      await settled(1);
      expect(wakeUps).toEqual(['ledger-events']);
      wakeUps.length = 0;
      await t.ok(acme.adminToken, 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }', {
        inputs: [
          { type: 'ledgers.created', data: { ledgerId: 'L-3' } },
          { type: 'invoices.created', data: { invoiceId: 'INV-3' } },
        ],
      });
      await settled(2);
      expect([...wakeUps].sort()).toEqual(['events', 'ledger-events']);
    } finally {
      await listener.end();
    }
  });

  it('stores no event when its queue job cannot be written, and shows no SQL', async () => {
    await acme.subscribe({ url: 'http://127.0.0.1:9/refused', channels: ['invoices'] });
    await sql.query(`CREATE FUNCTION public.refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'queue refused'; END $$`);
    await sql.query(`CREATE TRIGGER refuse_jobs BEFORE INSERT ON pgboss.job FOR EACH ROW EXECUTE FUNCTION public.refuse_jobs()`);
    try {
      const before = (await sql.query(`SELECT count(*)::int AS n FROM events`)).rows[0].n as number;
      const result = await t.gql(acme.adminToken, PUBLISH, { input: { type: 'invoices.created', data: { invoiceId: 'X' } } });
      expect(result.errors?.[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(JSON.stringify(result)).not.toMatch(/queue refused|INSERT|pgboss/);
      expect((await sql.query(`SELECT count(*)::int AS n FROM events`)).rows[0].n).toBe(before);
    } finally {
      await sql.query('DROP TRIGGER refuse_jobs ON pgboss.job');
      await sql.query('DROP FUNCTION public.refuse_jobs()');
    }
  });

  /**
   * Holds every event insert, by locking the events table in a transaction of the test's own:
   * `blocked` resolves once a publishing transaction waits for the lock, `release` lets it go after
   * the publishes sent meanwhile have had time to reach the API.
   */
  async function holdEventInserts(): Promise<{ blocked: () => Promise<void>; release: () => Promise<void> }> {
    const holder = new pg.Client({ connectionString: t.database.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE events IN SHARE MODE');
    return {
      blocked: async () => {
        const deadline = Date.now() + 10_000;
        const waiting = async () =>
          (
            await sql.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'hookline-publish'`,
            )
          ).rows[0].n as number;
        while ((await waiting()) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      },
      release: async () => {
        await new Promise((r) => setTimeout(r, 500));
        await holder.query('COMMIT');
        await holder.end();
      },
    };
  }

  /** Transactions that stored the events: each row's xmin is the id of the transaction that inserted it. */
  async function transactionsOf(eventIds: readonly string[]): Promise<number> {
    return (await sql.query(`SELECT count(DISTINCT xmin::text)::int AS n FROM events WHERE id = ANY($1::uuid[])`, [eventIds])).rows[0].n as number;
  }

  async function jobsOf(eventIds: readonly string[]): Promise<number> {
    return (await sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'eventId' = ANY($1::text[])`, [eventIds])).rows[0].n as number;
  }

  it('stores the publishes that arrive while one of a publisher is under way together, each answered with its own event', async () => {
    const hold = await holdEventInserts();
    const publishes = Array.from({ length: 20 }, (_, n) =>
      t.ok<{ publishEvent: { event: { id: string; data: { n: number } } } }>(acme.adminToken, PUBLISH, {
        input: { type: 'invoices.created', data: { n } },
      }),
    );
    await hold.blocked();
    await hold.release();
    const events = (await Promise.all(publishes)).map((p) => p.publishEvent.event);
    expect(events.map((e) => e.data.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(20);
    expect(await jobsOf(ids)).toBe(20);
    // One transaction was under way; the other nineteen publishes went in far fewer than nineteen.
    expect(await transactionsOf(ids)).toBeLessThanOrEqual(4);
  });

  it('stores the rest of a group whose transaction fails, each publish alone, and fails only the publish at fault', async () => {
    await sql.query(
      `CREATE FUNCTION public.refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.data->>'refuse' = 'yes' THEN RAISE EXCEPTION 'event refused'; END IF; RETURN NEW; END $$`,
    );
    await sql.query(`CREATE TRIGGER refuse_marked BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.refuse_marked()`);
    try {
      const hold = await holdEventInserts();
      const publish = (n: number) =>
        t.gql<{ publishEvent: { event: { id: string } } }>(acme.adminToken, PUBLISH, {
          input: { type: 'invoices.created', data: n === 6 ? { n, refuse: 'yes' } : { n } },
        });
      // The first publish's transaction waits for the lock, so that the refused one is in the group behind it.
      const first = publish(0);
      await hold.blocked();
      const publishes = [first, ...Array.from({ length: 9 }, (_, n) => publish(n + 1))];
      await hold.release();
      const results = await Promise.all(publishes);
      results.forEach((result, n) => {
        if (n === 6) {
          expect(result.errors?.[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
          expect(JSON.stringify(result)).not.toMatch(/event refused|INSERT/);
        } else {
          expect(result.errors, `publish ${n}`).toBeUndefined();
        }
      });
      const ids = results.filter((_, n) => n !== 6).map((r) => r.data!.publishEvent.event.id);
      expect((await sql.query(`SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])`, [ids])).rows[0].n).toBe(9);
      expect(await jobsOf(ids)).toBe(9);
    } finally {
      await sql.query('DROP TRIGGER refuse_marked ON events');
      await sql.query('DROP FUNCTION public.refuse_marked()');
    }
  });

  it('publishes the typed domain events', async () => {
    const paid = await t.ok<{ recordInvoicePaid: { event: { type: string; data: unknown }; duplicate: boolean } }>(
      acme.adminToken,
      'mutation($input: InvoicePaidInput!) { recordInvoicePaid(input: $input) { event { type data } duplicate } }',
      { input: INVOICE_PAID },
    );
    expect(paid.recordInvoicePaid).toEqual({ event: { type: 'invoices.paid', data: INVOICE_PAID }, duplicate: false });

    const dispute = await t.ok<{ openDispute: { event: { type: string; data: Record<string, unknown> } } }>(
      acme.adminToken,
      `mutation { openDispute(input: { invoiceId: "INV1", customerId: "C1", reason: "Goods not received",
         openedAt: "2026-11-20T09:00:00Z", idempotencyKey: "dispute-1" }) { event { type data } } }`,
    );
    expect(dispute.openDispute.event).toEqual({
      type: 'disputes.opened',
      data: { invoiceId: 'INV1', customerId: 'C1', reason: 'Goods not received', openedAt: '2026-11-20T09:00:00.000Z' },
    });

    const promise = await t.ok<{ recordPromiseToPay: { event: { type: string; data: Record<string, unknown> } } }>(
      acme.adminToken,
      'mutation { recordPromiseToPay(input: { invoiceId: "INV1", customerId: "C1", promisedDate: "2026-12-15" }) { event { type data } } }',
    );
    expect(promise.recordPromiseToPay.event).toEqual({
      type: 'promises_to_pay.created',
      data: { invoiceId: 'INV1', customerId: 'C1', promisedDate: '2026-12-15' },
    });
  });

  it('rejects unknown types, oversized data, schema violations and bad typed input, naming the field', async () => {
    const unknown = await t.gql(acme.adminToken, PUBLISH, { input: { type: 'invoices.exploded', data: {} } });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('UNKNOWN_EVENT_TYPE');

    const big = await t.gql(acme.adminToken, PUBLISH, { input: { type: 'invoices.created', data: { blob: 'x'.repeat(256 * 1024) } } });
    expect(big.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');

    const schema = await t.gql(acme.adminToken, PUBLISH, { input: { type: 'invoices.paid', data: { invoiceId: 'INV1' } } });
    expect(schema.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const fields = (schema.errors?.[0]?.extensions?.fields as Array<{ field: string }>).map((f) => f.field);
    expect(fields.every((f) => f.startsWith('input.data'))).toBe(true);

    const currency = await t.gql(acme.adminToken, 'mutation($input: InvoicePaidInput!) { recordInvoicePaid(input: $input) { duplicate } }', {
      input: { ...INVOICE_PAID, currency: 'EURO', amount: -5 },
    });
    expect(currency.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect([...new Set((currency.errors?.[0]?.extensions?.fields as Array<{ field: string }>).map((f) => f.field))].sort()).toEqual([
      'input.amount',
      'input.currency',
    ]);

    const date = await t.gql(
      acme.adminToken,
      'mutation { recordPromiseToPay(input: { invoiceId: "I", customerId: "C", promisedDate: "2026-02-30" }) { duplicate } }',
    );
    expect(date.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.promisedDate' }] });

    const longKey = await t.gql(acme.adminToken, PUBLISH, { input: { type: 'invoices.created', data: {}, idempotencyKey: 'k'.repeat(256) } });
    expect(longKey.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.idempotencyKey' }] });
  });

  it('keeps idempotency keys per environment and queues nothing for a repeat', async () => {
    const stagingAdmin = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    const subscription = await acme.subscribe({ url: 'http://127.0.0.1:9/once', channels: ['clients'] });
    const first = await acme.publish('clients.created', { clientId: 'C-1' }, 'same-key');
    const repeat = await acme.publish('clients.created', { clientId: 'C-1' }, 'same-key');
    expect(repeat).toEqual({ event: { id: first.event.id }, duplicate: true });
    const queued = await queuedDeliveries(first.event.id);
    expect(queued.filter((d) => d.subscriptionId === subscription.id)).toHaveLength(1);
    expect((await sql.query(`SELECT count(*)::int AS n FROM deliveries WHERE event_id = $1`, [repeat.event.id])).rows[0].n).toBe(queued.length);
    const staging = await acme.publish('clients.created', { clientId: 'C-1' }, 'same-key', stagingAdmin);
    expect(staging.duplicate).toBe(false);
    expect(staging.event.id).not.toBe(first.event.id);
  });

  it('lets PUBLISHER and ADMIN publish, and nobody else', async () => {
    const publisher = await createKey(t, acme.adminToken, 'PUBLISHER');
    const viewer = await createKey(t, acme.adminToken, 'VIEWER');
    const ok = await t.gql(publisher, PUBLISH, { input: { type: 'sales.created', data: {} } });
    expect(ok.errors).toBeUndefined();
    for (const token of [viewer, t.operatorToken]) {
      const denied = await t.gql(token, PUBLISH, { input: { type: 'sales.created', data: {} } });
      expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const readDenied = await t.gql(publisher, '{ deliveries { totalCount } }');
    expect(readDenied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const readOk = await t.gql(viewer, '{ events { totalCount } deliveries { totalCount } }');
    expect(readOk.errors).toBeUndefined();
  });

  it('treats ids of another account or environment as ids that do not exist', async () => {
    const other = await tenant(t, 'Other');
    const stagingAdmin = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    const sub = await acme.subscribe({ url: 'http://127.0.0.1:9/x', channels: ['invoices'] });
    const test = await t.ok<{ sendTestEvent: { id: string; event: { id: string } } }>(
      acme.adminToken,
      'mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id event { id } } }',
      { id: sub.id },
    );
    const deliveryId = test.sendTestEvent.id;
    const eventId = test.sendTestEvent.event.id;
    const operations: Array<[string, Record<string, unknown>]> = [
      ['mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', { id: deliveryId }],
      ['mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id } }', { id: sub.id }],
      ['mutation($id: ID!) { replayFailedDeliveries(subscriptionId: $id, since: "2020-01-01T00:00:00Z") }', { id: sub.id }],
    ];
    for (const token of [other.adminToken, stagingAdmin]) {
      const lookups = await t.gql(token, 'query($e: ID!, $d: ID!) { event(id: $e) { id } delivery(id: $d) { id } }', {
        e: eventId,
        d: deliveryId,
      });
      expect(lookups.errors).toBeUndefined();
      expect(lookups.data).toEqual({ event: null, delivery: null });
      for (const [query, variables] of operations) {
        const result = await t.gql(token, query, variables);
        expect(result.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
      }
      const lists = await t.ok<{ events: { nodes: Array<{ id: string }> }; deliveries: { totalCount: number } }>(
        token,
        `{ events(first: 500) { nodes { id } } deliveries(filter: { subscriptionId: "${sub.id}" }) { totalCount } }`,
      );
      expect(lists.deliveries.totalCount).toBe(0);
      expect(lists.events.nodes.map((n) => n.id)).not.toContain(eventId);
    }
    const malformed = await t.gql(acme.adminToken, '{ delivery(id: "42") { id } event(id: "42") { id } }');
    expect(malformed.errors).toBeUndefined();
    expect(malformed.data).toEqual({ delivery: null, event: null });
    const own = await t.ok<{ event: { id: string }; delivery: { id: string } }>(
      acme.adminToken,
      'query($e: ID!, $d: ID!) { event(id: $e) { id } delivery(id: $d) { id } }',
      { e: eventId, d: deliveryId },
    );
    expect(own).toEqual({ event: { id: eventId }, delivery: { id: deliveryId } });
  });
});
