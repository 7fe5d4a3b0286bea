import type { DataSource, EntityManager } from 'typeorm';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import type { SubscriptionEntity } from '../db/entities/index.js';
import { EndpointHealthState, type EndpointHealth } from '../delivery-engine/endpoint-health.js';
import type { Scope } from '../domain.js';
import type { EventService } from '../events/service.js';
import type { Logger } from '../logger.js';
import {
  FailureCoalescer,
  deliveryFailed,
  endpointDisabled,
  endpointHeld,
  endpointRecovered,
  mayRaiseOperationsEvents,
  orderingKeyBlocked,
  type HealthFigures,
  type OperationsEvent,
} from './events.js';

/** An endpoint whose health the recorder changed, with the event types of the attempts that changed it. */
export interface HealthTransition {
  subscription: SubscriptionEntity;
  before: EndpointHealth;
  after: EndpointHealth;
  lastStatus: number | null;
  eventTypes: readonly string[];
}

/** What one group of recorded attempts did that an account is told of. */
export interface EndpointChanges {
  transitions: readonly HealthTransition[];
  disabled: ReadonlyArray<{ subscription: SubscriptionEntity; reason: string; lastStatus: number | null; eventType: string }>;
  /** Keyed deliveries of PER_KEY subscriptions that ended FAILED: their keys are blocked. */
  blocked: ReadonlyArray<{ subscription: SubscriptionEntity; deliveryId: string; orderingKey: string; sequence: number | null; eventType: string }>;
}

/** How often the minutes of coalesced failures that are over are reported. */
const DRAIN_MS = 5_000;

function figures(subscription: SubscriptionEntity, health: EndpointHealth, lastStatus: number | null): HealthFigures {
  return { consecutiveFailures: health.consecutiveFailures, failingSince: health.failingSince ?? subscription.failingSince, lastStatus };
}

function scopeOf(subscription: SubscriptionEntity): Scope {
  return { accountId: subscription.accountId, environment: subscription.environment };
}

function byScope<T extends { subscription: SubscriptionEntity }>(items: readonly T[]): T[] {
  // Audit chains are locked in one order by every writer, so that two recorders cannot deadlock on them.
  return [...items].sort((x, y) =>
    `${x.subscription.accountId}/${x.subscription.environment}` < `${y.subscription.accountId}/${y.subscription.environment}` ? -1 : 1,
  );
}

/**
 * Tells an account about its own endpoints: the audit entries of what the
 * delivery engine changed (endpoint held, recovered, disabled), written in
 * the recorder's transaction, and the `operations` events, published through
 * the same service call as publishEvent: the health changes in that same
 * transaction, the failed deliveries coalesced per subscription and minute
 * (a storm of failures is a handful of events). A delivery of an operations
 * event never gives rise to another one.
 */
