import { expect } from 'vitest';
import type { GraphQLResult, TestApp } from './app.js';

/** Every field of WebhookSubscription that the subscription issue owns. */
export const SUBSCRIPTION_FIELDS = `id url description channels events environment enabled disabledReason payloadFormat
  retrySchedule headers rateLimitPerSecond createdAt updatedAt secrets { id hint createdAt expiresAt }`;

export interface Subscription {
  id: string;
  url: string;
  description: string | null;
  channels: string[];
  events: string[];
  environment: string;
  enabled: boolean;
  disabledReason: string | null;
  payloadFormat: string;
  retrySchedule: number[];
  headers: Record<string, string> | null;
  rateLimitPerSecond: number | null;
  createdAt: string;
  updatedAt: string;
  secrets: Array<{ id: string; hint: string; createdAt: string; expiresAt: string | null }>;
}

export const CREATE = `mutation($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(input: $input) { secret subscription { ${SUBSCRIPTION_FIELDS} } } }`;
export const UPDATE = `mutation($id: ID!, $input: UpdateWebhookSubscriptionInput!) {
  updateWebhookSubscription(id: $id, input: $input) { ${SUBSCRIPTION_FIELDS} } }`;
export const GET = `query($id: ID!) { webhookSubscription(id: $id) { ${SUBSCRIPTION_FIELDS} } }`;
export const LIST = `{ webhookSubscriptions { ${SUBSCRIPTION_FIELDS} } }`;
export const DELETE = 'mutation($id: ID!) { deleteWebhookSubscription(id: $id) }';
export const ROTATE = `mutation($id: ID!, $expire: Int, $secret: String) {
  rotateWebhookSecret(id: $id, expireCurrentAfterSeconds: $expire, secret: $secret) { secret subscription { ${SUBSCRIPTION_FIELDS} } } }`;
export const REVEAL = 'query($id: ID!) { webhookSecrets(subscriptionId: $id) }';

export async function createSubscription(
  t: TestApp,
  token: string,
  input: Record<string, unknown>,
): Promise<{ subscription: Subscription; secret: string }> {
  const data = await t.ok<{ createWebhookSubscription: { subscription: Subscription; secret: string } }>(token, CREATE, {
    input: { url: 'http://127.0.0.1:9/hook', channels: ['invoices'], ...input },
  });
  return data.createWebhookSubscription;
}

/** The error's code, and the field paths it names. */
export function errorOf(result: GraphQLResult): { code: unknown; fields: string[]; message: string } {
  expect(result.errors, `expected an error, got ${JSON.stringify(result.data)}`).toBeDefined();
  const error = result.errors![0]!;
  const fields = ((error.extensions?.fields as Array<{ field: string }> | undefined) ?? []).map((f) => f.field);
  return { code: error.extensions?.code, fields, message: error.message };
}

/** Asserts a BAD_USER_INPUT that names the field. */
export function expectBadInput(result: GraphQLResult, field: string): void {
  const { code, fields } = errorOf(result);
  expect(code).toBe('BAD_USER_INPUT');
  expect(fields).toContain(field);
}
