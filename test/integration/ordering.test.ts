import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

/** Counts the requests in flight at once, per key: the receiver's view of ordering and caps. */
function inFlightCounter() {
  const now = new Map<string, number>();
  const most = new Map<string, number>();
  return {
    enter(key: string) {
      const n = (now.get(key) ?? 0) + 1;
      now.set(key, n);
      most.set(key, Math.max(most.get(key) ?? 0, n));
    },
    leave(key: string) {
      now.set(key, (now.get(key) ?? 1) - 1);
    },
    most: (key: string) => most.get(key) ?? 0,
  };
}

describe('ordering per key and in-flight caps', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  const extraWorkers: RunningApp[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const w of extraWorkers) await w.stop();
    await receiver?.close();
    await t?.stop();
  });

  it('delivers each key in sequence, one at a time; a retrying delivery holds back only its own key', async () => {
    const { id, secret } = await acme.subscribe({ url: `${receiver.url}/ordered`, channels: ['invoices'], retrySchedule: [3, 3] });
    receiver.setSecrets(secret);
    const flight = inFlightCounter();
    const firstOfK1 = { failures: 0 };
    receiver.respondWith(async (request) => {
      const key = request.headers['hookline-ordering-key']!;
      const body = JSON.parse(request.body) as { data: { n: number } };
      flight.enter(key);
      await new Promise((r) => setTimeout(r, 20));
      flight.leave(key);
      if (key === 'K1' && body.data.n === 1 && firstOfK1.failures < 2) {
        firstOfK1.failures += 1;
        return { status: 500 };
      }
      return { status: 200 };
    });
    for (let n = 1; n <= 8; n++) {
      for (const key of ['K1', 'K2', 'K3']) await acme.publish('invoices.updated', { n }, undefined, acme.adminToken, key);
    }
    const requests = (await receiver.waitFor(26, 60_000)).filter((r) => r.path === '/ordered');
    expect(requests.every((r) => r.verified)).toBe(true);
    for (const key of ['K1', 'K2', 'K3']) {
      const ofKey = requests.filter((r) => r.headers['hookline-ordering-key'] === key);
      const succeeded = key === 'K1' ? ofKey.slice(2) : ofKey;
      expect(succeeded.map((r) => (JSON.parse(r.body) as { data: { n: number } }).data.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(succeeded.map((r) => Number(r.headers['hookline-sequence']))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(succeeded.map((r) => (JSON.parse(r.body) as { sequence: number }).sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(flight.most(key)).toBe(1);
    }
    // Keys 2 and 3 were done before key 1's first event was tried the third time.
    const k1Retry = requests.filter((r) => r.headers['hookline-ordering-key'] === 'K1')[2]!.receivedAt.getTime();
    for (const key of ['K2', 'K3']) {
      const last = requests.filter((r) => r.headers['hookline-ordering-key'] === key).at(-1)!;
      expect(last.receivedAt.getTime()).toBeLessThan(k1Retry);
    }
    const blocked = await t.ok<{ webhookSubscription: { blockedOrderingKeys: unknown[] } }>(
      acme.adminToken,
      `query($id: ID!) { webhookSubscription(id: $id) { blockedOrderingKeys { orderingKey } } }`,
      { id },
    );
    expect(blocked.webhookSubscription.blockedOrderingKeys).toEqual([]);
  });

  it('blocks a key behind a FAILED delivery until it is unblocked', async () => {
    receiver.reset();
    const { id, secret } = await acme.subscribe({ url: `${receiver.url}/blocked`, channels: ['quotes'], retrySchedule: [] });
    receiver.setSecrets(secret);
    receiver.respondWith((request) => ({ status: (JSON.parse(request.body) as { data: { n: number } }).data.n === 1 ? 500 : 200 }));
    for (let n = 1; n <= 3; n++) await acme.publish('quotes.updated', { n }, undefined, acme.adminToken, 'Q-7');
    await receiver.waitFor(1, 15_000);
    const query = `query($id: ID!) { webhookSubscription(id: $id) { blockedOrderingKeys { orderingKey waiting failedDelivery { status sequence } } } }`;
    let blocked: Array<{ orderingKey: string; waiting: number; failedDelivery: { status: string; sequence: number } }> = [];
    // Until the first has failed and the other two, fanned out behind it, wait.
    for (let i = 0; i < 100 && blocked[0]?.waiting !== 2; i++) {
      blocked = (await t.ok<{ webhookSubscription: { blockedOrderingKeys: typeof blocked } }>(acme.adminToken, query, { id })).webhookSubscription
        .blockedOrderingKeys;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(blocked).toEqual([{ orderingKey: 'Q-7', waiting: 2, failedDelivery: { status: 'FAILED', sequence: 1 } }]);
    // Nothing of the key goes while it is blocked.
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.requests.filter((r) => r.path === '/blocked')).toHaveLength(1);

    const unblocked = await t.ok<{ unblockOrderingKey: number }>(
      acme.adminToken,
      `mutation($id: ID!) { unblockOrderingKey(subscriptionId: $id, orderingKey: "Q-7") }`,
      { id },
    );
    expect(unblocked.unblockOrderingKey).toBe(2);
    const requests = await receiver.waitFor(3, 15_000);
    expect(requests.map((r) => (JSON.parse(r.body) as { data: { n: number } }).data.n)).toEqual([1, 2, 3]);
  });

  it('never lets a redelivery lift the in-flight cap', async () => {
    receiver.reset();
    const { secret } = await acme.subscribe({ url: `${receiver.url}/slow`, channels: ['sales'], maxInFlight: 1 });
    receiver.setSecrets(secret);
    const flight = inFlightCounter();
    receiver.respondWith(async () => {
      flight.enter('slow');
      await new Promise((r) => setTimeout(r, 2_000));
      flight.leave('slow');
      return { status: 200 };
    });
    const { event } = await acme.publish('sales.created', { n: 1 });
    const eventId = event.id;
    const [delivery] = await acme.waitForDeliveries(eventId, 1);
    await receiver.waitFor(1, 15_000);
    for (let i = 0; i < 8; i++) {
      await t.ok(acme.adminToken, `mutation($id: ID!) { redeliver(deliveryId: $id) { id } }`, { id: delivery!.id });
    }
    // The redelivery goes once the attempt in flight is recorded, and only then.
    await receiver.waitFor(2, 20_000);
    await acme.waitForStatus(delivery!.id, 'SUCCEEDED', 20_000);
    expect(flight.most('slow')).toBe(1);
    expect(receiver.requests.filter((r) => r.path === '/slow')).toHaveLength(2);
  });

  it('keeps maxInFlight 1 with three worker processes claiming at once', async () => {
    receiver.reset();
    for (let i = 0; i < 2; i++) {
      extraWorkers.push(await startApp({ config: { ...t.config, workerPort: 0 }, logger: createLogger('silent'), role: 'worker', migrate: false }));
    }
    const { secret } = await acme.subscribe({ url: `${receiver.url}/capped`, channels: ['deposits'], maxInFlight: 1 });
    receiver.setSecrets(secret);
    const flight = inFlightCounter();
    receiver.respondWith(async () => {
      flight.enter('capped');
      await new Promise((r) => setTimeout(r, 2_000));
      flight.leave('capped');
      return { status: 200 };
    });
    await t.ok(acme.adminToken, `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }`, {
      inputs: Array.from({ length: 100 }, (_, n) => ({ type: 'deposits.created', data: { n } })),
    });
    // Six requests at 2 s each: every worker has claimed, and had its claims refused, many times by then.
    await receiver.waitFor(6, 30_000);
    expect(flight.most('capped')).toBe(1);
  });
});
