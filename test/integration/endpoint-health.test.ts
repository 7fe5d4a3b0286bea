import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { FIRST_PROBE_DELAY_MS, HOLD_AFTER_FAILURES } from '../../src/delivery-engine/endpoint-health.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

const HEALTH = `query($id: ID!) { webhookSubscription(id: $id) { maxInFlight endpointHealth { state since consecutiveFailures nextProbeAt } } }`;

interface Health {
  state: 'HEALTHY' | 'FAILING' | 'HELD';
  since: string | null;
  consecutiveFailures: number;
  nextProbeAt: string | null;
}

describe('endpoint health', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  let sql: pg.Client;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    receiver = await startReceiver();
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await receiver?.close();
    await t?.stop();
  });

  async function health(id: string): Promise<{ maxInFlight: number | null; endpointHealth: Health }> {
    return (await t.ok<{ webhookSubscription: { maxInFlight: number | null; endpointHealth: Health } }>(acme.adminToken, HEALTH, { id }))
      .webhookSubscription;
  }

  async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('takes maxInFlight on create and update, and refuses one out of range naming the field', async () => {
    const created = await acme.subscribe({ url: `${receiver.url}/cap`, channels: ['quotes'], maxInFlight: 3 });
    expect(await health(created.id)).toEqual({
      maxInFlight: 3,
      endpointHealth: { state: 'HEALTHY', since: null, consecutiveFailures: 0, nextProbeAt: null },
    });
    for (const bad of [0, 1001]) {
      const result = await t.gql(
        acme.adminToken,
        'mutation($id: ID!, $input: UpdateWebhookSubscriptionInput!) { updateWebhookSubscription(id: $id, input: $input) { id } }',
        {
          id: created.id,
          input: { maxInFlight: bad },
        },
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.maxInFlight' }] });
      expect(JSON.stringify(result)).not.toMatch(/SELECT|at .*\.js/);
    }
    await t.ok(acme.adminToken, 'mutation($id: ID!) { updateWebhookSubscription(id: $id, input: { maxInFlight: null }) { id } }', { id: created.id });
    expect((await health(created.id)).maxInFlight).toBeNull();
  });

  it('holds a failing endpoint without spending attempts, probes it, and releases it on success', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/flaky`, channels: ['invoices'], retrySchedule: [1, 1, 1, 1, 1, 1, 1, 1] });
    receiver.setSecrets([sub.secret]);
    receiver.respondWith(() => ({ status: 500 }));
    for (let i = 0; i < HOLD_AFTER_FAILURES + 3; i++) await acme.publish('invoices.created', { n: i });

    const held = await waitFor(
      () => health(sub.id),
      (h) => h.endpointHealth.state === 'HELD',
      20_000,
      'the endpoint to be held',
    );
    expect(held.endpointHealth.consecutiveFailures).toBeGreaterThanOrEqual(HOLD_AFTER_FAILURES);
    expect(held.endpointHealth.since).not.toBeNull();
    expect(held.endpointHealth.nextProbeAt).not.toBeNull();

    // However many failures landed in the hold, the first probe waits the first probe delay from its start.
    expect(new Date(held.endpointHealth.nextProbeAt!).getTime() - new Date(held.endpointHealth.since!).getTime()).toBe(FIRST_PROBE_DELAY_MS);

    // While held, only probes reach the endpoint. Once the attempts that were in flight when the hold
    // began are recorded, nothing else arrives before the probe is due.
    await waitFor(
      async () => (await sql.query(`SELECT count(*)::int AS n FROM delivery_attempts WHERE subscription_id = $1`, [sub.id])).rows[0].n as number,
      (n) => n === receiver.requests.length,
      20_000,
      'the attempts in flight to be recorded',
    );
    const requestsWhenHeld = receiver.requests.length;
    // The failures that landed in the hold after it began moved neither its start nor its first probe
    // (read before that probe was due, so that no probe can have been sent yet).
    const readAt = Date.now();
    const settled = (await health(sub.id)).endpointHealth;
    expect(settled.since).toBe(held.endpointHealth.since);
    if (readAt < Date.parse(held.endpointHealth.nextProbeAt!)) expect(settled.nextProbeAt).toBe(held.endpointHealth.nextProbeAt);
    const quietUntil = Math.min(Date.now() + 1_500, new Date(held.endpointHealth.nextProbeAt!).getTime() - 200);
    await new Promise((r) => setTimeout(r, Math.max(0, quietUntil - Date.now())));
    expect(receiver.requests.length).toBe(requestsWhenHeld);

    receiver.respondWith(() => ({ status: 200 }));
    const released = await waitFor(
      () => health(sub.id),
      (h) => h.endpointHealth.state === 'HEALTHY',
      30_000,
      'the probe to release the endpoint',
    );
    expect(released.endpointHealth).toMatchObject({ consecutiveFailures: 0, nextProbeAt: null });
    const { rows } = await sql.query(
      `SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded, count(*)::int AS total FROM deliveries WHERE subscription_id = $1`,
      [sub.id],
    );
    await waitFor(
      async () =>
        (await sql.query(`SELECT count(*)::int AS n FROM deliveries WHERE subscription_id = $1 AND status = 'SUCCEEDED'`, [sub.id])).rows[0]
          .n as number,
      (n) => n === rows[0].total,
      30_000,
      'every delivery to succeed after the release',
    );
  }, 90_000);
});
