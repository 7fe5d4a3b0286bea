import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

/**
 * One tenant's endpoint that accepts connections and never answers must not
 * delay another tenant: B's deliveries all arrive while A's are still in
 * flight (none of A's answered), and A holds no more slots than its caps.
 * Asserted on order of events, not on timings.
 */
describe('isolation between endpoints', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let silent: Receiver;
  let fast: Receiver;

  beforeAll(async () => {
    // 8 slots: one endpoint may take 4 of them in this worker, whatever its own cap.
    t = await startTestApp({ env: { HOOKLINE_WORKER_CONCURRENCY: '8', HOOKLINE_DELIVERY_TIMEOUT_MS: '20000' } });
    a = await tenant(t, 'Slow Co');
    b = await tenant(t, 'Fast Co');
    silent = await startReceiver();
    fast = await startReceiver();
    // Connection accepted, request read, no answer ever.
    silent.respondWith(() => new Promise(() => {}));
  });
  afterAll(async () => {
    // Closing the silent receiver resets its connections, which ends A's attempts.
    await silent?.close();
    await fast?.close();
    await t?.stop();
  });

  async function publishInterleaved(aChannel: string, bChannel: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await a.publish(`${aChannel}.created`, { n: i });
      await b.publish(`${bChannel}.created`, { n: i });
    }
  }

  it('delivers all of B while A hangs, A holding at most its share of the worker', async () => {
    await a.subscribe({ url: `${silent.url}/a`, channels: ['invoices'] });
    const sub = await b.subscribe({ url: `${fast.url}/b`, channels: ['invoices'] });
    fast.setSecrets([sub.secret]);

    await publishInterleaved('invoices', 'invoices', 20);
    const received = await fast.waitFor(20, 15_000);
    expect(received.every((r) => r.verified)).toBe(true);
    // A's requests are all still unanswered, and there are no more of them than the worker's per-endpoint share.
    expect(silent.requests.length).toBeGreaterThan(0);
    expect(silent.requests.length).toBeLessThanOrEqual(4);
  });

  it('keeps an endpoint within its own maxInFlight across the fleet', async () => {
    silent.reset();
    silent.respondWith(() => new Promise(() => {}));
    fast.reset();
    await a.subscribe({ url: `${silent.url}/capped`, channels: ['bills'], maxInFlight: 2 });
    const sub = await b.subscribe({ url: `${fast.url}/bills`, channels: ['bills'] });
    fast.setSecrets([sub.secret]);

    await publishInterleaved('bills', 'bills', 10);
    await fast.waitFor(10, 15_000);
    await silent.waitFor(2, 5_000);
    // The fast endpoint's deliveries have all arrived meanwhile: A had every chance to take more slots.
    const capped = silent.requests.filter((r) => r.path === '/capped');
    expect(capped).toHaveLength(2);
  });
});
