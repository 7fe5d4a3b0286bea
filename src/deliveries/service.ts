import { In, type DataSource, type EntityManager } from 'typeorm';
import { AUDIT_ACTIONS, type AuditActor } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { channelOf, subscriptionMatches } from '../catalog/rules.js';
import { DeliveryAttemptEntity, DeliveryEntity, EventEntity, SubscriptionEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../delivery-engine/limits.js';
import { TEST_EVENT_TYPE } from '../delivery-engine/attempt-store.js';
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

/** Events of one account, environment and type have the same candidate subscriptions. */
function fanOutKind(event: EventEntity): string {
  return `${event.accountId}/${event.environment}/${event.type}`;
}

/**
 * Deliveries requeued by a replay start this many per second per unit of
 * the endpoint's in-flight cap (a rate limit, when set, is the pace), so
 * that a large replay is spread out rather than sent as one burst.
 */
const REPLAY_PACE_PER_SLOT = 20;

/**
 * Deliveries as the API sees them: fan-out at publish time, the operations
 * that queue deliveries again (test events, redelivery, replay) and the
 * reads. The worker's side (claiming and recording attempts) is
 * src/delivery-engine/attempt-store.ts.
 */
export class DeliveryService {
  private readonly subscriptionColumns: EntityColumns<SubscriptionEntity>;
  /** The transactions (by their manager) that made deliveries due at once. */
  private readonly dueQueued = new WeakSet<EntityManager>();

  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly subscriptions: SubscriptionService,
    private readonly wakeWorkers: () => void,
    private readonly audit: AuditService,
  ) {
    this.subscriptionColumns = entityColumns(db, SubscriptionEntity, 's');
  }

  // ---------------------------------------------------------------- fan-out

  /**
   * Creates one delivery per event and subscription that the channel rules
   * choose, due at once, in the caller's transaction: publishing does this
   * in the transaction that stores the events, so an accepted event already
   * has its deliveries (the deliveries table is the workers' queue). Running
   * it twice for an event adds nothing (one delivery per event and
   * subscription). A batch of events costs one read of candidate
   * subscriptions and one insert.
   */
  async fanOutInTransaction(manager: EntityManager, events: readonly EventEntity[]): Promise<number> {
    if (events.length === 0) return 0;
    // The distinct (account, environment, type) of the batch, each read once.
    const kinds = new Map<string, { accountId: string; environment: string; type: string }>();
    for (const e of events) kinds.set(fanOutKind(e), { accountId: e.accountId, environment: e.environment, type: e.type });
    const list = [...kinds.values()];
    const rows = (await manager.query(
      `SELECT k.ord, ${this.subscriptionColumns.select}
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(account_id, environment, channel, type, ord)
       JOIN webhook_subscriptions s ON s.account_id = k.account_id AND s.environment = k.environment
         AND s.enabled AND s.deleted_at IS NULL
         AND k.channel = ANY(s.channels) AND (cardinality(s.events) = 0 OR k.type = ANY(s.events))`,
      [list.map((k) => k.accountId), list.map((k) => k.environment), list.map((k) => channelOf(k.type)), list.map((k) => k.type)],
    )) as Array<Record<string, unknown>>;
    if (rows.length === 0) return 0;
    const keys = [...kinds.keys()];
    const candidates = new Map<string, SubscriptionEntity[]>();
    for (const row of rows) {
      const key = keys[Number(row.ord) - 1]!;
      candidates.set(key, [...(candidates.get(key) ?? []), this.subscriptionColumns.read(row)]);
    }
    // Only built-in channels are exclusive, so one set serves every event of the batch.
    const exclusive = await this.catalog.exclusiveChannels({ accountId: events[0]!.accountId, environment: events[0]!.environment });
    const pairs: Array<{ event: EventEntity; subscriptionId: string }> = [];
    for (const event of events) {
      for (const s of candidates.get(fanOutKind(event)) ?? []) {
        if (subscriptionMatches(s, event, exclusive)) pairs.push({ event, subscriptionId: s.id });
      }
    }
    return (await this.insertDeliveries(manager, pairs)).length;
  }

  /**
   * A transaction in which deliveries may be queued. Once it has committed,
   * the delivery workers are woken if it made a delivery due now (see
   * src/queue/wakeup.ts). Every writer of due deliveries goes through here,
   * publishing included.
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let wake = false;
    const result = await this.db.transaction(async (manager) => {
      const value = await work(manager);
      wake = this.dueQueued.has(manager);
      return value;
    });
    if (wake) this.wakeWorkers();
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
    if (inserted.length > 0) this.dueQueued.add(manager);
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
   * schedule starts over. An attempt still in flight is recorded but no
   * longer moves the delivery on.
   */
  async redeliver(scope: Scope, actor: AuditActor, deliveryId: string): Promise<DeliveryEntity> {
    const delivery = await this.get(scope, deliveryId);
    await this.transaction(async (manager) => {
      await manager.query(
        `UPDATE deliveries SET status = 'PENDING', next_attempt_at = now(), schedule_offset = attempt_count, slot_reserved = false,
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1`,
        [delivery.id],
      );
      this.dueQueued.add(manager);
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
             schedule_offset = d.attempt_count, slot_reserved = false, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
         FROM chosen WHERE d.id = chosen.id`,
        [subscription.id, since, pace],
      )) as [unknown[], number];
      if (result[1] > 0) this.dueQueued.add(manager);
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
