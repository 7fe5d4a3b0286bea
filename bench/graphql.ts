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

/** What the bench sets on a subscription; the rest keeps Hookline's defaults. */
export interface SubscriptionInput {
  url: string;
  channels: string[];
  retrySchedule: number[];
  /** Deliveries to the endpoint in flight at once; Hookline's default (10) when absent. */
  maxInFlight?: number;
}

const CREATE_SUBSCRIPTION = operation<{ createWebhookSubscription: { subscription: { id: string }; secret: string } }, { input: SubscriptionInput }>(
  `mutation($input: CreateWebhookSubscriptionInput!) {
     createWebhookSubscription(input: $input) { subscription { id } secret }
   }`,
);

/** A short retry schedule: a failed attempt shows up as latency, not as a lost delivery. */
export const RETRY_SCHEDULE = [1, 5, 30];

/** One subscription, to any URL (the receiver, or an endpoint the driver serves itself). */
export async function createSubscription(
  client: GraphQLClient,
  adminToken: string,
  input: SubscriptionInput,
): Promise<{ id: string; secret: string }> {
  const { createWebhookSubscription } = await client.ok(adminToken, CREATE_SUBSCRIPTION, { input });
  return { id: createWebhookSubscription.subscription.id, secret: createWebhookSubscription.secret };
}

/** Subscriptions to the receiver: on the `invoices` channel with Hookline's default maxInFlight unless told. */
export interface ReceiverSubscriptionOptions {
  channels?: string[];
  maxInFlight?: number;
}

/**
 * Subscriptions to the receiver on `channels` (the `invoices` channel unless
 * told), each on its own receiver path `/h/<key>` so that the receiver knows
 * which secret verifies it.
 */
export async function createSubscriptions(
  client: GraphQLClient,
  adminToken: string,
  receiverPort: number,
  count: number,
  prefix: string,
  options: ReceiverSubscriptionOptions = {},
): Promise<CreatedSubscription[]> {
  const created: CreatedSubscription[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${i}`;
    const subscription = await createSubscription(client, adminToken, {
      url: `http://127.0.0.1:${receiverPort}/h/${key}`,
      channels: options.channels ?? ['invoices'],
      retrySchedule: RETRY_SCHEDULE,
      ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    });
    created.push({ ...subscription, key });
  }
  return created;
}

const PUBLISH = operation<
  { publishEvent: { event: { id: string }; duplicate: boolean } },
  { input: { type: string; data: Record<string, unknown> } }
>('mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } duplicate } }');

/**
 * The data of every event the bench publishes, whatever its type: the
 * publish time and phase for the receiver, and an invoice's worth of fields,
 * so that events of different channels weigh the same.
 */
export function eventData(phase: string, seq: number): Record<string, unknown> {
  return { sentAt: nowMs(), phase, seq, invoiceId: `INV${seq}`, customerId: 'CUST42', amount: 1234.5, currency: 'EUR' };
}

/** One publishEvent; the data carries the publish time for the receiver. Resolves to the mutation's latency in ms. */
export async function publish(client: GraphQLClient, token: string, phase: string, seq: number, type = 'invoices.created'): Promise<number> {
  const started = performance.now();
  await client.ok(token, PUBLISH, { input: { type, data: eventData(phase, seq) } });
  return performance.now() - started;
}
