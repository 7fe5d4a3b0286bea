import type { SigningSecretEntity, SubscriptionEntity } from '../../db/entities/index.js';
import { EndpointHealthState } from '../../delivery-engine/endpoint-health.js';
import { EndpointHealth } from '../types/endpoint-health.js';
import { CreatedWebhookSubscription, RotatedSecret, SigningSecret, WebhookSubscription } from '../types/subscription.js';

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
    ordering: entity.ordering,
    endpointHealth: presentEndpointHealth(entity),
    kind: entity.kind,
    lastPulledAt: entity.lastPulledAt,
    expireAfterIdleSeconds: entity.expireAfterIdleSeconds,
  });
}

/** A probe is only due while the endpoint is held; the column may keep an older one. */
export function presentEndpointHealth(entity: SubscriptionEntity): EndpointHealth {
  return Object.assign(new EndpointHealth(), {
    state: entity.healthState,
    since: entity.healthSince,
    consecutiveFailures: entity.consecutiveFailures,
    nextProbeAt: entity.healthState === EndpointHealthState.HELD ? entity.nextProbeAt : null,
  });
}

/** The ciphertext is left behind on purpose: it has no field. */
export function presentSigningSecret(entity: SigningSecretEntity): SigningSecret {
  return Object.assign(new SigningSecret(), { id: entity.id, hint: entity.hint, createdAt: entity.createdAt, expiresAt: entity.expiresAt });
}

/** The plaintext secret is shown here once. */
export function presentCreatedSubscription(created: { subscription: SubscriptionEntity; secret: string }): CreatedWebhookSubscription {
  return Object.assign(new CreatedWebhookSubscription(), { subscription: presentSubscription(created.subscription), secret: created.secret });
}

/** The new plaintext secret is shown here once. */
export function presentRotatedSecret(rotated: { subscription: SubscriptionEntity; secret: string }): RotatedSecret {
  return Object.assign(new RotatedSecret(), { subscription: presentSubscription(rotated.subscription), secret: rotated.secret });
}
