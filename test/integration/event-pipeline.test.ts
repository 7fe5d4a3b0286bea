import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { DeadLetters } from '../../src/fanout/dead-letters.js';
import { QUEUES } from '../../src/queue/jobs.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { fanOutNow } from '../support/fan-out.js';
import { tenant, type Tenant } from '../support/scenario.js';

/**
 * The pipeline on an API-only app: a publish leaves its events in pg-boss
 * queues and writes no delivery; fanning out (as a worker does) applies the
 * channel rules. Events sent straight into the queue by another service are
 * checked like a publish, and refused ones are dead-lettered with a reason.
 */
describe('the event pipeline', () => {
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

  async function waitingJobs(): Promise<Record<string, number>> {
    const { rows } = await sql.query<{ name: string; n: number }>(
      `SELECT name, count(*)::int AS n FROM pgboss.job WHERE name LIKE 'hookline.%' AND state IN ('created', 'retry') GROUP BY name`,
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.n]));
  }

  async function deliveriesOf(subscriptionId: string): Promise<Array<{ type: string }>> {
    const { rows } = await sql.query<{ type: string }>(
      `SELECT e.type FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.subscription_id = $1 ORDER BY e.id`,
      [subscriptionId],
    );
    return rows;
  }

  async function publishRaw(type: string, data: unknown, extra: Record<string, unknown> = {}) {
    return t.ok<{ publishEvent: { event: { id: string } } }>(
      acme.adminToken,
      `mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }`,
      { input: { type, data, ...extra } },
    );
  }

  it('commits each event with its job in its channel queue, writes no delivery in the API, and fans out with the channel rules', async () => {
    const invoices = await acme.subscribe({ url: 'http://127.0.0.1:9/invoices', channels: ['invoices'] });
    const ledgers = await acme.subscribe({ url: 'http://127.0.0.1:9/ledgers', channels: ['ledgers'] });
    for (let i = 0; i < 5; i++) {
      await publishRaw('invoices.created', { n: i });
      await publishRaw('ledgers.created', { n: i });
    }
    expect(await waitingJobs()).toEqual({ [QUEUES.events]: 5, [QUEUES.ledgerEvents]: 5 });
    expect((await sql.query(`SELECT count(*)::int AS n FROM deliveries`)).rows[0].n).toBe(0);

    expect(await fanOutNow(t)).toBe(10);
    expect(await waitingJobs()).toEqual({});
    expect((await deliveriesOf(invoices.id)).map((d) => d.type)).toEqual(Array(5).fill('invoices.created'));
    expect((await deliveriesOf(ledgers.id)).map((d) => d.type)).toEqual(Array(5).fill('ledgers.created'));
    // Fanning out again adds nothing: each job was completed with its deliveries.
    expect(await fanOutNow(t)).toBe(0);
  });

  it('numbers events per ordering key, and their deliveries per subscription and key without gaps', async () => {
    const bills = await acme.subscribe({ url: 'http://127.0.0.1:9/bills', channels: ['bills'], events: ['bills.updated'] });
    const ids: string[] = [];
    for (const type of ['bills.created', 'bills.updated', 'bills.created', 'bills.updated']) {
      ids.push((await publishRaw(type, { n: ids.length }, { orderingKey: 'BILL-1' })).publishEvent.event.id);
    }
    const { rows: events } = await sql.query(`SELECT ordering_key, sequence FROM events WHERE id = ANY($1::uuid[]) ORDER BY sequence`, [ids]);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    await fanOutNow(t);
    // The subscription takes only updates: the events 2 and 4, as its deliveries 1 and 2.
    const { rows } = await sql.query(
      `SELECT e.sequence AS event_sequence, d.sequence, d.order_wait FROM deliveries d JOIN events e ON e.id = d.event_id
       WHERE d.subscription_id = $1 ORDER BY d.sequence`,
      [bills.id],
    );
    expect(rows).toEqual([
      { event_sequence: 2, sequence: 1, order_wait: false },
      { event_sequence: 4, sequence: 2, order_wait: true },
    ]);
  });

  it('takes an event that another service sends into the queue in its own transaction, and dead-letters refused ones with their reasons', async () => {
    const payments = await acme.subscribe({ url: 'http://127.0.0.1:9/payments', channels: ['invoice_payments'] });
    await sql.query(`CREATE TABLE IF NOT EXISTS erp_payments (id text PRIMARY KEY)`);
    const send = async (data: object) => {
      await sql.query('BEGIN');
      await sql.query(`INSERT INTO erp_payments (id) VALUES ($1)`, [`P-${Math.random()}`]);
      await t.app.boss.send(QUEUES.events, data, { db: { executeSql: (text, values) => sql.query(text, values) } });
      await sql.query('COMMIT');
    };
    const accountId = acme.accountId;
    await send({
      version: 1,
      accountId,
      environment: 'PRODUCTION',
      type: 'invoice_payments.created',
      data: { paymentId: 'P-1' },
      idempotencyKey: 'pay-1',
    });
    await send({ version: 1, accountId, environment: 'PRODUCTION', type: 'refunds.created', data: { refundId: 'R-1' } });
    await send({ version: 2, accountId });
    // A rolled-back business write takes its event with it.
    await sql.query('BEGIN');
    await t.app.boss.send(
      QUEUES.events,
      { version: 1, accountId, environment: 'PRODUCTION', type: 'invoice_payments.created', data: { paymentId: 'P-2' } },
      { db: { executeSql: (text, values) => sql.query(text, values) } },
    );
    await sql.query('ROLLBACK');

    expect(await fanOutNow(t)).toBe(1);
    const delivered = await sql.query(
      `SELECT e.data, e.idempotency_key FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.subscription_id = $1`,
      [payments.id],
    );
    expect(delivered.rows).toEqual([{ data: { paymentId: 'P-1' }, idempotency_key: 'pay-1' }]);

    const letters = new DeadLetters(t.app.db, t.app.boss);
    const listed = await letters.list();
    expect(listed.map((l) => [l.kind, l.reason.code, l.reason.field])).toEqual(
      expect.arrayContaining([
        ['refused', 'UNKNOWN_EVENT_TYPE', 'type'],
        ['refused', 'MALFORMED_JOB', 'version'],
      ]),
    );
    expect(listed).toHaveLength(2);
    expect(listed.find((l) => l.reason.code === 'UNKNOWN_EVENT_TYPE')!.reason.message).toContain('refunds.created');

    // Once the cause is fixed, a re-drive sends the event through.
    await t.ok(acme.adminToken, `mutation { defineEventType(input: { name: "refunds.created", description: "A refund was made" }) { name } }`);
    const refunds = await acme.subscribe({ url: 'http://127.0.0.1:9/refunds', channels: ['refunds'] });
    const unknownType = listed.find((l) => l.reason.code === 'UNKNOWN_EVENT_TYPE')!;
    expect(await letters.redrive([unknownType.id])).toBe(1);
    expect(await fanOutNow(t)).toBe(1);
    expect(await deliveriesOf(refunds.id)).toEqual([{ type: 'refunds.created' }]);
    expect((await letters.list()).map((l) => l.reason.code)).toEqual(['MALFORMED_JOB']);
  });
});
