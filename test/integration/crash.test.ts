import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;

/** A `hookline worker` process on the test database, as production runs it. */
function startWorkerProcess(t: TestApp): ChildProcess {
  const child = spawn(process.execPath, [cli, 'worker'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: t.database.url,
      HOOKLINE_MASTER_KEY: t.config.masterKey!.toString('base64'),
      HOOKLINE_ALLOW_PRIVATE_URLS: 'true',
      HOOKLINE_WORKER_CONCURRENCY: '5',
      HOOKLINE_QUEUE_MONITOR_SECONDS: '2',
      // A dead worker's leases run out after the deadline plus a margin.
      HOOKLINE_DELIVERY_TIMEOUT_MS: '3000',
      HOOKLINE_WORKER_PORT: '0',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function deliveryIds(acme: Tenant, eventIds: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const id of eventIds) ids.push(...(await acme.waitForDeliveries(id, 1, 30_000)).map((d) => d.id));
  return ids;
}

/** Publishes through GraphQL and leaves the fan-out to the worker processes (the test app runs none). */
async function publish(t: TestApp, acme: Tenant, type: string, data: unknown): Promise<string> {
  const result = await t.ok<{ publishEvent: { event: { id: string } } }>(
    acme.adminToken,
    'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
    { input: { type, data } },
  );
  return result.publishEvent.event.id;
}

async function allSucceeded(t: TestApp, accountToken: string, count: number): Promise<boolean> {
  const data = await t.ok<{ deliveries: { totalCount: number } }>(accountToken, '{ deliveries(filter: { status: SUCCEEDED }) { totalCount } }');
  return data.deliveries.totalCount >= count;
}

describe('at least once: nothing is lost when a worker dies', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
      await exited(child);
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  it('delivers every event after a worker is killed with SIGKILL mid-delivery, under the same webhook-id', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/crash`, channels: ['bank_transfers'], retrySchedule: [1, 1, 1] });
    receiver.setSecrets([sub.secret]);
    // Slow answers keep deliveries in flight when the worker dies; `answered` tells which were not.
    const answered = new Set<string>();
    receiver.respondWith(async (request) => {
      await new Promise((r) => setTimeout(r, 1500));
      answered.add(request.headers['webhook-id']!);
      return { status: 200 };
    });

    const eventIds: string[] = [];
    for (let i = 0; i < 12; i++) eventIds.push(await publish(t, acme, 'bank_transfers.created', { transferId: `T-${i}` }));

    const first = startWorkerProcess(t);
    children.push(first);
    await waitUntil(() => receiver.requests.length >= 3, 30_000, 'the first worker to start delivering');
    first.kill('SIGKILL');
    const inFlight = receiver.requests.map((r) => r.headers['webhook-id']!).filter((id) => !answered.has(id));
    expect(inFlight.length).toBeGreaterThan(0);
    await exited(first);

    children.push(startWorkerProcess(t));
    const ids = await deliveryIds(acme, eventIds);
    expect(ids).toHaveLength(12);
    await waitUntil(() => allSucceeded(t, acme.adminToken, 12), 60_000, 'every delivery to succeed');

    const received = receiver.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(received)).toEqual(new Set(ids));
    // The deliveries the dead worker had in hand were sent again with the same id.
    for (const id of inFlight) expect(received.filter((r) => r === id).length).toBeGreaterThanOrEqual(2);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  }, 120_000);

  it('fans every event out exactly once after a worker is killed with SIGKILL mid-fan-out', async () => {
    // Endpoints that refuse at once: this is about the fan-out, not the sending.
    for (const path of ['fan-a', 'fan-b']) await acme.subscribe({ url: `http://127.0.0.1:9/${path}`, channels: ['pay_runs'], retrySchedule: [] });
    const events = 10_000;
    for (let batch = 0; batch < events / 1000; batch++) {
      await t.ok(acme.adminToken, 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }', {
        inputs: Array.from({ length: 1000 }, (_, i) => ({ type: 'pay_runs.created', data: { n: batch * 1000 + i } })),
      });
    }
    const sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
    const count = async (query: string) => ((await sql.query(query)).rows[0] as { n: number }).n;
    const ofPayRuns = `FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.type = 'pay_runs.created'`;
    try {
      const first = startWorkerProcess(t);
      children.push(first);
      // Killed while batches are being fanned out: some events have their deliveries, others not yet.
      const deadline = Date.now() + 30_000;
      while ((await count(`SELECT count(*)::int AS n ${ofPayRuns}`)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      first.kill('SIGKILL');
      await exited(first);
      expect(await count(`SELECT count(DISTINCT d.event_id)::int AS n ${ofPayRuns}`)).toBeLessThan(events);

      // The batch it had in hand is fanned out again once its jobs expire, by the next worker.
      children.push(startWorkerProcess(t));
      await waitUntil(async () => (await count(`SELECT count(DISTINCT d.event_id)::int AS n ${ofPayRuns}`)) === events, 150_000, 'every event');
      // One delivery per event and subscription, never two, never none.
      expect(await count(`SELECT count(*)::int AS n ${ofPayRuns}`)).toBe(2 * events);
      expect(
        await count(
          `SELECT count(*)::int AS n FROM pgboss.job WHERE name IN ('hookline.events', 'hookline.events.ledgers') AND state <> 'completed'`,
        ),
      ).toBe(0);
    } finally {
      await sql.end();
    }
  }, 240_000);

  it('delivers every event across a loss of every database connection', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/outage`, channels: ['business_loans'], retrySchedule: [1, 1, 1] });
    receiver.reset();
    receiver.setSecrets([sub.secret]);
    receiver.respondWith(() => ({ status: 200, delayMs: 300 }));
    children.push(startWorkerProcess(t));

    const eventIds: string[] = [];
    for (let i = 0; i < 10; i++) eventIds.push(await publish(t, acme, 'business_loans.created', { loanId: `L-${i}` }));
    await waitUntil(() => receiver.requests.length >= 2, 30_000, 'deliveries to start');

    const serverUrl = new URL(t.database.url);
    serverUrl.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: serverUrl.toString() });
    await admin.connect();
    try {
      // What a database restart does to this database's clients: every connection dropped,
      // and none accepted for a while.
      await admin.query(`ALTER DATABASE ${t.database.name} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [t.database.name]);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await admin.query(`ALTER DATABASE ${t.database.name} WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }

    const ids = await deliveryIds(acme, eventIds);
    await waitUntil(
      async () => {
        const data = await t.ok<{ webhookSubscription: { stats: { succeeded: number } } }>(
          acme.adminToken,
          'query($id: ID!) { webhookSubscription(id: $id) { stats { succeeded } } }',
          { id: sub.id },
        );
        return data.webhookSubscription.stats.succeeded === 10;
      },
      90_000,
      'every delivery to succeed after the outage',
    );
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(ids));
  }, 150_000);
});
