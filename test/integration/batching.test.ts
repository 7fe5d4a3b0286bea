import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { GraphQLClient, operation } from '../support/graphql.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

const PAGE = 50;
interface PageNode {
  event: { id: string; deliveries: unknown[] };
  subscription: { id: string; secrets: unknown[] };
  attempts: Array<{ number: number; succeeded: boolean }>;
}

const PAGE_QUERY = operation<
  { deliveries: { totalCount: number; nodes: PageNode[] } },
  { first: number }
>(`query($first: Int) { deliveries(first: $first) { totalCount nodes {
  id status event { id type deliveries { id } } subscription { id url secrets { hint } } attempts { number succeeded } } } }`);

/** Counts the statements that node-postgres sends while `during` runs, from every pool of this process. */
async function countStatements(during: () => Promise<unknown>): Promise<number> {
  const original = pg.Client.prototype.query;
  let count = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await during();
  } finally {
    pg.Client.prototype.query = original;
  }
  return count;
}

describe('field resolvers batch their reads per request', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  let api: RunningApp;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    receiver = await startReceiver();
    const subscriptions = [
      await acme.subscribe({ url: `${receiver.url}/one`, channels: ['invoices'] }),
      await acme.subscribe({ url: `${receiver.url}/two`, channels: ['invoices'] }),
    ];
    receiver.setSecrets(subscriptions.map((s) => s.secret));
    for (let i = 0; i < PAGE / 2; i++) await acme.publish('invoices.created', { invoiceId: `INV${i}` });
    await receiver.waitFor(PAGE, 30_000);
    const deadline = Date.now() + 30_000;
    while (
      (await t.ok<{ deliveries: { totalCount: number } }>(acme.adminToken, '{ deliveries(filter: { status: SUCCEEDED }) { totalCount } }')).deliveries
        .totalCount < PAGE
    ) {
      if (Date.now() > deadline) throw new Error('deliveries did not all succeed');
      await new Promise((r) => setTimeout(r, 200));
    }
    // An API process alone on the same database: no worker polls while statements are counted.
    api = await startApp({ config: t.config, logger: createLogger('silent'), role: 'api', migrate: false });
    await t.app.stop();
  }, 90_000);

  afterAll(async () => {
    await api?.stop();
    await receiver?.close();
    await t?.database.drop();
  });

  it('reads a page of 50 deliveries with their event, subscription and attempts in a handful of statements', async () => {
    const client = new GraphQLClient(`http://127.0.0.1:${api.port}/graphql`);
    const request = () => client.ok(acme.adminToken, PAGE_QUERY, { first: PAGE });
    await request(); // warm: the first request of a key also records its use
    let body: Awaited<ReturnType<typeof request>> | undefined;
    const statements = await countStatements(async () => (body = await request()));

    const nodes = body!.deliveries.nodes;
    expect(nodes).toHaveLength(PAGE);
    for (const node of nodes) {
      expect(node.event.deliveries).toHaveLength(2);
      expect(node.subscription.secrets).toHaveLength(1);
      expect(node.attempts).toEqual([{ number: 1, succeeded: true }]);
    }
    // Authentication, the page and its count, then one statement per batched field
    // (events, subscriptions, attempts, the events' deliveries, secrets); one per
    // delivery and field would be over 200.
    expect(statements).toBeLessThanOrEqual(10);
  });
});
