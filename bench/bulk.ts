/**
 * Bulk rows for the backlog and history scenarios, written straight to the
 * database because a million of them through GraphQL and the fan-out would
 * take longer than the measurement.
 *
 * Backlog (pending deliveries): mirrors what publishEvent and the fan-out
 * write (src/events/service.ts, src/deliveries/service.ts), batched: events
 * with UUIDv7 ids; deliveries through the same
 * `INSERT ... SELECT FROM unnest(...) ON CONFLICT (event_id, subscription_id)
 * DO NOTHING` statement with now() as next_attempt_at (the deliveries
 * table is the workers' queue). What is left out: the publish requests.
 *
 * History (settled deliveries): events spread over the last 30 days, one
 * SUCCEEDED delivery per event and subscription and one successful attempt
 * each (status 200, an empty body, 5 to 55 ms), ids UUIDv7 of their
 * timestamps, generated in SQL.
 */
import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { nowMs } from './stats.js';

export interface Scope {
  accountId: string;
  environment: string;
}

export async function scopeOf(db: pg.Pool, subscriptionId: string): Promise<Scope> {
  const { rows } = await db.query<{ account_id: string; environment: string }>('SELECT account_id, environment FROM webhook_subscriptions WHERE id = $1', [subscriptionId]);
  if (!rows[0]) throw new Error(`subscription ${subscriptionId} not found`);
  return { accountId: rows[0].account_id, environment: rows[0].environment };
}

/** `total` pending deliveries spread over the subscriptions, `subscriptionIds.length` per event; returns how many. */
export async function insertBacklog(db: pg.Pool, scope: Scope, subscriptionIds: string[], total: number, phase: string, onProgress?: (done: number) => void): Promise<number> {
  const fanout = subscriptionIds.length;
  const eventsTotal = Math.ceil(total / fanout);
  const eventsPerBatch = Math.max(1, Math.floor(5_000 / fanout));
  let inserted = 0;
  for (let e = 0; e < eventsTotal; e += eventsPerBatch) {
    const n = Math.min(eventsPerBatch, eventsTotal - e);
    const eventIds = Array.from({ length: n }, () => uuidv7());
    const sentAt = nowMs();
    const data = eventIds.map((_, k) => JSON.stringify({ sentAt, phase, seq: e + k, invoiceId: `INV${e + k}`, customerId: 'CUST42', amount: 1234.5, currency: 'EUR' }));
    const deliveryIds: string[] = [];
    const deliveryEvents: string[] = [];
    const deliverySubscriptions: string[] = [];
    for (const eventId of eventIds) {
      for (const subscriptionId of subscriptionIds) {
        deliveryIds.push(uuidv7());
        deliveryEvents.push(eventId);
        deliverySubscriptions.push(subscriptionId);
      }
    }
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO events (id, account_id, environment, type, data, idempotency_key)
         SELECT e.id, $1, $2, 'invoices.created', e.data::jsonb, NULL FROM unnest($3::uuid[], $4::text[]) AS e(id, data)`,
        [scope.accountId, scope.environment, eventIds, data],
      );
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, next_attempt_at)
         SELECT d.id, $1, $2, d.event_id, d.subscription_id, now()
         FROM unnest($3::uuid[], $4::uuid[], $5::uuid[]) AS d(id, event_id, subscription_id)
         ON CONFLICT (event_id, subscription_id) DO NOTHING
         RETURNING id`,
        [scope.accountId, scope.environment, deliveryIds, deliveryEvents, deliverySubscriptions],
      );
      await client.query('COMMIT');
      inserted += rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    onProgress?.(inserted);
  }
  return inserted;
}

/** UUIDv7 of a timestamp: a random (v4) uuid with the millisecond time in its first 48 bits and the version set to 7. */
const UUIDV7_FUNCTION = `
  CREATE OR REPLACE FUNCTION pg_temp.bench_uuidv7(ts timestamptz) RETURNS uuid AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
             PLACING substring(int8send((extract(epoch FROM ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
  $$ LANGUAGE sql VOLATILE`;

/**
 * About `attempts` rows of settled history (one attempt per delivery) over
 * the subscriptions, spread over 30 days that ended `olderThanDays` ago;
 * returns how many.
 */
export async function insertHistory(
  db: pg.Pool,
  scope: Scope,
  subscriptionIds: string[],
  attempts: number,
  onProgress?: (done: number) => void,
  olderThanDays = 0,
): Promise<number> {
  const fanout = subscriptionIds.length;
  const eventsTotal = Math.ceil(attempts / fanout);
  const eventsPerChunk = Math.max(1, Math.floor(100_000 / fanout));
  const client = await db.connect();
  let inserted = 0;
  try {
    await client.query(UUIDV7_FUNCTION);
    for (let e = 0; e < eventsTotal; e += eventsPerChunk) {
      const n = Math.min(eventsPerChunk, eventsTotal - e);
      const result = await client.query(
        `WITH ev AS (
           INSERT INTO events (id, account_id, environment, type, data, idempotency_key, created_at)
           SELECT pg_temp.bench_uuidv7(s.ts), $1, $2, 'invoices.created',
                  jsonb_build_object('seq', s.g, 'invoiceId', 'INV' || s.g, 'customerId', 'CUST42', 'amount', 1234.5, 'currency', 'EUR'), NULL, s.ts
           FROM (SELECT g, now() - make_interval(days => 30 + $7::int) + g * ($5::float8 * interval '1 second') AS ts
                 FROM generate_series($3::int, $4::int) AS g) AS s
           RETURNING id, created_at
         ), d AS (
           INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, status, attempt_count,
                                   next_attempt_at, last_attempt_at, created_at, updated_at)
           SELECT pg_temp.bench_uuidv7(ev.created_at), $1, $2, ev.id, sub.id, 'SUCCEEDED', 1,
                  NULL, ev.created_at + interval '50 milliseconds', ev.created_at, ev.created_at + interval '50 milliseconds'
           FROM ev CROSS JOIN unnest($6::uuid[]) AS sub(id)
           RETURNING id, subscription_id, created_at
         )
         INSERT INTO delivery_attempts (id, delivery_id, subscription_id, number, started_at, duration_ms, response_status, response_body, error, succeeded)
         SELECT pg_temp.bench_uuidv7(d.created_at), d.id, d.subscription_id, 1, d.created_at, 5 + floor(random() * 50)::int, 200, '', NULL, true
         FROM d`,
        [scope.accountId, scope.environment, e, e + n - 1, (30 * 86_400) / eventsTotal, subscriptionIds, olderThanDays],
      );
      inserted += result.rowCount ?? 0;
      onProgress?.(inserted);
    }
    await client.query('ANALYZE events');
    await client.query('ANALYZE deliveries');
    await client.query('ANALYZE delivery_attempts');
  } finally {
    client.release();
  }
  return inserted;
}
