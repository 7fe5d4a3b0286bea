/**
 * The benchmark's side of the GraphQL API: the tests' typed client over an
 * undici Pool of keep-alive connections to the API on 127.0.0.1, and the
 * setup that an integrator would do: an account, a PUBLISHER key,
 * subscriptions.
 */
import { Pool, fetch } from 'undici';
import { GraphQLClient, GraphQLRequestError, operation } from '../test/support/graphql.js';
import { assertLoopbackUrl } from './harness.js';
import { nowMs } from './stats.js';

export { GraphQLClient };

/** A failed call in a line of the report: the first GraphQL error's code and message. */
export function failureText(error: unknown): string {
  if (error instanceof GraphQLRequestError) return `${error.code ?? 'ERROR'}: ${error.errors[0]?.message ?? ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** A GraphQLClient for `${baseUrl}/graphql` that owns its connection pool. */
export class PooledGraphQLClient extends GraphQLClient {
  private readonly pool: Pool;

  constructor(baseUrl: string, connections: number) {
    assertLoopbackUrl(baseUrl);
    const pool = new Pool(baseUrl, { connections, pipelining: 1, allowH2: false, keepAliveTimeout: 30_000 });
    super(`${baseUrl}/graphql`, (url, init) => fetch(url, { ...init, dispatcher: pool }));
    this.pool = pool;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

export interface Tenant {
  adminToken: string;
  publisherToken: string;
}

const CREATE_ACCOUNT = operation<{ createAccount: { adminToken: string } }, { name: string }>(
  'mutation($name: String!) { createAccount(name: $name) { account { id } adminToken } }',
);
const CREATE_PUBLISHER_KEY = operation<{ createApiKey: { token: string } }>(
  'mutation { createApiKey(name: "bench publisher", role: PUBLISHER) { token } }',
);

export async function createTenant(client: GraphQLClient, operatorToken: string, name: string): Promise<Tenant> {
  const { createAccount } = await client.ok(operatorToken, CREATE_ACCOUNT, { name });
  const { createApiKey } = await client.ok(createAccount.adminToken, CREATE_PUBLISHER_KEY);
  return { adminToken: createAccount.adminToken, publisherToken: createApiKey.token };
}

export interface CreatedSubscription {
  id: string;
  secret: string;
  key: string;
}

const CREATE_SUBSCRIPTION = operation<
  { createWebhookSubscription: { subscription: { id: string }; secret: string } },
  { input: { url: string; channels: string[]; retrySchedule: number[] } }
>(
  `mutation($input: CreateWebhookSubscriptionInput!) {
     createWebhookSubscription(input: $input) { subscription { id } secret }
   }`,
);

/**
 * Subscriptions to the `invoices` channel, each on its own receiver path
 * `/h/<key>` so that the receiver knows which secret verifies it. A short
 * retry schedule: a failed attempt shows up as latency, not as a lost delivery.
 */
export async function createSubscriptions(
  client: GraphQLClient,
  adminToken: string,
  receiverPort: number,
  count: number,
  prefix: string,
): Promise<CreatedSubscription[]> {
  const created: CreatedSubscription[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${i}`;
    const { createWebhookSubscription } = await client.ok(adminToken, CREATE_SUBSCRIPTION, {
      input: { url: `http://127.0.0.1:${receiverPort}/h/${key}`, channels: ['invoices'], retrySchedule: [1, 5, 30] },
    });
    created.push({ id: createWebhookSubscription.subscription.id, secret: createWebhookSubscription.secret, key });
  }
  return created;
}

const PUBLISH = operation<
  { publishEvent: { event: { id: string }; duplicate: boolean } },
  { input: { type: string; data: Record<string, unknown> } }
>('mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } duplicate } }');

/** One publishEvent; the data carries the publish time for the receiver. Resolves to the mutation's latency in ms. */
export async function publish(client: GraphQLClient, token: string, phase: string, seq: number): Promise<number> {
  const started = performance.now();
  await client.ok(token, PUBLISH, {
    input: {
      type: 'invoices.created',
      data: { sentAt: nowMs(), phase, seq, invoiceId: `INV${seq}`, customerId: 'CUST42', amount: 1234.5, currency: 'EUR' },
    },
  });
  return performance.now() - started;
}
