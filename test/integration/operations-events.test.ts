import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

interface Envelope {
  event: string;
  ordering_key?: string;
  data: Record<string, unknown>;
}

const body = (r: ReceivedRequest) => JSON.parse(r.body) as Envelope;

/**
 * The operations channel from outside: an account that subscribes to it is
 * told, by signed deliveries like any other, when its own endpoint is held,
 * recovers, blocks an ordering key or fails deliveries (coalesced), and the
 * engine's changes are in the audit log.
 */
describe('operations events about an account’s own endpoints', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  let failing = true;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    receiver = await startReceiver();
    receiver.respondWith((request) => ({ status: request.path.startsWith('/flaky') && failing ? 500 : 200 }));
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  const operations = (type?: string) => receiver.requests.filter((r) => r.path === '/ops' && (!type || body(r).event === type));

  async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('tells of a held endpoint, a blocked key, its recovery and its failures in a minute, signed, and audits the engine’s changes', async () => {
    const ops = await acme.subscribe({ url: `${receiver.url}/ops`, channels: ['operations'] });
    const flaky = await acme.subscribe({ url: `${receiver.url}/flaky?token=s3cret`, channels: ['invoices'], retrySchedule: [] });
    receiver.setSecrets([ops.secret, flaky.secret]);

    // Thirty failing deliveries: the endpoint is held after five in a row, and each ends FAILED (no retries).
    await t.ok(acme.adminToken, 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }', {
      inputs: Array.from({ length: 6 }, (_, n) => ({ type: 'invoices.created', data: { n }, orderingKey: n === 0 ? 'INV-1' : undefined })),
    });
    await until(() => operations('operations.endpoint_held').length === 1, 30_000, 'endpoint_held');
    const held = body(operations('operations.endpoint_held')[0]!);
    expect(held.ordering_key).toBe(flaky.id);
    expect(held.data).toMatchObject({ subscriptionId: flaky.id, consecutiveFailures: expect.any(Number), lastStatus: 500 });
    expect(held.data.url).not.toContain('s3cret');
    await until(() => operations('operations.ordering_key_blocked').length === 1, 30_000, 'ordering_key_blocked');
    expect(body(operations('operations.ordering_key_blocked')[0]!).data).toMatchObject({ subscriptionId: flaky.id, orderingKey: 'INV-1' });

    // The next delivery is the probe, and it succeeds: the endpoint recovers, and says so after it said it was held.
    failing = false;
    await acme.publish('invoices.created', { n: 'probe' });
    await until(() => operations('operations.endpoint_recovered').length === 1, 60_000, 'endpoint_recovered');
    const names = operations().map((r) => body(r).event);
    expect(names.indexOf('operations.endpoint_held')).toBeLessThan(names.indexOf('operations.endpoint_recovered'));

    // The failures of the minute are one event with their count, once the minute is over.
    await until(() => operations('operations.delivery_failed').length >= 1, 90_000, 'delivery_failed');
    const failed = operations('operations.delivery_failed').map((r) => body(r).data);
    expect(failed.reduce((sum, d) => sum + (d.count as number), 0)).toBeGreaterThanOrEqual(5);
    expect(failed.length).toBeLessThanOrEqual(2);
    expect(operations().every((r) => r.verified)).toBe(true);

    const audit = await t.ok<{ auditLog: { nodes: Array<{ action: string; actor: { kind: string } }> } }>(
      acme.adminToken,
      '{ auditLog(first: 50) { nodes { action actor { kind } } } }',
    );
    const engine = audit.auditLog.nodes.filter((n) => n.action.startsWith('endpoint.'));
    expect(engine.map((n) => n.action).sort()).toEqual(['endpoint.held', 'endpoint.recovered']);
    expect(engine.every((n) => n.actor.kind === 'SYSTEM')).toBe(true);
  }, 180_000);

  it('refuses operations events from anyone but Hookline', async () => {
    const result = await t.gql(acme.adminToken, 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }', {
      input: { type: 'operations.endpoint_held', data: { subscriptionId: 'x' } },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});
