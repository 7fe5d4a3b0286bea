import { ApiError, isNotFound, type ApiClient, type RequestOptions } from './api-client.js';
import type { PullResult } from '../pull/outcome.js';

/** The GraphQL operations that listen and trigger use, typed once here. */

export interface Viewer {
  role: string;
  environment: string;
  account: { id: string; name: string } | null;
}

export interface SubscriptionSummary {
  id: string;
  url: string;
  kind: string;
  channels: string[];
  events: string[];
}

export interface CreatedSubscription {
  subscription: SubscriptionSummary;
  secret: string;
}

export interface PulledDelivery {
  delivery: { id: string; status: string; attemptCount: number; event: { id: string; type: string } };
  leaseToken: string;
  headers: Record<string, string>;
  body: string;
}

export interface EventTypeSummary {
  name: string;
  example: unknown;
}

export interface PublishedEvent {
  event: { id: string; type: string; sequence: number | null };
  duplicate: boolean;
}

const SUBSCRIPTION_FIELDS = 'id url kind channels events';

export async function viewer(api: ApiClient, options?: RequestOptions): Promise<Viewer> {
  return (await api.request<{ viewer: Viewer }>('{ viewer { role environment account { id name } } }', {}, options)).viewer;
}

/** The subscription, or null when it no longer exists (deleted, expired, or of another account or environment). */
export async function findSubscription(api: ApiClient, id: string, options?: RequestOptions): Promise<SubscriptionSummary | null> {
  try {
    const data = await api.request<{ webhookSubscription: SubscriptionSummary | null }>(
      `query($id: ID!) { webhookSubscription(id: $id) { ${SUBSCRIPTION_FIELDS} } }`,
      { id },
      options,
    );
    return data.webhookSubscription;
  } catch (error) {
    // An id that is not a well-formed id is refused as input; it names no subscription either.
    if (isNotFound(error) || (error instanceof ApiError && error.code === 'BAD_USER_INPUT')) return null;
    throw error;
  }
}

export interface CreatePullSubscriptionInput {
  description: string;
  channels: string[];
  events: string[];
  expireAfterIdleSeconds: number | null;
}

export async function createPullSubscription(
  api: ApiClient,
  input: CreatePullSubscriptionInput,
  options?: RequestOptions,
): Promise<CreatedSubscription> {
  const data = await api.request<{ createPullSubscription: CreatedSubscription }>(
    `mutation($input: CreatePullSubscriptionInput!) {
       createPullSubscription(input: $input) { subscription { ${SUBSCRIPTION_FIELDS} } secret } }`,
    { input },
    options,
  );
  return data.createPullSubscription;
}

/** Deletes the subscription; one that is already gone counts as deleted. */
export async function deleteSubscription(api: ApiClient, id: string, options?: RequestOptions): Promise<void> {
  try {
    await api.request<{ deleteWebhookSubscription: boolean }>('mutation($id: ID!) { deleteWebhookSubscription(id: $id) }', { id }, options);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function pullDeliveries(
  api: ApiClient,
  subscriptionId: string,
  first: number,
  waitSeconds: number,
  options?: RequestOptions,
): Promise<PulledDelivery[]> {
  const data = await api.request<{ pullDeliveries: PulledDelivery[] }>(
    `query($id: ID!, $first: Int!, $wait: Int!) {
       pullDeliveries(subscriptionId: $id, first: $first, waitSeconds: $wait) {
         delivery { id status attemptCount event { id type } } leaseToken headers body } }`,
    { id: subscriptionId, first, wait: waitSeconds },
    options,
  );
  return data.pullDeliveries;
}

/** How many of the results were recorded: one whose lease lapsed is not. */
export async function acknowledgeDeliveries(
  api: ApiClient,
  subscriptionId: string,
  results: PullResult[],
  options?: RequestOptions,
): Promise<number> {
  const data = await api.request<{ acknowledgeDeliveries: number }>(
    'mutation($id: ID!, $results: [PullResultInput!]!) { acknowledgeDeliveries(subscriptionId: $id, results: $results) }',
    { id: subscriptionId, results },
    options,
  );
  return data.acknowledgeDeliveries;
}

export async function eventTypes(api: ApiClient, options?: RequestOptions): Promise<EventTypeSummary[]> {
  return (await api.request<{ eventTypes: EventTypeSummary[] }>('{ eventTypes { name example } }', {}, options)).eventTypes;
}

export interface PublishInput {
  type: string;
  data: unknown;
  idempotencyKey?: string;
  orderingKey?: string;
}

export async function publishEvent(api: ApiClient, input: PublishInput, options?: RequestOptions): Promise<PublishedEvent> {
  const data = await api.request<{ publishEvent: PublishedEvent }>(
    'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id type sequence } duplicate } }',
    { input },
    options,
  );
  return data.publishEvent;
}