export class OperationsReporter {
  private readonly failures = new FailureCoalescer();
  private readonly lastStatus = new Map<string, number | null>();
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { db: DataSource; events: EventService; audit: AuditService; logger: Logger }) {}

  start(): void {
    this.timer = setInterval(() => {
      this.draining = this.report(this.failures.drain(new Date()));
    }, DRAIN_MS);
    this.timer.unref();
  }

  /** Reports the failures counted so far, rather than lose them. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.draining;
    await this.report(this.failures.flush());
  }

  /** Counts a delivery that ended FAILED, for the delivery_failed event of its subscription's minute. */
  failed(subscriptionId: string, deliveryId: string, eventType: string, at: Date, status: number | null): void {
    if (!mayRaiseOperationsEvents(eventType)) return;
    this.failures.add(subscriptionId, deliveryId, eventType, at);
    this.lastStatus.set(subscriptionId, status);
  }

  /** In the recorder's transaction: the audit entries and operations events of what it changed. */
  async inTransaction(manager: EntityManager, changes: EndpointChanges): Promise<void> {
    const published = new Map<string, { scope: Scope; events: OperationsEvent[] }>();
    const publish = (subscription: SubscriptionEntity, event: OperationsEvent) => {
      const key = `${subscription.accountId}/${subscription.environment}`;
      const entry = published.get(key) ?? { scope: scopeOf(subscription), events: [] };
      entry.events.push(event);
      published.set(key, entry);
    };
    const now = new Date();
    for (const t of byScope(changes.transitions)) {
      const raises = t.eventTypes.some(mayRaiseOperationsEvents);
      const held = t.before.state !== EndpointHealthState.HELD && t.after.state === EndpointHealthState.HELD;
      const recovered = t.before.state === EndpointHealthState.HELD && t.after.state === EndpointHealthState.HEALTHY;
      if (!held && !recovered) continue;
      const f = figures(t.subscription, held ? t.after : t.before, t.lastStatus);
      await this.deps.audit.recordEndpointChange(manager, {
        ...scopeOf(t.subscription),
        subscriptionId: t.subscription.id,
        action: held ? AUDIT_ACTIONS.endpointHeld : AUDIT_ACTIONS.endpointRecovered,
        reason: held ? `${f.consecutiveFailures} failed attempts in a row` : 'an attempt succeeded',
        consecutiveFailures: f.consecutiveFailures,
        failingSince: f.failingSince,
        lastStatus: f.lastStatus,
      });
      if (raises) publish(t.subscription, held ? endpointHeld(t.subscription, f, t.after.nextProbeAt) : endpointRecovered(t.subscription, f, now));
    }
    for (const d of byScope(changes.disabled)) {
      const f = figures(d.subscription, healthOfSubscription(d.subscription), d.lastStatus);
      await this.deps.audit.recordEndpointChange(manager, {
        ...scopeOf(d.subscription),
        subscriptionId: d.subscription.id,
        action: AUDIT_ACTIONS.endpointDisabled,
        reason: d.reason,
        consecutiveFailures: f.consecutiveFailures,
        failingSince: f.failingSince,
        lastStatus: f.lastStatus,
      });
      if (mayRaiseOperationsEvents(d.eventType)) publish(d.subscription, endpointDisabled(d.subscription, f, d.reason, now));
    }
    for (const b of changes.blocked) {
      if (!mayRaiseOperationsEvents(b.eventType)) continue;
      const [row] = (await manager.query(
        `SELECT count(*)::int AS waiting FROM deliveries
         WHERE subscription_id = $1 AND ordering_key = $2 AND status IN ('PENDING', 'RETRYING') AND sequence > $3`,
        [b.subscription.id, b.orderingKey, b.sequence ?? 0],
      )) as Array<{ waiting: number }>;
      publish(
        b.subscription,
        orderingKeyBlocked(b.subscription, figures(b.subscription, healthOfSubscription(b.subscription), null), {
          orderingKey: b.orderingKey,
          deliveryId: b.deliveryId,
          waiting: row?.waiting ?? 0,
        }),
      );
    }
    for (const { scope, events } of published.values()) await this.deps.events.publishOwn(scope, events, manager);
  }

  private async report(windows: ReturnType<FailureCoalescer['drain']>): Promise<void> {
    if (windows.length === 0) return;
    try {
      const ids = [...new Set(windows.map((w) => w.subscriptionId))];
      const subscriptions = (await this.deps.db.query(
        `SELECT id, account_id, environment, url, consecutive_failures, failing_since FROM webhook_subscriptions WHERE id = ANY($1::uuid[])`,
        [ids],
      )) as Array<{
        id: string;
        account_id: string;
        environment: Scope['environment'];
        url: string;
        consecutive_failures: number;
        failing_since: Date | null;
      }>;
      const byId = new Map(subscriptions.map((s) => [s.id, s]));
      const byScopeKey = new Map<string, { scope: Scope; events: OperationsEvent[] }>();
      for (const window of windows) {
        const s = byId.get(window.subscriptionId);
        if (!s) continue;
        const key = `${s.account_id}/${s.environment}`;
        const entry = byScopeKey.get(key) ?? { scope: { accountId: s.account_id, environment: s.environment }, events: [] };
        entry.events.push(
          deliveryFailed(
            { id: s.id, url: s.url },
            { consecutiveFailures: s.consecutive_failures, failingSince: s.failing_since, lastStatus: this.lastStatus.get(s.id) ?? null },
            window,
          ),
        );
        byScopeKey.set(key, entry);
      }
      for (const { scope, events } of byScopeKey.values()) await this.deps.events.publishOwn(scope, events);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not publish the delivery_failed operations events');
    }
  }
}

function healthOfSubscription(s: SubscriptionEntity): EndpointHealth {
  return {
    state: s.healthState,
    since: s.healthSince,
    consecutiveFailures: s.consecutiveFailures,
    nextProbeAt: s.nextProbeAt,
    failingSince: s.failingSince,
  };
}
