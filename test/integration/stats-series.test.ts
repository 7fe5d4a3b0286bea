import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';
import { errorOf, expectBadInput } from '../support/subscriptions.js';

interface Bucket {
  start: string;
  succeeded: number;
  failed: number;
  pending: number;
  cancelled: number;
  attempts: number;
  failedAttempts: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

const SERIES = `query($id: ID!, $since: DateTime, $until: DateTime, $bucket: Int) {
  webhookSubscription(id: $id) { statsSeries(since: $since, until: $until, bucketSeconds: $bucket) {
    start succeeded failed pending cancelled attempts failedAttempts latencyP50Ms latencyP95Ms } } }`;

describe('WebhookSubscription.statsSeries', () => {
  let t: TestApp;
  let receiver: Receiver;
  let acme: Tenant;
  let subscriptionId: string;
  let started: number;
  beforeAll(async () => {
    t = await startTestApp();
    receiver = await startReceiver();
    acme = await tenant(t, 'Series Co');
    const sub = await acme.subscribe({ url: `${receiver.url}/series`, channels: ['invoices'], retrySchedule: [] });
    subscriptionId = sub.id;
    receiver.setSecrets(sub.secret);
    started = Date.now();
    // Two deliveries succeed, then the endpoint fails one (no retries: it is FAILED at once).
    receiver.respondWith((_req, n) => (n <= 2 ? { status: 200, body: 'ok' } : { status: 500, body: 'down' }));
    for (let i = 0; i < 3; i++) {
      const d = await t.ok<{ sendTestEvent: { id: string } }>(acme.adminToken, 'mutation($id: ID!) { sendTestEvent(subscriptionId: $id) { id } }', {
        id: subscriptionId,
      });
      await acme.waitForStatus(d.sendTestEvent.id, ['SUCCEEDED', 'FAILED']);
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  const series = async (token: string, variables: Record<string, unknown>) =>
    (await t.ok<{ webhookSubscription: { statsSeries: Bucket[] } }>(token, SERIES, { id: subscriptionId, ...variables })).webhookSubscription
      .statsSeries;

  it('counts deliveries by outcome and attempts with their latency, per interval', async () => {
    const buckets = await series(acme.adminToken, { bucket: 60, since: new Date(Date.now() - 2 * 3_600_000).toISOString() });
    // Until now, in minute intervals aligned to the minute.
    expect(buckets.length).toBeGreaterThanOrEqual(120);
    expect(buckets.length).toBeLessThanOrEqual(122);
    for (const b of buckets) expect(new Date(b.start).getTime() % 60_000).toBe(0);
    const total = (key: keyof Bucket) => buckets.reduce((n, b) => n + (b[key] as number), 0);
    expect(total('succeeded')).toBe(2);
    expect(total('failed')).toBe(1);
    expect(total('pending')).toBe(0);
    expect(total('attempts')).toBe(3);
    expect(total('failedAttempts')).toBe(1);
    const busy = buckets.filter((b) => b.attempts > 0);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      expect(b.latencyP50Ms).toBeGreaterThanOrEqual(0);
      expect(b.latencyP95Ms).toBeGreaterThanOrEqual(b.latencyP50Ms!);
      expect(new Date(b.start).getTime()).toBeGreaterThan(started - 60_000);
    }
    for (const b of buckets.filter((x) => x.attempts === 0)) expect(b.latencyP50Ms).toBeNull();
  });

  it('covers exactly the range asked for', async () => {
    const until = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000);
    const since = new Date(until.getTime() - 6 * 3_600_000);
    const buckets = await series(acme.adminToken, { since: since.toISOString(), until: until.toISOString(), bucket: 3600 });
    expect(buckets.map((b) => b.start)).toEqual(Array.from({ length: 6 }, (_, i) => new Date(since.getTime() + i * 3_600_000).toISOString()));
    expect(buckets.reduce((n, b) => n + b.succeeded + b.failed, 0)).toBe(3);
    const before = await series(acme.adminToken, {
      since: new Date(started - 7200_000).toISOString(),
      until: new Date(started - 3600_000).toISOString(),
    });
    expect(before.every((b) => b.attempts === 0 && b.succeeded === 0)).toBe(true);
  });

  it('covers the last 24 hours by default', async () => {
    const buckets = await series(acme.adminToken, {});
    expect(buckets.length).toBeGreaterThanOrEqual(24);
    expect(buckets.length).toBeLessThanOrEqual(25);
    expect(new Date(buckets[0]!.start).getTime()).toBeLessThanOrEqual(Date.now() - 24 * 3_600_000);
    expect(buckets.reduce((n, b) => n + b.succeeded, 0)).toBe(2);
  });

  it('is readable by a VIEWER of the account', async () => {
    const viewer = await createKey(t, acme.adminToken, 'VIEWER');
    const buckets = await series(viewer, { bucket: 3600 });
    expect(buckets.reduce((n, b) => n + b.attempts, 0)).toBe(3);
  });

  it('is out of reach of other accounts and environments', async () => {
    const other = await tenant(t, 'Nosy Co');
    const staging = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    for (const token of [other.adminToken, staging]) {
      expect(errorOf(await t.gql(token, SERIES, { id: subscriptionId })).code).toBe('NOT_FOUND');
    }
  });

  it('refuses bad intervals and ranges, naming the argument', async () => {
    const bad = (variables: Record<string, unknown>) => t.gql(acme.adminToken, SERIES, { id: subscriptionId, ...variables });
    expectBadInput(await bad({ bucket: 59 }), 'bucketSeconds');
    expectBadInput(await bad({ bucket: 86_401 }), 'bucketSeconds');
    // A week in minutes is over 500 intervals.
    expectBadInput(await bad({ bucket: 60, since: new Date(Date.now() - 7 * 86_400_000).toISOString() }), 'bucketSeconds');
    const now = new Date().toISOString();
    expectBadInput(await bad({ since: now, until: now }), 'since');
  });
});
