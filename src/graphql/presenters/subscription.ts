import type { SigningSecretEntity, SubscriptionEntity } from '../../db/entities/index.js';
import { EndpointHealth } from '../types/endpoint-health.js';
import { SigningSecret, WebhookSubscription } from '../types/subscription.js';

/** `secrets` and the role-dependent `headers` are resolved by field resolvers from what this copies. */
export function presentSubscription(entity: SubscriptionEntity): WebhookSubscription {
  return Object.assign(new WebhookSubscription(), {
    id: entity.id,
    url: entity.url,
    description: entity.description,
    channels: entity.channels,
    events: entity.events,
    environment: entity.environment,
    enabled: entity.enabled,
    disabledReason: entity.disabledReason,
    payloadFormat: entity.payloadFormat,
    retrySchedule: entity.retrySchedule,
    headers: entity.headers,
    rateLimitPerSecond: entity.rateLimitPerSecond,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
    maxInFlight: entity.maxInFlight,
    endpointHealth: EndpointHealth.from(entity),
  });
}

/** The ciphertext is left behind on purpose: it has no field. */
export function presentSigningSecret(entity: SigningSecretEntity): SigningSecret {
  return Object.assign(new SigningSecret(), { id: entity.id, hint: entity.hint, createdAt: entity.createdAt, expiresAt: entity.expiresAt });
}
