import { fanOutNow } from './fan-out.js';
import { createAccount, type TestApp } from './app.js';

/** GraphQL selections the delivery tests read back. */
export const DELIVERY_FIELDS = `id status attemptCount nextAttemptAt lastAttemptAt createdAt
  event { id type } subscription { id }
  attempts { number responseStatus responseBody error succeeded durationMs startedAt }`;

export interface Delivery {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  event: { id: string; type: string };
  subscription: { id: string };
  attempts: Array<{
    number: number;
    responseStatus: number | null;
    responseBody: string | null;
    error: string | null;
    succeeded: boolean;
    durationMs: number;
  }>;
}

export interface SubscriptionInput {
  url: string;
  channels: string[];
  events?: string[];
  payloadFormat?: 'ENVELOPE' | 'FLAT' | 'XML';
  retrySchedule?: number[];
  headers?: Record<string, string>;
  description?: string;
  maxInFlight?: number;
}

/** An account with an ADMIN token, plus helpers bound to it. */
export async function tenant(t: TestApp, name = 'Acme') {
  const { adminToken, accountId } = await createAccount(t, name);

  async function subscribe(input: SubscriptionInput, token = adminToken): Promise<{ id: string; secret: string }> {
    const data = await t.ok<{ createWebhookSubscription: { subscription: { id: string }; secret: string } }>(
      token,
      `mutation($input: CreateWebhookSubscriptionInput!) {
         createWebhookSubscription(input: $input) { subscription { id } secret } }`,
      { input },
    );
    return { id: data.createWebhookSubscription.subscription.id, secret: data.createWebhookSubscription.secret };
  }

  async function publish(type: string, data: unknown, idempotencyKey?: string, token = adminToken, orderingKey?: string) {
    const result = await t.ok<{ publishEvent: { event: { id: string }; duplicate: boolean } }>(
      token,
      `mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } duplicate } }`,
      { input: { type, data, idempotencyKey, orderingKey } },
    );
    // Without workers in the app, nothing would fan the event out.
    if (!t.app.workers) await fanOutNow(t);
    return result.publishEvent;
  }

  async function delivery(id: string, token = adminToken): Promise<Delivery> {
    const data = await t.ok<{ delivery: Delivery }>(token, `query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} } }`, { id });
    return data.delivery;
  }

  async function deliveriesOfEvent(eventId: string, token = adminToken): Promise<Delivery[]> {
    const data = await t.ok<{ event: { deliveries: Delivery[] } }>(
      token,
      `query($id: ID!) { event(id: $id) { deliveries { ${DELIVERY_FIELDS} } } }`,
      { id: eventId },
    );
    return data.event.deliveries;
  }

  /** Whether the subscription is enabled, and why not. */
  async function subscriptionState(id: string): Promise<{ enabled: boolean; disabledReason: string | null }> {
    const data = await t.ok<{ webhookSubscription: { enabled: boolean; disabledReason: string | null } }>(
      adminToken,
      'query($id: ID!) { webhookSubscription(id: $id) { enabled disabledReason } }',
      { id },
    );
    return data.webhookSubscription;
  }

  /** Polls until the delivery reaches the status (fails the test after timeoutMs). */
  async function waitForStatus(id: string, status: string | string[], timeoutMs = 20_000): Promise<Delivery> {
    const wanted = Array.isArray(status) ? status : [status];
    const deadline = Date.now() + timeoutMs;
    let last: Delivery | undefined;
    while (Date.now() < deadline) {
      last = await delivery(id);
      if (wanted.includes(last.status)) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`delivery ${id} did not reach ${wanted.join('/')} within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
  }

  /** Polls until the event has fanned out to `count` deliveries. */
  async function waitForDeliveries(eventId: string, count: number, timeoutMs = 15_000): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    let last: Delivery[] = [];
    while (Date.now() < deadline) {
      last = await deliveriesOfEvent(eventId);
      if (last.length >= count) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`event ${eventId} has ${last.length} deliveries, expected ${count}`);
  }

  return { accountId, adminToken, subscribe, publish, delivery, deliveriesOfEvent, subscriptionState, waitForStatus, waitForDeliveries };
}

export type Tenant = Awaited<ReturnType<typeof tenant>>;
