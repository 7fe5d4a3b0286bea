import type { SubscriptionEntity } from '../db/entities/index.js';
import { urlWithoutQueryValues } from '../operations/url.js';

/**
 * What an entry shows of a subscription: its settings, with the URL's
 * query values left out and the custom headers by name only (their values
 * are secrets as much as the signing secrets are).
 */
export interface AuditedSubscription {
  kind: string;
  url: string;
  description: string | null;
  channels: string[];
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  payloadFormat: string;
  retrySchedule: number[];
  headerNames: string[];
  rateLimitPerSecond: number | null;
  maxInFlight: number | null;
  expireAfterIdleSeconds: number | null;
}

export const AUDITED_SUBSCRIPTION_FIELDS = [
  'kind',
  'url',
  'description',
  'channels',
  'events',
  'enabled',
  'disabledReason',
  'payloadFormat',
  'retrySchedule',
  'headerNames',
  'rateLimitPerSecond',
  'maxInFlight',
  'expireAfterIdleSeconds',
] as const satisfies ReadonlyArray<keyof AuditedSubscription>;

export function auditedSubscription(s: SubscriptionEntity): AuditedSubscription {
  return {
    kind: s.kind,
    url: urlWithoutQueryValues(s.url),
    description: s.description,
    channels: s.channels,
    events: s.events,
    enabled: s.enabled,
    disabledReason: s.disabledReason,
    payloadFormat: s.payloadFormat,
    retrySchedule: s.retrySchedule,
    headerNames: Object.keys(s.headers ?? {}).sort(),
    rateLimitPerSecond: s.rateLimitPerSecond,
    maxInFlight: s.maxInFlight,
    expireAfterIdleSeconds: s.expireAfterIdleSeconds,
  };
}
