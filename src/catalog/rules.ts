import type { Environment } from '../domain.js';
import { AppError } from '../errors.js';

/**
 * The channel rules (docs/api.md, Channels), in one place: the subscription service
 * applies them when a subscription is saved, the delivery workers when an
 * event is fanned out and again when a delivery's turn comes. Pure, so that
 * both sides agree by construction.
 */

/** `channel.action`, both parts lowercase snake case. */
export const EVENT_NAME_PATTERN = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

/** The channel of an event name: what comes before the first dot (the whole name when there is none). */
export function channelOf(eventName: string): string {
  const dot = eventName.indexOf('.');
  return dot === -1 ? eventName : eventName.slice(0, dot);
}

/** The action of an event name: what comes after the first dot. */
export function actionOf(eventName: string): string {
  const dot = eventName.indexOf('.');
  return dot === -1 ? '' : eventName.slice(dot + 1);
}

/**
 * Refuses a channel list that puts an exclusive channel (ledgers) beside
 * any other channel, with EXCLUSIVE_CHANNEL_CONFLICT.
 */
export function checkExclusiveChannels(channels: readonly string[], exclusiveChannelNames: ReadonlySet<string>): void {
  const distinct = [...new Set(channels)];
  if (distinct.length < 2) return;
  const exclusive = distinct.filter((c) => exclusiveChannelNames.has(c));
  if (exclusive.length === 0) return;
  const others = distinct.filter((c) => c !== exclusive[0]);
  throw new AppError(
    'EXCLUSIVE_CHANNEL_CONFLICT',
    `The channel ${exclusive[0]} is exclusive: a subscription that has it can have no other channel. ` +
      `Unsubscribe from the other channels first (${others.join(', ')}), or use a separate subscription for them.`,
    { channel: exclusive[0], otherChannels: others },
  );
}

/** What subscriptionMatches reads of a subscription; SubscriptionEntity has it. */
export interface MatchableSubscription {
  accountId: string;
  environment: Environment;
  enabled: boolean;
  deletedAt: Date | null;
  channels: string[];
  events: string[];
}

/** What subscriptionMatches reads of an event; EventEntity has it. */
export interface MatchableEvent {
  accountId: string;
  environment: Environment;
  type: string;
}

/**
 * Whether an event goes to a subscription: same account and environment,
 * enabled and not deleted, the event's channel subscribed, and either no
 * event list or one that names the event. A subscription that breaks the
 * exclusive rule (saved before the rule, or by hand) gets nothing rather
 * than a mix the rule forbids.
 */
export function subscriptionMatches(subscription: MatchableSubscription, event: MatchableEvent, exclusiveChannels: ReadonlySet<string>): boolean {
  if (subscription.accountId !== event.accountId || subscription.environment !== event.environment) return false;
  if (!subscription.enabled || subscription.deletedAt !== null) return false;
  const channel = channelOf(event.type);
  if (!subscription.channels.includes(channel)) return false;
  if (subscription.events.length > 0 && !subscription.events.includes(event.type)) return false;
  const distinct = new Set(subscription.channels);
  if (distinct.size > 1 && [...distinct].some((c) => exclusiveChannels.has(c))) return false;
  return true;
}
