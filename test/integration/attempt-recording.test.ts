import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AttemptContext, AttemptEntry } from '../../src/deliveries/service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

/**
 * The delivery worker records the attempts that end together in one
 * transaction (a group commit). These batches are built by hand here, on an
 * API-only app (no worker takes the jobs), to pin down what a batch writes.
 */
describe('recording a batch of attempts', () => {
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

  /** Publishes `count` events to a new subscription and returns their deliveries' attempt contexts and jobs. */
  async function pendingDeliveries(channel: string, count: number): Promise<Array<{ context: AttemptContext; jobId: string }>> {
    const subscription = await acme.subscribe({ url: `http://127.0.0.1:9/${channel}`, channels: [channel], retrySchedule: [60, 60, 60] });
    for (let i = 0; i < count; i++) await acme.publish(`${channel}.created`, { n: i });
    const { rows } = await sql.query(`SELECT id, current_job_id FROM deliveries WHERE subscription_id = $1 ORDER BY id`, [subscription.id]);
    const jobs = rows.map((r: { id: string; current_job_id: string }) => ({ deliveryId: r.id, jobId: r.current_job_id }));
    const contexts = await t.app.services.deliveries.loadForAttempts(jobs);
    expect(contexts.size).toBe(count);
    return jobs.map((j) => ({ context: contexts.get(j.jobId)!, jobId: j.jobId }));
  }

  function entry(target: { context: AttemptContext; jobId: string }, startedAt: Date, outcome: AttemptEntry['outcome'], status: number): AttemptEntry {
    return {
      context: target.context,
      jobId: target.jobId,
      attempt: { startedAt, durationMs: 12, responseStatus: status, responseBody: null, error: null, succeeded: status < 300 },
      outcome,
    };
  }

  async function row(deliveryId: string) {
    const { rows } = await sql.query(
      `SELECT d.status, d.attempt_count, d.current_job_id, d.next_attempt_at, d.last_attempt_at, s.failing_since,
              (SELECT array_agg(a.number ORDER BY a.number) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS numbers,
              (SELECT j.start_after FROM pgboss.job j WHERE j.name = 'deliver' AND j.id = d.current_job_id) AS job_start_after
       FROM deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`,
      [deliveryId],
    );
    return rows[0] as {
      status: string; attempt_count: number; current_job_id: string | null; next_attempt_at: Date | null; last_attempt_at: Date | null;
      failing_since: Date | null; numbers: number[] | null; job_start_after: Date | null;
    };
  }

  it('settles successes, queues retries and folds the failure streak in the order the attempts started', async () => {
    // The delivery with the lower id fails later: the streak must follow start times, not ids.
    const [succeeding, failing] = await pendingDeliveries('invoices', 2);
    const t0 = new Date(Date.now() - 10_000);
    const t1 = new Date(t0.getTime() + 1000);
    await t.app.services.deliveries.recordAttempts([
      entry(succeeding!, t1, { kind: 'succeeded' }, 200),
      entry(failing!, t0, { kind: 'retry', delayMs: 60_000 }, 500),
    ]);

    const retrying = await row(failing!.context.delivery.id);
    expect(retrying).toMatchObject({ status: 'RETRYING', attempt_count: 1, numbers: [1], last_attempt_at: t0 });
    expect(retrying.current_job_id).not.toBe(failing!.jobId);
    const due = t0.getTime() + 12 + 60_000;
    expect(retrying.next_attempt_at?.getTime()).toBe(due);
    expect(retrying.job_start_after?.getTime()).toBe(due);
    // The success started after the failure: the streak is over.
    expect(retrying.failing_since).toBeNull();

    const done = await row(succeeding!.context.delivery.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempt_count: 1, numbers: [1], current_job_id: null, next_attempt_at: null });

    // A failure alone starts a streak; a later failure keeps its start.
    const next = { context: { ...failing!.context, delivery: { ...failing!.context.delivery, attemptCount: 1 } }, jobId: retrying.current_job_id! };
    const t2 = new Date(t1.getTime() + 1000);
    await t.app.services.deliveries.recordAttempts([entry(next, t2, { kind: 'retry', delayMs: 60_000 }, 503)]);
    const afterSecond = await row(failing!.context.delivery.id);
    expect(afterSecond).toMatchObject({ attempt_count: 2, numbers: [1, 2], failing_since: t2 });
    const third = { ...next, jobId: afterSecond.current_job_id! };
    await t.app.services.deliveries.recordAttempts([entry(third, new Date(t2.getTime() + 1000), { kind: 'failed' }, 500)]);
    expect(await row(failing!.context.delivery.id)).toMatchObject({
      status: 'FAILED', attempt_count: 3, numbers: [1, 2, 3], current_job_id: null, next_attempt_at: null, failing_since: t2,
    });
  });

  it('numbers two attempts of one delivery in one batch apart, and a stale job moves no schedule', async () => {
    const [target] = await pendingDeliveries('bills', 1);
    const stale = { ...target!, jobId: '00000000-0000-7000-8000-000000000001' };
    const t0 = new Date(Date.now() - 5000);
    await t.app.services.deliveries.recordAttempts([
      entry(stale, new Date(t0.getTime() + 500), { kind: 'retry', delayMs: 1000 }, 500),
      entry(target!, t0, { kind: 'retry', delayMs: 60_000 }, 500),
    ]);
    const after = await row(target!.context.delivery.id);
    expect(after).toMatchObject({ status: 'RETRYING', attempt_count: 2, numbers: [1, 2] });
    // Only the current job's retry is scheduled; the stale job's own retry is not.
    expect(after.next_attempt_at?.getTime()).toBe(t0.getTime() + 12 + 60_000);
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'deliver' AND data->>'deliveryId' = $1`, [
      target!.context.delivery.id,
    ]);
    expect(rows[0].n).toBe(2); // the first job and the one retry

    // A stale job's success still settles the delivery.
    await t.app.services.deliveries.recordAttempts([entry(stale, new Date(), { kind: 'succeeded' }, 200)]);
    expect(await row(target!.context.delivery.id)).toMatchObject({ status: 'SUCCEEDED', attempt_count: 3, numbers: [1, 2, 3] });
  });

  it('records the attempts of different subscriptions together, and a batch fails or commits whole', async () => {
    const [a] = await pendingDeliveries('sales', 1);
    const [b] = await pendingDeliveries('deposits', 1);
    const broken: AttemptEntry = { ...entry(b!, new Date(), { kind: 'succeeded' }, 200) };
    broken.attempt = { ...broken.attempt, durationMs: Number.NaN };
    await expect(t.app.services.deliveries.recordAttempts([entry(a!, new Date(), { kind: 'succeeded' }, 200), broken])).rejects.toThrow();
    expect(await row(a!.context.delivery.id)).toMatchObject({ status: 'PENDING', attempt_count: 0, numbers: null });

    await t.app.services.deliveries.recordAttempts([entry(a!, new Date(), { kind: 'succeeded' }, 200), entry(b!, new Date(), { kind: 'failed' }, 500)]);
    expect(await row(a!.context.delivery.id)).toMatchObject({ status: 'SUCCEEDED', numbers: [1] });
    expect(await row(b!.context.delivery.id)).toMatchObject({ status: 'FAILED', numbers: [1] });
  });
});
