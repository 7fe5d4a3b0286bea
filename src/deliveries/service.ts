import { In, type DataSource, type EntityManager } from 'typeorm';
import { AUDIT_ACTIONS, type AuditActor } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import { DeliveryAttemptEntity, DeliveryEntity, EventEntity } from '../db/entities/index.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../delivery-engine/limits.js';
import { TEST_EVENT_TYPE, lockNextInLine } from '../delivery-engine/attempt-store.js';
import { DeliveryStatus, type Scope } from '../domain.js';
import { NotFoundError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { keysetPage, type Page } from '../pagination.js';
import type { SubscriptionService } from '../subscriptions/service.js';

export { TEST_EVENT_TYPE };

export interface DeliveryFilter {
  subscriptionId?: string | null;
  eventType?: string | null;
  status?: DeliveryStatus | null;
  since?: Date | null;
  until?: Date | null;
}

export interface BlockedOrderingKey {
  orderingKey: string;
  failedDeliveryId: string;
  since: Date;
  waiting: number;
}

export interface DeliveryStats {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
  successRate: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
}

/**
 * Deliveries requeued by a replay start this many per second per unit of
 * the endpoint's in-flight cap (a rate limit, when set, is the pace), so
 * that a large replay is spread out rather than sent as one burst.
 */
const REPLAY_PACE_PER_SLOT = 20;

/**
 * Deliveries as the API sees them: the operations that queue deliveries
 * (test events, redelivery, replay, unblocking an ordering key) and the
 * reads. Deliveries of published events are created by the fan-out workers
 * (src/fanout/); the delivery engine's side (claiming and recording
 * attempts) is src/delivery-engine/attempt-store.ts.
 */
export class DeliveryService {
  /** The transactions (by their manager) that made deliveries due at once, with the subscriptions of those deliveries. */
  private readonly dueQueued = new WeakMap<EntityManager, Set<string>>();

  constructor(
    private readonly db: DataSource,
    private readonly subscriptions: SubscriptionService,
    private readonly wakeWorkers: (topic: 'deliveries') => void,
    private readonly audit: AuditService,
    /** Wakes the long polls of PULL subscriptions; called with every subscription whose deliveries became due. */
    private readonly wakePull: (subscriptionIds: string[]) => void = () => undefined,
  ) {}

  /** Notes that the transaction made deliveries of the subscription due now. */
  private queued(manager: EntityManager, subscriptionId: string): void {
    const ids = this.dueQueued.get(manager) ?? new Set<string>();
    ids.add(subscriptionId);
    this.dueQueued.set(manager, ids);
  }

  // ---------------------------------------------------------------- queueing

  /**
   * A transaction in which deliveries may be queued. Once it has committed,
   * the delivery workers are woken if it made a delivery due now (see
   * src/queue/wakeup.ts). Every writer of due deliveries in the API goes
   * through here.
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let due: Set<string> | undefined;
    const result = await this.db.transaction(async (manager) => {
      const value = await work(manager);
      due = this.dueQueued.get(manager);
      return value;
    });
    if (due) {
      this.wakeWorkers('deliveries');
      this.wakePull([...due]);
    }
    return result;
  }

  /** One delivery per (event, subscription) pair, due now; the ids of those that did not exist yet. */
  async insertDeliveries(manager: EntityManager, pairs: ReadonlyArray<{ event: EventEntity; subscriptionId: string }>): Promise<string[]> {
    if (pairs.length === 0) return [];
    const inserted: Array<{ id: string }> = await manager.query(
      `INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, next_attempt_at)
       SELECT d.id, d.account_id, d.environment, d.event_id, d.subscription_id, now()
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[])
         AS d(id, account_id, environment, event_id, subscription_id)
       ON CONFLICT (event_id, subscription_id) DO NOTHING
       RETURNING id`,
      [
        pairs.map(() => newId()),
        pairs.map((p) => p.event.accountId),
        pairs.map((p) => p.event.environment),
        pairs.map((p) => p.event.id),
        pairs.map((p) => p.subscriptionId),
      ],
    );
    if (inserted.length > 0) for (const p of pairs) this.queued(manager, p.subscriptionId);
    return inserted.map((r) => r.id);
  }

  // ---------------------------------------------------------------- operations

  /** A webhook.test event and its delivery to this subscription alone. */
  async sendTest(scope: Scope, subscriptionId: string): Promise<DeliveryEntity> {
    const subscription = await this.subscriptions.get(scope, subscriptionId);
    return this.transaction(async (manager) => {
      const event: EventEntity = Object.assign(new EventEntity(), {
        id: newId(),
        accountId: scope.accountId,
        environment: scope.environment,
        type: TEST_EVENT_TYPE,
        data: { subscriptionId: subscription.id, message: 'This is a test event from Hookline.' },
        idempotencyKey: null,
      });
      await manager.save(EventEntity, event);
      const [deliveryId] = await this.insertDeliveries(manager, [{ event, subscriptionId: subscription.id }]);
      return manager.findOneByOrFail(DeliveryEntity, { id: deliveryId! });
    });
  }

  /**
   * Queues the delivery again under the same id (the webhook-id receivers
   * de-duplicate on), due now. Its attempt numbers continue; the retry
   * schedule starts over. A delivery with an attempt in flight keeps its
   * lease (so that its endpoint's cap still counts it) and goes again as soon
   * as that attempt is recorded. A FAILED delivery that blocks its ordering
   * key goes first: the later ones of its key still wait behind it.
   */
  async redeliver(scope: Scope, actor: AuditActor, deliveryId: string): Promise<DeliveryEntity> {
    const delivery = await this.get(scope, deliveryId);
    await this.transaction(async (manager) => {
      await manager.query(
        `UPDATE deliveries
         SET redeliver_requested = in_flight,
             status = CASE WHEN in_flight THEN status ELSE 'PENDING' END,
             next_attempt_at = CASE WHEN in_flight THEN next_attempt_at ELSE now() END,
             schedule_offset = CASE WHEN in_flight THEN schedule_offset ELSE attempt_count END,
             slot_reserved = CASE WHEN in_flight THEN slot_reserved ELSE false END,
             updated_at = now()
         FROM (SELECT id, lease_token IS NOT NULL AND lease_expires_at > now() AS in_flight FROM deliveries WHERE id = $1 FOR UPDATE) AS current
         WHERE deliveries.id = current.id`,
        [delivery.id],
      );
      this.queued(manager, delivery.subscriptionId);
      await this.audit.record(manager, scope, actor, { action: AUDIT_ACTIONS.deliveryRedelivered, targetType: 'delivery', targetId: delivery.id });
    });
    return this.get(scope, deliveryId);
  }

  /**
   * Requeues every FAILED delivery of the subscription created since then,
   * oldest first and paced: the n-th is due n / pace seconds from now, the
   * pace following the endpoint's rate limit or in-flight cap. The answer
   * does not wait for any of them to be sent.
   */
  async replayFailed(scope: Scope, actor: AuditActor, subscriptionId: string, since: Date): Promise<number> {
    const subscription = await this.subscriptions.get(scope, subscriptionId);
    const pace = subscription.rateLimitPerSecond ?? (subscription.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT) * REPLAY_PACE_PER_SLOT;
    return this.transaction(async (manager) => {
      const result = (await manager.query(
        `WITH chosen AS (
           SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM deliveries
           WHERE subscription_id = $1 AND status = 'FAILED' AND created_at >= $2
         )
         UPDATE deliveries d
         SET status = 'PENDING', next_attempt_at = now() + make_interval(secs => chosen.n / $3::float8),
             schedule_offset = d.attempt_count, slot_reserved = false, updated_at = now()
         FROM chosen WHERE d.id = chosen.id AND d.status = 'FAILED'`,
        [subscription.id, since, pace],
      )) as [unknown[], number];
      if (result[1] > 0) this.queued(manager, subscription.id);
      const changes = { since: since.toISOString(), deliveries: result[1] };
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.deliveriesReplayed,
        targetType: 'subscription',
        targetId: subscription.id,
        changes,
      });
      return result[1];
    });
  }

  /**
   * Lets the deliveries of a key that wait behind a FAILED one go on
   * without it: the failed one no longer blocks (a later redelivery of it is
   * sent when due, out of order), and the next one is claimable. Answers how
   * many deliveries of the key were waiting.
   */
  async unblockOrderingKey(scope: Scope, actor: AuditActor, subscriptionId: string, orderingKey: string): Promise<number> {
    const subscription = await this.subscriptions.get(scope, subscriptionId);
    return this.transaction(async (manager) => {
      await lockNextInLine(manager, [{ subscriptionId: subscription.id, orderingKey }]);
      const [row] = (await manager.query(
        `WITH released AS (
           UPDATE deliveries SET order_released = true, updated_at = now()
           WHERE subscription_id = $1 AND ordering_key = $2 AND status = 'FAILED' AND NOT order_released
           RETURNING sequence
         ), next_in_line AS (
           UPDATE deliveries w SET order_wait = false, updated_at = now() FROM released r
           WHERE w.subscription_id = $1 AND w.ordering_key = $2 AND w.order_wait AND w.sequence = r.sequence + 1
           RETURNING w.id
         )
         SELECT (SELECT count(*) FROM next_in_line)::int AS started,
                (SELECT count(*) FROM deliveries WHERE subscription_id = $1 AND ordering_key = $2 AND status IN ('PENDING', 'RETRYING'))::int AS waiting`,
        [subscription.id, orderingKey],
      )) as Array<{ started: number; waiting: number }>;
      if (row!.started > 0) this.queued(manager, subscription.id);
      const changes = { orderingKey, released: row!.started > 0, waiting: row!.waiting };
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.orderingKeyUnblocked,
        targetType: 'subscription',
        targetId: subscription.id,
        changes,
      });
      return row!.waiting;
    });
  }

  /** The keys of a PER_KEY subscription held back by a FAILED delivery, the longest blocked first. */
  async blockedOrderingKeys(scope: Scope, subscriptionId: string, first: number): Promise<BlockedOrderingKey[]> {
    const rows = (await this.db.query(
      `SELECT DISTINCT ON (f.ordering_key) f.ordering_key, f.id, f.updated_at AS since,
              (SELECT count(*) FROM deliveries w WHERE w.subscription_id = f.subscription_id AND w.ordering_key = f.ordering_key
                 AND w.status IN ('PENDING', 'RETRYING') AND w.sequence > f.sequence)::int AS waiting
       FROM deliveries f JOIN webhook_subscriptions s ON s.id = f.subscription_id
       WHERE f.subscription_id = $1 AND s.account_id = $2 AND s.environment = $3 AND s.ordering = 'PER_KEY'
         AND f.ordering_key IS NOT NULL AND f.status = 'FAILED' AND NOT f.order_released
       ORDER BY f.ordering_key, f.sequence`,
      [subscriptionId, scope.accountId, scope.environment],
    )) as Array<{ ordering_key: string; id: string; since: Date; waiting: number }>;
    return rows
      .sort((x, y) => x.since.getTime() - y.since.getTime())
      .slice(0, first)
      .map((r) => ({ orderingKey: r.ordering_key, failedDeliveryId: r.id, since: r.since, waiting: r.waiting }));
  }

  // ---------------------------------------------------------------- reads

  async get(scope: Scope, id: string): Promise<DeliveryEntity> {
    const delivery = isUuid(id)
      ? await this.db.getRepository(DeliveryEntity).findOneBy({ id, accountId: scope.accountId, environment: scope.environment })
      : null;
    if (!delivery) throw new NotFoundError('Delivery', id);
    return delivery;
  }

  /** Newest first, keyset-paginated on the time-ordered id. */
  async list(scope: Scope, filter: DeliveryFilter, first: number, after?: string | null): Promise<Page<DeliveryEntity>> {
    const query = this.db
      .getRepository(DeliveryEntity)
      .createQueryBuilder('d')
      .where('d.account_id = :accountId AND d.environment = :environment', scope);
    if (filter.subscriptionId) {
      if (!isUuid(filter.subscriptionId)) return { nodes: [], totalCount: async () => 0, hasNextPage: false, endCursor: null };
      query.andWhere('d.subscription_id = :subscriptionId', { subscriptionId: filter.subscriptionId });
    }
    if (filter.status) query.andWhere('d.status = :status', { status: filter.status });
    if (filter.since) query.andWhere('d.created_at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('d.created_at < :until', { until: filter.until });
    if (filter.eventType) {
      query.andWhere('EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.type = :eventType)', { eventType: filter.eventType });
    }
    return keysetPage(query, 'd', first, after);
  }

  /** The attempts of many deliveries of the scope in one statement, in delivery and attempt order. */
  async attemptsOf(scope: Scope, deliveryIds: readonly string[]): Promise<DeliveryAttemptEntity[]> {
    if (deliveryIds.length === 0) return [];
    return this.db
      .getRepository(DeliveryAttemptEntity)
      .createQueryBuilder('a')
      .innerJoin(DeliveryEntity, 'd', 'd.id = a.delivery_id')
      .where('a.delivery_id = ANY(:deliveryIds)', { deliveryIds: [...deliveryIds] })
      .andWhere('d.account_id = :accountId AND d.environment = :environment', scope)
      .orderBy('a.delivery_id', 'ASC')
      .addOrderBy('a.number', 'ASC')
      .getMany();
  }

  /** The deliveries of many events of the scope in one statement, oldest first. */
  async listForEvents(scope: Scope, eventIds: readonly string[]): Promise<DeliveryEntity[]> {
    if (eventIds.length === 0) return [];
    return this.db.getRepository(DeliveryEntity).find({
      where: { eventId: In([...eventIds]), accountId: scope.accountId, environment: scope.environment },
      order: { id: 'ASC' },
    });
  }

  /** Counts over the subscription's deliveries, latency over its attempts, both since `since` when given. */
  async stats(scope: Scope, subscriptionId: string, since?: Date | null): Promise<DeliveryStats> {
    const inScope = `EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = $1 AND s.account_id = $3 AND s.environment = $4)`;
    const params = [subscriptionId, since ?? null, scope.accountId, scope.environment];
    const [counts] = (await this.db.query(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded,
              count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
              count(*) FILTER (WHERE status IN ('PENDING', 'RETRYING'))::int AS pending
       FROM deliveries WHERE subscription_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2) AND ${inScope}`,
      params,
    )) as Array<{ total: number; succeeded: number; failed: number; pending: number }>;
    const [latency] = (await this.db.query(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
              max(started_at) FILTER (WHERE succeeded) AS last_success,
              max(started_at) FILTER (WHERE NOT succeeded) AS last_failure
       FROM delivery_attempts WHERE subscription_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) AND ${inScope}`,
      params,
    )) as Array<{ p50: number | null; p95: number | null; last_success: Date | null; last_failure: Date | null }>;
    const c = counts!;
    const l = latency!;
    const settled = c.succeeded + c.failed;
    return {
      ...c,
      successRate: settled ? c.succeeded / settled : null,
      latencyP50Ms: l.p50 === null ? null : Math.round(l.p50),
      latencyP95Ms: l.p95 === null ? null : Math.round(l.p95),
      lastSuccessAt: l.last_success,
      lastFailureAt: l.last_failure,
    };
  }
}
