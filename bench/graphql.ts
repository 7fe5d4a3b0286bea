/**
 * A small GraphQL client for the benchmark (undici Pool over keep-alive
 * connections to the API on 127.0.0.1) and the setup that an integrator
 * would do: an account, a PUBLISHER key, subscriptions.
 */
import { Pool } from 'undici';
import { assertLoopbackUrl } from './harness.js';
import { nowMs } from './stats.js';

export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'GraphQLError';
  }
}

export class GraphQLClient {
  private readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    connections: number,
  ) {
    assertLoopbackUrl(baseUrl);
    this.pool = new Pool(baseUrl, { connections, pipelining: 1, allowH2: false, keepAliveTimeout: 30_000 });
  }

  async request<T>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await this.pool.request({
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.body.text();
    let parsed: { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new GraphQLError(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`, undefined);
    }
    if (parsed.errors?.length) {
      const first = parsed.errors[0]!;
      throw new GraphQLError(`${first.extensions?.code ?? 'ERROR'}: ${first.message}`, first.extensions?.code);
    }
    if (!parsed.data) throw new GraphQLError(`HTTP ${response.statusCode}: no data`, undefined);
    return parsed.data;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

export interface Tenant {
  adminToken: string;
  publisherToken: string;
}

export async function createTenant(client: GraphQLClient, operatorToken: string, name: string): Promise<Tenant> {
  const { createAccount } = await client.request<{ createAccount: { adminToken: string } }>(
    operatorToken,
    'mutation($name: String!) { createAccount(name: $name) { account { id } adminToken } }',
    { name },
  );
  const { createApiKey } = await client.request<{ createApiKey: { token: string } }>(
    createAccount.adminToken,
    'mutation { createApiKey(name: "bench publisher", role: PUBLISHER) { token } }',
  );
  return { adminToken: createAccount.adminToken, publisherToken: createApiKey.token };
}

export interface CreatedSubscription {
  id: string;
  secret: string;
  key: string;
}

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
    const { createWebhookSubscription } = await client.request<{ createWebhookSubscription: { subscription: { id: string }; secret: string } }>(
      adminToken,
      `mutation($input: CreateWebhookSubscriptionInput!) {
         createWebhookSubscription(input: $input) { subscription { id } secret }
       }`,
      { input: { url: `http://127.0.0.1:${receiverPort}/h/${key}`, channels: ['invoices'], retrySchedule: [1, 5, 30] } },
    );
    created.push({ id: createWebhookSubscription.subscription.id, secret: createWebhookSubscription.secret, key });
  }
  return created;
}

const PUBLISH = `mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } duplicate } }`;

/** One publishEvent; the data carries the publish time for the receiver. Resolves to the mutation's latency in ms. */
export async function publish(client: GraphQLClient, token: string, phase: string, seq: number): Promise<number> {
  const started = performance.now();
  await client.request(token, PUBLISH, {
    input: {
      type: 'invoices.created',
      data: { sentAt: nowMs(), phase, seq, invoiceId: `INV${seq}`, customerId: 'CUST42', amount: 1234.5, currency: 'EUR' },
    },
  });
  return performance.now() - started;
}
