import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant } from '../support/scenario.js';

/**
 * Fair shares between accounts, with generous bounds (the bench's fairness
 * scenario measures it): an account whose endpoints are slow and whose
 * backlog would fill every slot of the worker does not hold up another
 * account's deliveries for the seconds its requests take.
 */
describe('fair shares of the delivery workers between accounts', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    // Ten slots, so that the slow account alone could take them all.
    t = await startTestApp({ env: { HOOKLINE_WORKER_CONCURRENCY: '10' } });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  it("serves another account's deliveries at once while a busy account's slow endpoints hold their slots", async () => {
    const slowRequestMs = 5_000;
    receiver.respondWith(async (request) => {
      if (request.path.startsWith('/slow')) await new Promise((r) => setTimeout(r, slowRequestMs));
      return { status: 200 };
    });
    const busy = await tenant(t, 'busy');
    const other = await tenant(t, 'other');
    for (const path of ['/slow-1', '/slow-2']) {
      await busy.subscribe({ url: `${receiver.url}${path}`, channels: ['invoices'], maxInFlight: 500 });
    }
    await other.subscribe({ url: `${receiver.url}/fast`, channels: ['invoices'] });
    await t.ok(busy.adminToken, 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }', {
      inputs: Array.from({ length: 60 }, (_, n) => ({ type: 'invoices.created', data: { n } })),
    });
    // The busy account's requests have taken the slots it may take.
    const deadline = Date.now() + 20_000;
    while (receiver.requests.filter((r) => r.path.startsWith('/slow')).length < 9 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));

    const fast = () => receiver.requests.filter((r) => r.path === '/fast').length;
    const latencies: number[] = [];
    for (let n = 0; n < 10; n++) {
      const sent = Date.now();
      await other.publish('invoices.created', { n });
      while (fast() <= n && Date.now() - sent < 20_000) await new Promise((r) => setTimeout(r, 10));
      latencies.push(Date.now() - sent);
    }
    // Without a share for the other account, each of these would wait for a slow request to end (up to 5 s).
    latencies.sort((x, y) => x - y);
    expect(latencies[Math.floor(latencies.length * 0.9)]!).toBeLessThan(slowRequestMs / 2);
    expect(receiver.requests.filter((r) => r.path === '/fast')).toHaveLength(10);
  }, 60_000);
});
