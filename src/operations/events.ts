import { channelOf } from '../catalog/rules.js';
import { urlWithoutQueryValues } from './url.js';

/**
 * The data of the `operations` channel's events (their JSON Schemas are in
 * the built-in catalog), built from a subscription and its health figures.
 * Pure: the delivery engine decides when an endpoint is held, recovers or is
 * disabled, and publishes what these return through the same service call
 * as publishEvent, with `orderingKey` so that an endpoint's operations
 * events reach a receiver in the order they happened.
 */

export const OPERATIONS_CHANNEL = 'operations';

export const OPERATIONS_EVENTS = {
  endpointHeld: 'operations.endpoint_held',
  endpointRecovered: 'operations.endpoint_recovered',
  endpointDisabled: 'operations.endpoint_disabled',
  deliveryFailed: 'operations.delivery_failed',
  orderingKeyBlocked: 'operations.ordering_key_blocked',
} as const;

/** How many delivery ids a delivery_failed event lists; `count` has them all. */
export const MAX_LISTED_DELIVERIES = 10;

/** The subscription fields an operations event names. */
export interface OperationsSubscription {
  id: string;
  url: string;
}

/** The endpoint's health figures at the moment of the event. */
export interface HealthFigures {
  consecutiveFailures: number;
  failingSince: Date | null;
  /** HTTP status of the last attempt; null when none came back (timeout, refused connection). */
  lastStatus: number | null;
}

/** An operations event ready to publish. */
export interface OperationsEvent {
  type: (typeof OPERATIONS_EVENTS)[keyof typeof OPERATIONS_EVENTS];
  data: Record<string, unknown>;
  /** The subscription's id: one endpoint's events are delivered in order (held before recovered). */
  orderingKey: string;
  /** Set where the same occurrence may be reported by more than one worker. */
  idempotencyKey?: string;
}

/**
 * False for a delivery of an operations event: its failure must not raise
 * another operations event, or one failing endpoint that subscribes to the
 * channel would feed itself.
 */
export function mayRaiseOperationsEvents(eventType: string): boolean {
  return channelOf(eventType) !== OPERATIONS_CHANNEL;
}

function common(subscription: OperationsSubscription, reason: string, figures: HealthFigures): Record<string, unknown> {
  return {
    subscriptionId: subscription.id,
    url: urlWithoutQueryValues(subscription.url),
    reason,
    consecutiveFailures: figures.consecutiveFailures,
    failingSince: figures.failingSince?.toISOString() ?? null,
    lastStatus: figures.lastStatus,
  };
}

export function endpointHeld(subscription: OperationsSubscription, figures: HealthFigures, nextProbeAt: Date | null): OperationsEvent {
  return {
    type: OPERATIONS_EVENTS.endpointHeld,
    data: {
      ...common(subscription, `${figures.consecutiveFailures} failed attempts in a row`, figures),
      nextProbeAt: nextProbeAt?.toISOString() ?? null,
    },
    orderingKey: subscription.id,
  };
}

/** `figures` as they were before the success: how long it failed and how often. */
export function endpointRecovered(subscription: OperationsSubscription, figures: HealthFigures, recoveredAt: Date): OperationsEvent {
  return {
    type: OPERATIONS_EVENTS.endpointRecovered,
    data: { ...common(subscription, 'The endpoint answered with success again', figures), recoveredAt: recoveredAt.toISOString() },
    orderingKey: subscription.id,
  };
}

export function endpointDisabled(subscription: OperationsSubscription, figures: HealthFigures, reason: string, disabledAt: Date): OperationsEvent {
  return {
    type: OPERATIONS_EVENTS.endpointDisabled,
    data: { ...common(subscription, reason, figures), disabledAt: disabledAt.toISOString() },
    orderingKey: subscription.id,
  };
}

export function orderingKeyBlocked(
  subscription: OperationsSubscription,
  figures: HealthFigures,
  blocked: { orderingKey: string; deliveryId: string; waiting?: number },
): OperationsEvent {
  const data: Record<string, unknown> = {
    ...common(subscription, `Delivery ${blocked.deliveryId} of key ${blocked.orderingKey} ended FAILED`, figures),
    orderingKey: blocked.orderingKey,
    deliveryId: blocked.deliveryId,
  };
  if (blocked.waiting !== undefined) data.waiting = blocked.waiting;
  return {
    type: OPERATIONS_EVENTS.orderingKeyBlocked,
    data,
    orderingKey: subscription.id,
    idempotencyKey: `${OPERATIONS_EVENTS.orderingKeyBlocked}:${subscription.id}:${blocked.deliveryId}`,
  };
}

/** The minute a failure falls in: delivery_failed events are per subscription and minute. */
export function minuteWindow(at: Date): { start: Date; end: Date } {
  const start = Math.floor(at.getTime() / 60_000) * 60_000;
  return { start: new Date(start), end: new Date(start + 60_000) };
}

/** One subscription's failures in one minute. */
export interface FailureWindow {
  subscriptionId: string;
  windowStart: Date;
  count: number;
  /** The first MAX_LISTED_DELIVERIES, in the order they failed. */
  deliveryIds: string[];
}

export function deliveryFailed(subscription: OperationsSubscription, figures: HealthFigures, window: FailureWindow): OperationsEvent {
  const { start, end } = minuteWindow(window.windowStart);
  const what = window.count === 1 ? '1 delivery' : `${window.count} deliveries`;
  return {
    type: OPERATIONS_EVENTS.deliveryFailed,
    data: {
      ...common(subscription, `${what} ended FAILED after their last retry`, figures),
      count: window.count,
      deliveryIds: window.deliveryIds.slice(0, MAX_LISTED_DELIVERIES),
      windowStart: start.toISOString(),
      windowEnd: end.toISOString(),
    },
    // No idempotency key: each worker process reports the failures it saw, so
    // the counts of one subscription's minute add up across its events.
    orderingKey: subscription.id,
  };
}

/**
 * The coalescing rule of delivery_failed: failures are counted per
 * subscription and minute, and a minute is reported once it is over, so a
 * thousand failures of one endpoint in a minute are one event with
 * count 1000 and the first ten ids. Failures of operations events are not
 * counted (mayRaiseOperationsEvents). One instance per worker process: with
 * several processes a minute gives one event per process that saw failures.
 */
export class FailureCoalescer {
  private readonly open = new Map<string, FailureWindow>();

  /** Counts a delivery that ended FAILED. */
  add(subscriptionId: string, deliveryId: string, eventType: string, at: Date): void {
    if (!mayRaiseOperationsEvents(eventType)) return;
    const { start } = minuteWindow(at);
    const key = `${subscriptionId}/${start.getTime()}`;
    let window = this.open.get(key);
    if (!window) {
      window = { subscriptionId, windowStart: start, count: 0, deliveryIds: [] };
      this.open.set(key, window);
    }
    window.count++;
    if (window.deliveryIds.length < MAX_LISTED_DELIVERIES) window.deliveryIds.push(deliveryId);
  }

  /** The windows whose minute ended by `now`, removed from the coalescer, oldest first. */
  drain(now: Date): FailureWindow[] {
    const done: FailureWindow[] = [];
    for (const [key, window] of this.open) {
      if (window.windowStart.getTime() + 60_000 <= now.getTime()) {
        done.push(window);
        this.open.delete(key);
      }
    }
    return done.sort((a, b) => a.windowStart.getTime() - b.windowStart.getTime());
  }

  /** Windows not yet reported, for a process that stops: report them rather than lose them. */
  flush(): FailureWindow[] {
    return this.drain(new Date(8.64e15));
  }
}
