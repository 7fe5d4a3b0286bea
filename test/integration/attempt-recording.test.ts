import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AttemptStore, type AttemptContext, type AttemptEntry, type ClaimLimits } from '../../src/delivery-engine/attempt-store.js';
import { createPipelinedPool } from '../../src/db/pipeline.js';
import { FIRST_PROBE_DELAY_MS, HOLD_AFTER_FAILURES } from '../../src/delivery-engine/endpoint-health.js';
import { newId } from '../../src/ids.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

/**
 * Claiming and recording, driven by hand on an API-only app (no worker
 * claims anything), to pin down what a claim takes and what a group of
 * attempts writes.
 */
describe('claiming deliveries and recording their attempts', () => {
  let t: TestApp;
  let acme: Tenant;
  let sql: pg.Client;
  let store: AttemptStore;
  let claimPool: pg.Pool;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
    // Claims on a pipelined connection, as a worker makes them.
    claimPool = createPipelinedPool(t.database.url, 1, 'test-claim');
    store = new AttemptStore(t.app.db, t.app.services.catalog, t.app.services.subscriptions, undefined, claimPool);
  });
  afterAll(async () => {
    await claimPool?.end();
    await sql?.end();
    await t?.stop();
  });

  const limits = (owner: string, overrides: Partial<ClaimLimits> = {}): ClaimLimits => ({
    owner,
    limit: 100,
    leaseSeconds: 60,
    defaultMaxInFlight: 10,
    maxInFlightPerEndpoint: 100,
    maxInFlightPerAccount: 100,
    inFlightByEndpoint: new Map(),
    inFlightByAccount: new Map(),
    ...overrides,
  });

  /** A new subscription on its own channel with `count` deliveries due. */
  async function pending(channel: string, count: number, input: { maxInFlight?: number } = {}) {
    const subscription = await acme.subscribe({ url: `http://127.0.0.1:9/${channel}`, channels: [channel], retrySchedule: [60, 60, 60], ...input });
    for (let i = 0; i < count; i++) await acme.publish(`${channel}.created`, { n: i });
    return subscription.id;
  }

  const mine = (contexts: AttemptContext[], subscriptionId: string) => contexts.filter((c) => c.subscription.id === subscriptionId);

  function entry(context: AttemptContext, startedAt: Date, outcome: AttemptEntry['outcome'], status: number): AttemptEntry {
    return {
      context,
      attempt: { startedAt, durationMs: 12, responseStatus: status, responseBody: null, error: null, succeeded: status < 300 },
      outcome,
    };
  }

  async function row(deliveryId: string) {
    const { rows } = await sql.query(
      `SELECT d.status, d.attempt_count, d.lease_token, d.next_attempt_at, d.last_attempt_at, s.failing_since, s.health_state, s.consecutive_failures,
              (SELECT array_agg(a.number ORDER BY a.number) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS numbers
       FROM deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`,
      [deliveryId],
    );
    return rows[0] as {
      status: string;
      attempt_count: number;
      lease_token: string | null;
      next_attempt_at: Date | null;
      last_attempt_at: Date | null;
      failing_since: Date | null;
      health_state: string;
      consecutive_failures: number;
      numbers: number[] | null;
    };
  }

  it('claims each due delivery once, under a lease, and settles successes and schedules retries', async () => {
    const subscriptionId = await pending('invoices', 2);
    const owner = newId();
    const claimed = mine(await store.claim(limits(owner)), subscriptionId);
    expect(claimed).toHaveLength(2);
    expect(claimed.every((c) => c.delivery.leaseToken && c.delivery.leaseOwner === owner)).toBe(true);
    // Leased deliveries are not claimed again, by this worker or another.
    expect(mine(await store.claim(limits(newId())), subscriptionId)).toHaveLength(0);

    const [first, second] = claimed.sort((x, y) => (x.delivery.id < y.delivery.id ? -1 : 1));
    const t0 = new Date(Date.now() - 10_000);
    const t1 = new Date(t0.getTime() + 1000);
    // The lower id fails earlier and the success comes after it: the failure streak ends.
    await store.record([entry(second!, t1, { kind: 'succeeded' }, 200), entry(first!, t0, { kind: 'retry', delayMs: 60_000 }, 500)]);

    const retrying = await row(first!.delivery.id);
    expect(retrying).toMatchObject({ status: 'RETRYING', attempt_count: 1, numbers: [1], last_attempt_at: t0, lease_token: null });
    expect(retrying.next_attempt_at?.getTime()).toBe(t0.getTime() + 12 + 60_000);
    expect(retrying).toMatchObject({ failing_since: null, health_state: 'HEALTHY', consecutive_failures: 0 });
    expect(await row(second!.delivery.id)).toMatchObject({
      status: 'SUCCEEDED',
      attempt_count: 1,
      numbers: [1],
      lease_token: null,
      next_attempt_at: null,
    });
    // The retry is not due yet.
    expect(mine(await store.claim(limits(owner)), subscriptionId)).toHaveLength(0);
  });

  it('records an attempt made under a lease that was taken over, without letting it move the schedule', async () => {
    const subscriptionId = await pending('bills', 1);
    const [stale] = mine(await store.claim(limits(newId())), subscriptionId);
    // An expired lease (its worker stalled) hands the delivery to a new claim.
    await sql.query(`UPDATE deliveries SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [stale!.delivery.id]);
    const [current] = mine(await store.claim(limits(newId())), subscriptionId);
    expect(current!.delivery.leaseToken).not.toBe(stale!.delivery.leaseToken);

    const t0 = new Date(Date.now() - 5000);
    await store.record([entry(stale!, t0, { kind: 'retry', delayMs: 1000 }, 500)]);
    expect(await row(stale!.delivery.id)).toMatchObject({
      status: 'PENDING',
      attempt_count: 1,
      numbers: [1],
      lease_token: current!.delivery.leaseToken,
    });

    await store.record([entry(current!, new Date(t0.getTime() + 100), { kind: 'retry', delayMs: 60_000 }, 500)]);
    const after = await row(stale!.delivery.id);
    expect(after).toMatchObject({ status: 'RETRYING', attempt_count: 2, numbers: [1, 2], lease_token: null });
    expect(after.next_attempt_at?.getTime()).toBe(t0.getTime() + 100 + 12 + 60_000);
  });

  it('keeps deliveries in flight per endpoint within its cap, fleet-wide and per worker', async () => {
    const capped = await pending('sales', 5, { maxInFlight: 2 });
    const a = newId();
    const b = newId();
    const first = mine(await store.claim(limits(a)), capped);
    expect(first).toHaveLength(2);
    expect(mine(await store.claim(limits(b)), capped)).toHaveLength(0);
    await store.record([entry(first[0]!, new Date(), { kind: 'succeeded' }, 200)]);
    expect(mine(await store.claim(limits(b)), capped)).toHaveLength(1);

    const shared = await pending('deposits', 4);
    const inA = new Map<string, number>();
    const fromA = mine(await store.claim(limits(a, { maxInFlightPerEndpoint: 1, inFlightByEndpoint: inA })), shared);
    expect(fromA).toHaveLength(1);
    inA.set(shared, 1);
    expect(mine(await store.claim(limits(a, { maxInFlightPerEndpoint: 1, inFlightByEndpoint: inA })), shared)).toHaveLength(0);
    expect(mine(await store.claim(limits(b, { maxInFlightPerEndpoint: 1 })), shared)).toHaveLength(1);
  });

  it('records a group and, in the same transaction, claims for the slots its leases gave back, within the cap', async () => {
    const capped = await pending('wallet_transactions', 5, { maxInFlight: 2 });
    const owner = newId();
    const first = mine(await store.claim(limits(owner)), capped);
    expect(first).toHaveLength(2);
    // At its cap: a claim alone gets nothing more.
    expect(mine(await store.claim(limits(newId())), capped)).toHaveLength(0);

    const result = await store.recordAndClaim(
      first.map((c) => entry(c, new Date(), { kind: 'succeeded' }, 200)),
      limits(owner),
    );
    const next = mine(result!.claimed, capped);
    expect(next).toHaveLength(2);
    expect(next.every((c) => c.delivery.leaseOwner === owner && !first.some((f) => f.delivery.id === c.delivery.id))).toBe(true);
    expect(result!.secretRows.some((r) => r.subscription_id === capped)).toBe(true);
    for (const c of first) expect(await row(c.delivery.id)).toMatchObject({ status: 'SUCCEEDED', numbers: [1], lease_token: null });

    // A group after which an endpoint's health changes is recorded in a transaction of its own, and claims nothing.
    const failed = await store.recordAndClaim([entry(next[0]!, new Date(), { kind: 'retry', delayMs: 60_000 }, 500)], limits(owner));
    expect(failed).toBeUndefined();
    expect(await row(next[0]!.delivery.id)).toMatchObject({ status: 'RETRYING', numbers: [1], lease_token: null });
    expect(mine(await store.claim(limits(newId())), capped)).toHaveLength(1);
  });

  it('holds an endpoint after consecutive failures, probes it once when due, and releases it on success', async () => {
    const subscriptionId = await pending('quotes', HOLD_AFTER_FAILURES + 2, { maxInFlight: HOLD_AFTER_FAILURES });
    const owner = newId();
    const claimed = mine(await store.claim(limits(owner)), subscriptionId);
    expect(claimed).toHaveLength(HOLD_AFTER_FAILURES);
    const t0 = new Date(Date.now() - 60_000);
    await store.record(claimed.map((c, i) => entry(c, new Date(t0.getTime() + i), { kind: 'retry', delayMs: 3_600_000 }, 500)));
    const {
      rows: [held],
    } = await sql.query(`SELECT health_state, consecutive_failures, next_probe_at, health_since FROM webhook_subscriptions WHERE id = $1`, [
      subscriptionId,
    ]);
    expect(held).toMatchObject({ health_state: 'HELD', consecutive_failures: HOLD_AFTER_FAILURES });
    expect(held.next_probe_at.getTime()).toBe(t0.getTime() + HOLD_AFTER_FAILURES - 1 + 12 + FIRST_PROBE_DELAY_MS);

    // The probe was due long ago (the attempts are back-dated): one delivery, and only one, is claimed.
    const probe = mine(await store.claim(limits(owner)), subscriptionId);
    expect(probe).toHaveLength(1);
    expect(mine(await store.claim(limits(newId())), subscriptionId)).toHaveLength(0);
    // A failed probe keeps it held, the next probe later.
    await store.record([entry(probe[0]!, new Date(), { kind: 'retry', delayMs: 3_600_000 }, 500)]);
    const {
      rows: [still],
    } = await sql.query(`SELECT health_state, next_probe_at FROM webhook_subscriptions WHERE id = $1`, [subscriptionId]);
    expect(still.health_state).toBe('HELD');
    expect(still.next_probe_at.getTime()).toBeGreaterThan(Date.now() + FIRST_PROBE_DELAY_MS);
    // Held and no probe due: the remaining due delivery waits, spending no attempt.
    expect(mine(await store.claim(limits(owner)), subscriptionId)).toHaveLength(0);

    await sql.query(`UPDATE webhook_subscriptions SET next_probe_at = now() - interval '1 second' WHERE id = $1`, [subscriptionId]);
    const second = mine(await store.claim(limits(owner)), subscriptionId);
    expect(second).toHaveLength(1);
    await store.record([entry(second[0]!, new Date(), { kind: 'succeeded' }, 200)]);
    const {
      rows: [released],
    } = await sql.query(`SELECT health_state, consecutive_failures, next_probe_at, failing_since FROM webhook_subscriptions WHERE id = $1`, [
      subscriptionId,
    ]);
    expect(released).toMatchObject({ health_state: 'HEALTHY', consecutive_failures: 0, failing_since: null });
  });

  it('shares a claim between the endpoints of an account before any gets a second delivery', async () => {
    // Only this test's deliveries are due.
    await sql.query(`UPDATE deliveries SET status = 'CANCELLED', lease_token = NULL WHERE status IN ('PENDING', 'RETRYING')`);
    const subs = [await pending('journals', 3), await pending('ledgers', 3), await pending('products_services', 3)];
    const claimed = (await store.claim(limits(newId(), { limit: 3 }))).filter((c) => subs.includes(c.subscription.id));
    expect(new Set(claimed.map((c) => c.subscription.id)).size).toBe(3);
    await store.record(claimed.map((c) => entry(c, new Date(), { kind: 'succeeded' }, 200)));
  });

  it('hands each event and endpoint of a claim over whole, one copy shared by its deliveries', async () => {
    await sql.query(`UPDATE deliveries SET status = 'CANCELLED', lease_token = NULL WHERE status IN ('PENDING', 'RETRYING')`);
    const subs = [];
    for (let i = 0; i < 3; i++) subs.push((await acme.subscribe({ url: `http://127.0.0.1:9/fan/${i}`, channels: ['suppliers'] })).id);
    await acme.publish('suppliers.created', { n: 1, lines: [{ amount: '10.00' }] });
    await acme.publish('suppliers.created', { n: 2 });
    const claimed = await store.claim(limits(newId()));
    expect(claimed).toHaveLength(6);
    for (const c of claimed) {
      expect(c.event.id).toBe(c.delivery.eventId);
      expect(c.subscription.id).toBe(c.delivery.subscriptionId);
      expect(c.subscription.url).toBe(`http://127.0.0.1:9/fan/${subs.indexOf(c.subscription.id)}`);
      expect(c.event.data).toEqual((c.event.data as { n: number }).n === 1 ? { n: 1, lines: [{ amount: '10.00' }] } : { n: 2 });
      expect(c.event.createdAt).toBeInstanceOf(Date);
      expect(c.subscription.retrySchedule.length).toBeGreaterThan(0);
    }
    const sameEvent = claimed.filter((c) => c.event.id === claimed[0]!.event.id);
    expect(sameEvent).toHaveLength(3);
    expect(sameEvent.every((c) => c.event === sameEvent[0]!.event)).toBe(true);
    const sameEndpoint = claimed.filter((c) => c.subscription.id === claimed[0]!.subscription.id);
    expect(sameEndpoint).toHaveLength(2);
    expect(sameEndpoint[1]!.subscription).toBe(sameEndpoint[0]!.subscription);
    await store.record(claimed.map((c) => entry(c, new Date(), { kind: 'succeeded' }, 200)));
  });

  it('tells when an endpoint with deliveries due was left out for the share of it this worker holds', async () => {
    const busy = await pending('quotes', 1);
    const full = { maxInFlightPerEndpoint: 1, inFlightByEndpoint: new Map([[busy, 1]]) };
    const settle = (contexts: AttemptContext[]) => store.record(contexts.map((c) => entry(c, new Date(), { kind: 'succeeded' }, 200)));
    const leftOut = await store.claimAndTell(limits(newId(), full));
    await settle(leftOut.claimed);
    expect(mine(leftOut.claimed, busy)).toEqual([]);
    expect(leftOut.heldBack).toBe(true);
    const taken = await store.claimAndTell(limits(newId()));
    await settle(taken.claimed);
    expect(mine(taken.claimed, busy)).toHaveLength(1);
    // Nothing of it is due any more: nothing was left out.
    const after = await store.claimAndTell(limits(newId(), full));
    await settle(after.claimed);
    expect(after.heldBack).toBe(false);
  });

  it('fails a group write whole: nothing of it is written', async () => {
    const a = await pending('clients', 1);
    const b = await pending('expenses', 1);
    const claimed = await store.claim(limits(newId()));
    const [ca] = mine(claimed, a);
    const [cb] = mine(claimed, b);
    const broken = entry(cb!, new Date(), { kind: 'succeeded' }, 200);
    broken.attempt = { ...broken.attempt, durationMs: Number.NaN };
    await expect(store.record([entry(ca!, new Date(), { kind: 'succeeded' }, 200), broken])).rejects.toThrow();
    expect(await row(ca!.delivery.id)).toMatchObject({ status: 'PENDING', attempt_count: 0, numbers: null });

    await store.record([entry(ca!, new Date(), { kind: 'succeeded' }, 200), entry(cb!, new Date(), { kind: 'failed' }, 500)]);
    expect(await row(ca!.delivery.id)).toMatchObject({ status: 'SUCCEEDED', numbers: [1] });
    expect(await row(cb!.delivery.id)).toMatchObject({ status: 'FAILED', numbers: [1] });
  });
});
