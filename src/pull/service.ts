import type { DataSource } from 'typeorm';
import { DeliveryEntity, EventEntity, type SubscriptionEntity } from '../db/entities/index.js';
import { poolOf } from '../db/data-source.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { TEST_EVENT_TYPE, type AttemptContext, type AttemptEntry, type AttemptStore } from '../delivery-engine/attempt-store.js';
import type { DeliveryRequestBuilder } from '../delivery-engine/request.js';
import { SubscriptionKind, type Scope } from '../domain.js';
import { InputError, type FieldError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import type { Metrics } from '../metrics/metrics.js';
import type { OperationsReporter } from '../operations/reporter.js';
import type { SecretService } from '../secrets/service.js';
import type { SubscriptionService } from '../subscriptions/service.js';
import {
  MAX_PULL_BATCH,
  MAX_PULL_WAIT_SECONDS,
  NO_RESPONSE_STATUS,
  PULL_LEASE_SECONDS,
  attemptOfResult,
  pullOutcome,
  type PullResult,
} from './outcome.js';
import type { PullWaiters, WaitEnd } from './waiters.js';

/** A delivery leased to a PULL consumer, with the request a push would have sent. */
export interface PulledDelivery {
  delivery: DeliveryEntity;
  leaseToken: string;
  headers: Record<string, string>;
  body: string;
}

export interface PullDeps {
  db: DataSource;
  subscriptions: SubscriptionService;
  secrets: SecretService;
  store: AttemptStore;
  requests: DeliveryRequestBuilder;
  waiters: PullWaiters;
  reporter: OperationsReporter;
  metrics: Metrics;
  /** Wakes the long polls of these subscriptions in every API process, after a commit that made deliveries due. */
  wakePull: (subscriptionIds: string[]) => void;
}

/** What the attempt of a lease that ran out says. */
const LAPSE_ERROR = `Not acknowledged within ${PULL_LEASE_SECONDS} s: the lease lapsed and the delivery was offered again`;
/** last_pulled_at is written at most this often: it only has to tell an idle subscription from a busy one. */
const TOUCH_EVERY_MS = 10_000;
/** A due time that has come while another consumer holds the row is looked at again this much later, not at once. */
const MIN_WAIT_MS = 50;

/**
 * PULL subscriptions' consumers: leasing due deliveries (`pullDeliveries`,
 * a long poll) and recording their results (`acknowledgeDeliveries`). A
 * lease is the delivery engine's lease (the same columns, the same fence):
 * the push engine never claims a PULL subscription's deliveries, and a PULL
 * consumer leases only its own. Results are recorded by the delivery
 * engine's recorder, so that ordering per key, attempts, retries and stats
 * work as for a push; endpoint health does not apply.
 */
export class PullService {
  private readonly delivery: EntityColumns<DeliveryEntity>;
  private readonly event: EntityColumns<EventEntity>;
  private readonly leaseSql: string;
  private readonly leasedSql: string;

  constructor(private readonly deps: PullDeps) {
    this.delivery = entityColumns(deps.db, DeliveryEntity, 'd');
    this.event = entityColumns(deps.db, EventEntity, 'e');
    // The oldest due deliveries that nobody holds (or whose lease lapsed), skipping those another
    // consumer is leasing at this moment, each under a new lease. A lapsed lease becomes an attempt
    // that does not count against the retry schedule (the schedule's offset moves with it).
    this.leaseSql = `
      WITH locked AS (
        SELECT d.id, d.lease_token IS NOT NULL AS lapsed, d.lease_expires_at AS lapsed_at FROM deliveries d
        WHERE d.subscription_id = $1 AND d.status IN ('PENDING', 'RETRYING') AND NOT d.order_wait AND d.next_attempt_at <= now()
          AND (d.lease_token IS NULL OR d.lease_expires_at <= now())
        ORDER BY d.next_attempt_at, d.id
        LIMIT $2
        FOR UPDATE OF d SKIP LOCKED
      ), picked AS (
        SELECT locked.*, row_number() OVER () AS n FROM locked
      ), lapses AS (
        INSERT INTO delivery_attempts (id, delivery_id, subscription_id, number, started_at, duration_ms, response_status, response_body, error, succeeded)
        SELECT ($4::uuid[])[p.n], d.id, d.subscription_id, d.attempt_count + 1, p.lapsed_at - make_interval(secs => $3), $3 * 1000, NULL, NULL, $5, false
        FROM picked p JOIN deliveries d ON d.id = p.id
        WHERE p.lapsed
      )
      UPDATE deliveries d
      SET lease_owner = NULL, lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => $3),
          attempt_count = d.attempt_count + p.lapsed::int, schedule_offset = d.schedule_offset + p.lapsed::int,
          last_attempt_at = CASE WHEN p.lapsed THEN p.lapsed_at - make_interval(secs => $3) ELSE d.last_attempt_at END,
          updated_at = now()
      FROM picked p, events e
      WHERE d.id = p.id AND e.id = d.event_id
      RETURNING ${this.delivery.select}, ${this.event.select}`;
    // The deliveries acknowledged under their current, unexpired lease, locked until the results are
    // recorded: a lease that lapsed (and may have been given to another consumer) records nothing.
    this.leasedSql = `
      SELECT ${this.delivery.select}, ${this.event.select} FROM deliveries d
      JOIN unnest($1::uuid[], $2::uuid[]) AS r(id, token) ON d.id = r.id AND d.lease_token = r.token
      JOIN events e ON e.id = d.event_id
      WHERE d.subscription_id = $3 AND d.lease_expires_at > now() AND d.status IN ('PENDING', 'RETRYING')
      ORDER BY d.id
      FOR NO KEY UPDATE OF d`;
  }

  /** Long polls waiting in this process. */
  get waiting(): number {
    return this.deps.waiters.size;
  }

  async start(): Promise<void> {
    this.deps.reporter.start();
    await this.deps.waiters.start();
  }

  /** Answers the waiting long polls (with nothing) and waits no more; the first step of stopping. */
  async stopWaiting(): Promise<void> {
    await this.deps.waiters.stop();
  }

  /** Reports the failures counted so far; after the HTTP server has stopped. */
  async stop(): Promise<void> {
    await this.deps.waiters.stop();
    await this.deps.reporter.stop();
  }

  /**
   * Leases up to `first` due deliveries of the subscription to the caller.
   * When there are none, waits up to waitSeconds for one: woken when the
   * fan-out (or a redelivery, a replay, an acknowledgement) makes deliveries
   * of the subscription due, or when a retry or a lapsed lease comes due;
   * never by looking at the database in a loop. `leaving` tells of a caller
   * that went away, whose wait ends without leasing anything.
   */
  async pull(
    scope: Scope,
    subscriptionId: string,
    first: number,
    waitSeconds: number,
    leaving?: (onLeave: () => void) => () => void,
  ): Promise<PulledDelivery[]> {
    const problems: FieldError[] = [];
    if (!Number.isInteger(first) || first < 1 || first > MAX_PULL_BATCH) problems.push({ field: 'first', message: `must be 1 to ${MAX_PULL_BATCH}` });
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > MAX_PULL_WAIT_SECONDS)
      problems.push({ field: 'waitSeconds', message: `must be 0 to ${MAX_PULL_WAIT_SECONDS}` });
    if (problems.length) throw new InputError(problems);
    const subscription = await this.pullSubscription(scope, subscriptionId, 'subscriptionId');
    await this.touch(subscription);
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const ticket = waitSeconds > 0 ? this.deps.waiters.ticket(subscription.id) : undefined;
      try {
        const pulled = await this.lease(subscription, first);
        if (pulled.length > 0 || !ticket || Date.now() >= deadline) return pulled;
        const due = await this.nextDueAt(subscription.id);
        const until = due === null ? deadline : Math.min(deadline, Math.max(due.getTime(), Date.now() + MIN_WAIT_MS));
        const end: WaitEnd = await ticket.wait(until, leaving);
        // A wait until the deadline that timed out has reached it, even where Date.now() says a millisecond less:
        // the timer counts whole milliseconds of the monotonic clock, Date.now() those of the wall clock, and
        // the two truncate differently. Looking again would cost a lease statement for nothing.
        if (end === 'gone' || end === 'stopped' || (end === 'timeout' && (until >= deadline || Date.now() >= deadline))) return [];
      } finally {
        ticket?.cancel();
      }
    }
  }

  /**
   * Records the consumer's results, each as an attempt under the lease it
   * names: 2xx delivered, anything else a failed attempt on the retry
   * schedule. A result whose lease lapsed, or that names a delivery of
   * another subscription or one already settled, is not recorded. Answers
   * how many were.
   */
  async acknowledge(scope: Scope, subscriptionId: string, results: readonly PullResult[]): Promise<number> {
    this.checkResults(results);
    const subscription = await this.pullSubscription(scope, subscriptionId, 'subscriptionId');
    if (results.length === 0) return 0;
    const byId = new Map(results.map((r) => [r.deliveryId, r]));
    const now = new Date();
    const recorded = await this.deps.db.transaction(async (manager) => {
      const rows = (await manager.query(this.leasedSql, [
        results.map((r) => r.deliveryId),
        results.map((r) => r.leaseToken),
        subscription.id,
      ])) as Array<Record<string, unknown>>;
      const entries: AttemptEntry[] = rows.map((row) => {
        const delivery = this.delivery.read(row);
        const event = this.event.read(row);
        const result = byId.get(delivery.id)!;
        return {
          context: { delivery, event, subscription },
          attempt: attemptOfResult(result, now),
          outcome: pullOutcome({
            status: result.status,
            // A test event gets one attempt, as it does when pushed.
            schedule: event.type === TEST_EVENT_TYPE ? [] : subscription.retrySchedule,
            attemptsMade: delivery.attemptCount - delivery.scheduleOffset + 1,
          }),
        };
      });
      await this.deps.store.record(entries, manager);
      return entries;
    });
    for (const { attempt } of recorded) {
      this.deps.metrics.deliveryAttempts.inc({
        outcome: attempt.succeeded ? 'success' : attempt.responseStatus === null ? 'pull_no_response' : `http_${attempt.responseStatus}`,
      });
    }
    // A keyed delivery that went through lets the next one of its key go: its consumers may be waiting for it.
    if (recorded.some((e) => e.attempt.succeeded && e.context.delivery.orderingKey !== null)) this.deps.wakePull([subscription.id]);
    return recorded.length;
  }

  private checkResults(results: readonly PullResult[]): void {
    const problems: FieldError[] = [];
    if (results.length > MAX_PULL_BATCH) problems.push({ field: 'results', message: `at most ${MAX_PULL_BATCH} results in one call` });
    const seen = new Set<string>();
    results.forEach((r, i) => {
      if (!isUuid(r.deliveryId)) problems.push({ field: `results[${i}].deliveryId`, message: 'is not a delivery id' });
      else if (seen.has(r.deliveryId)) problems.push({ field: `results[${i}].deliveryId`, message: 'appears more than once' });
      seen.add(r.deliveryId);
      if (!isUuid(r.leaseToken)) problems.push({ field: `results[${i}].leaseToken`, message: 'is not a lease token that pullDeliveries gave' });
      if (!Number.isInteger(r.status) || (r.status !== NO_RESPONSE_STATUS && (r.status < 100 || r.status > 599)))
        problems.push({ field: `results[${i}].status`, message: `must be an HTTP status (100 to 599), or ${NO_RESPONSE_STATUS} for no response` });
    });
    if (problems.length) throw new InputError(problems);
  }

  /** The subscription, which must be a PULL subscription of the scope. */
  private async pullSubscription(scope: Scope, id: string, field: string): Promise<SubscriptionEntity> {
    const subscription = await this.deps.subscriptions.get(scope, id);
    if (subscription.kind !== SubscriptionKind.PULL)
      throw InputError.field(field, 'is a PUSH subscription: Hookline POSTs its deliveries to its URL; only a PULL subscription is pulled from');
    return subscription;
  }

  private async touch(subscription: SubscriptionEntity): Promise<void> {
    if (subscription.lastPulledAt && Date.now() - subscription.lastPulledAt.getTime() < TOUCH_EVERY_MS) return;
    await this.deps.db.query(`UPDATE webhook_subscriptions SET last_pulled_at = now() WHERE id = $1`, [subscription.id]);
  }

  private async lease(subscription: SubscriptionEntity, first: number): Promise<PulledDelivery[]> {
    const { rows } = await poolOf(this.deps.db).query<Record<string, unknown>>({
      name: 'hookline_pull_lease',
      text: this.leaseSql,
      values: [subscription.id, first, PULL_LEASE_SECONDS, Array.from({ length: first }, () => newId()), LAPSE_ERROR],
    });
    if (rows.length === 0) return [];
    const contexts: AttemptContext[] = rows
      .map((row) => ({ delivery: this.delivery.read(row), event: this.event.read(row), subscription }))
      .sort((x, y) => (x.delivery.id < y.delivery.id ? -1 : 1));
    const wanted: AttemptContext[] = [];
    for (const context of contexts) {
      // As the delivery engine does: a delivery the subscription no longer wants (disabled, channels changed) ends here.
      if (await this.deps.store.stillMatches(context)) wanted.push(context);
      else await this.deps.store.cancel(context);
    }
    if (wanted.length === 0) return [];
    const secrets = await this.deps.secrets.activeSecrets(subscription.id);
    return Promise.all(
      wanted.map(async (context) => ({
        delivery: context.delivery,
        leaseToken: context.delivery.leaseToken!,
        ...(await this.deps.requests.build(context, secrets)),
      })),
    );
  }

  /** When the next delivery of the subscription comes due: a retry, or a lease that runs out; null when none is coming. */
  private async nextDueAt(subscriptionId: string): Promise<Date | null> {
    const [row] = (await this.deps.db.query(
      `SELECT LEAST(
         (SELECT min(next_attempt_at) FROM deliveries
          WHERE subscription_id = $1 AND status IN ('PENDING', 'RETRYING') AND NOT order_wait AND lease_token IS NULL),
         (SELECT min(lease_expires_at) FROM deliveries WHERE subscription_id = $1 AND lease_token IS NOT NULL)
       ) AS at`,
      [subscriptionId],
    )) as Array<{ at: Date | null }>;
    return row?.at ?? null;
  }
}
