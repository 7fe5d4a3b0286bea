import type { PgBoss } from 'pg-boss';
import { In, type DataSource, type EntityManager } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { channelOf, subscriptionMatches } from '../catalog/rules.js';
import { DeliveryAttemptEntity, DeliveryEntity, EventEntity, SubscriptionEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { DeliveryStatus, type Scope } from '../domain.js';
import { NotFoundError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { keysetPage, type Page } from '../pagination.js';
import { bossDb } from '../queue/boss.js';
import { QUEUES, type DeliverJob } from '../queue/jobs.js';
import type { SubscriptionService } from '../subscriptions/service.js';

export const TEST_EVENT_TYPE = 'webhook.test';

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

/** Everything one attempt needs, read in one query. */
export interface AttemptContext {
  delivery: DeliveryEntity;
  event: EventEntity;
  subscription: SubscriptionEntity;
}

/** What an attempt did, to be recorded. */
export interface AttemptRecord {
  startedAt: Date;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  succeeded: boolean;
}

/** One attempt to record: by which job, what happened, and what follows. */
export interface AttemptEntry {
  context: AttemptContext;
  jobId: string;
  attempt: AttemptRecord;
  outcome: AttemptOutcome;
}

/** What follows the attempt, decided by the delivery worker from the retry policy. */
export type AttemptOutcome =
  | { kind: 'succeeded' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'failed'; disableReason?: string }

/** Events of one account, environment and type have the same candidate subscriptions. */
function fanOutKind(event: EventEntity): string {
  return `${event.accountId}/${event.environment}/${event.type}`;
}

const ACTIVE_STATUSES = [DeliveryStatus.PENDING, DeliveryStatus.RETRYING];

function compare<T extends string | Date>(x: T, y: T): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * What a batch of attempts does to its subscriptions' failure streaks. A
 * streak starts at the first failed attempt and ends with a success;
 * attempts are folded in the order they started. `reset`: the batch holds a
 * success, so the stored start is replaced by `since` (the first failure
 * after the last success, or none); otherwise a stored start is kept. A
 * subscription that is not failing and only succeeded is not written.
 */
function failureStreakWrites(entries: readonly AttemptEntry[]): Array<{ subscriptionId: string; reset: boolean; since: Date | null }> {
  const streaks = new Map<string, { reset: boolean; since: Date | null; write: boolean }>();
  for (const { context, attempt } of [...entries].sort((x, y) => compare(x.attempt.startedAt, y.attempt.startedAt))) {
    const id = context.subscription.id;
    const streak = streaks.get(id) ?? { reset: false, since: null, write: false };
    if (attempt.succeeded) {
      Object.assign(streak, { reset: true, since: null, write: streak.write || context.subscription.failingSince !== null });
    } else {
      Object.assign(streak, { since: streak.since ?? attempt.startedAt, write: true });
    }
    streaks.set(id, streak);
  }
  return [...streaks]
    .filter(([, s]) => s.write)
    .sort(([x], [y]) => compare(x, y))
    .map(([subscriptionId, { reset, since }]) => ({ subscriptionId, reset, since }));
}

/** Deliveries with their events and subscriptions, in one plain statement (the worker's read per batch). */
class AttemptContextReader {
  private readonly delivery: EntityColumns<DeliveryEntity>;
  private readonly event: EntityColumns<EventEntity>;
  private readonly subscription: EntityColumns<SubscriptionEntity>;
  private readonly sql: string;

  constructor(private readonly db: DataSource) {
    this.delivery = entityColumns(db, DeliveryEntity, 'd');
    this.event = entityColumns(db, EventEntity, 'e');
    this.subscription = entityColumns(db, SubscriptionEntity, 's');
    this.sql = `SELECT ${this.delivery.select}, ${this.event.select}, ${this.subscription.select}
      FROM deliveries d
      JOIN events e ON e.id = d.event_id
      JOIN webhook_subscriptions s ON s.id = d.subscription_id
      WHERE d.id = ANY($1::uuid[])`;
  }

  async read(deliveryIds: string[]): Promise<AttemptContext[]> {
    const rows = (await this.db.query(this.sql, [deliveryIds])) as Array<Record<string, unknown>>;
    return rows.map((row) => ({ delivery: this.delivery.read(row), event: this.event.read(row), subscription: this.subscription.read(row) }));
  }
}

export class DeliveryService {
  private readonly attemptContexts: AttemptContextReader;
  private readonly subscriptionColumns: EntityColumns<SubscriptionEntity>;
  /** The transactions (by their manager) that queued a job due at once. */
  private readonly dueJobsQueued = new WeakSet<EntityManager>();

  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly catalog: CatalogService,
    private readonly subscriptions: SubscriptionService,
    private readonly wakeWorkers: () => void,
  ) {
    this.attemptContexts = new AttemptContextReader(db);
    this.subscriptionColumns = entityColumns(db, SubscriptionEntity, 's');
  }

  // ---------------------------------------------------------------- fan-out

  /**
   * Creates one delivery and one delivery job per event and subscription
   * that the channel rules choose, in the caller's transaction: publishing
   * does this in the transaction that stores the events, so an accepted
   * event already has its deliveries and their jobs. Running it twice for an
   * event adds nothing (one delivery per event and subscription). A batch
   * of events costs one read of candidate subscriptions and one insert.
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
   * The work of a `fanout` job. Events are fanned out as they are published;
   * this serves the jobs that an earlier version queued instead, so that
   * none is lost across an upgrade.
   */
  async fanOut(eventId: string): Promise<number> {
    return this.transaction(async (manager) => {
      const event = await manager.findOneBy(EventEntity, { id: eventId });
      return event ? this.fanOutInTransaction(manager, [event]) : 0;
    });
  }

  /**
   * A transaction in which deliveries may be queued. Once it has committed,
   * the delivery workers are woken if it queued a job that is due now (the
   * queue does not notify by itself: see src/queue/wakeup.ts). Every writer
   * of delivery jobs goes through here, publishing included.
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let wake = false;
    const result = await this.db.transaction(async (manager) => {
      const value = await work(manager);
      wake = this.dueJobsQueued.has(manager);
      return value;
    });
    if (wake) this.wakeWorkers();
    return result;
  }

  private async insertDeliveries(manager: EntityManager, pairs: ReadonlyArray<{ event: EventEntity; subscriptionId: string }>): Promise<string[]> {
    if (pairs.length === 0) return [];
    const ids = pairs.map(() => newId());
    const jobIds = pairs.map(() => newId());
    const inserted: Array<{ id: string; current_job_id: string }> = await manager.query(
      `INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, current_job_id, next_attempt_at)
       SELECT d.id, d.account_id, d.environment, d.event_id, d.subscription_id, d.job_id, now()
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[])
         AS d(id, account_id, environment, event_id, subscription_id, job_id)
       ON CONFLICT (event_id, subscription_id) DO NOTHING
       RETURNING id, current_job_id`,
      [
        ids,
        pairs.map((p) => p.event.accountId),
        pairs.map((p) => p.event.environment),
        pairs.map((p) => p.event.id),
        pairs.map((p) => p.subscriptionId),
        jobIds,
      ],
    );
    await this.queueJobs(manager, inserted.map((r) => ({ deliveryId: r.id, jobId: r.current_job_id })));
    return inserted.map((r) => r.id);
  }

  private async queueJobs(
    manager: EntityManager,
    jobs: Array<{ deliveryId: string; jobId: string; startAfter?: Date; reservedSlot?: Date }>,
  ): Promise<void> {
    if (jobs.length === 0) return;
    if (jobs.some((j) => !j.startAfter)) this.dueJobsQueued.add(manager);
    await this.boss.insert(
      QUEUES.deliver,
      jobs.map((j) => {
        const data: DeliverJob = { deliveryId: j.deliveryId };
        if (j.reservedSlot) data.reservedSlot = j.reservedSlot.toISOString();
        return { id: j.jobId, data, startAfter: j.startAfter };
      }),
      { db: bossDb(manager.queryRunner!) },
    );
  }

  /**
   * Reserves the next send slot of a rate-limited subscription, shared by
   * every worker through the subscription row: slots are 1/rate seconds
   * apart, so at most `rate` sends start in a second.
   */
  async reserveSendSlot(subscriptionId: string, ratePerSecond: number): Promise<Date> {
    const [row] = (await this.db.query(
      `UPDATE webhook_subscriptions
       SET rate_next_slot_at = GREATEST(rate_next_slot_at, clock_timestamp()) + make_interval(secs => 1.0 / $2)
       WHERE id = $1
       RETURNING rate_next_slot_at - make_interval(secs => 1.0 / $2) AS slot`,
      [subscriptionId, ratePerSecond],
    )) as [Array<{ slot: Date }>, number];
    return row[0]!.slot;
  }

  /** Moves the delivery's turn to its reserved slot under a new job, without counting an attempt. */
  async postpone(deliveryId: string, jobId: string, slot: Date): Promise<void> {
    await this.transaction(async (manager) => {
      const nextJobId = newId();
      const result = await manager
        .getRepository(DeliveryEntity)
        .update({ id: deliveryId, currentJobId: jobId }, { currentJobId: nextJobId, nextAttemptAt: slot });
      if (!result.affected) return;
      await this.queueJobs(manager, [{ deliveryId, jobId: nextJobId, startAfter: slot, reservedSlot: slot }]);
    });
  }

  // ---------------------------------------------------------------- attempts

  /**
   * For each job of a batch, the delivery with its event and subscription
   * when the job is still the one that is to attempt it, in one joined read.
   * A job left over from an earlier schedule, or whose delivery is already
   * settled, has no entry.
   */
  async loadForAttempts(jobs: ReadonlyArray<{ deliveryId: string; jobId: string }>): Promise<Map<string, AttemptContext>> {
    const contexts = new Map<string, AttemptContext>();
    if (jobs.length === 0) return contexts;
    const rows = await this.attemptContexts.read([...new Set(jobs.map((j) => j.deliveryId))]);
    const byId = new Map(rows.map((c) => [c.delivery.id, c]));
    for (const { deliveryId, jobId } of jobs) {
      const context = byId.get(deliveryId);
      if (!context || context.delivery.currentJobId !== jobId || !ACTIVE_STATUSES.includes(context.delivery.status)) continue;
      contexts.set(jobId, context);
    }
    return contexts;
  }

  /**
   * Whether the subscription should still receive the delivery now. A test
   * event goes to its one subscription whatever its channels.
   */
  async stillMatches(context: AttemptContext): Promise<boolean> {
    const { subscription, event } = context;
    if (subscription.deletedAt) return false;
    if (event.type === TEST_EVENT_TYPE) return true;
    const exclusive = await this.catalog.exclusiveChannels({ accountId: event.accountId, environment: event.environment });
    return subscriptionMatches(subscription, event, exclusive);
  }

  async cancel(deliveryId: string, jobId: string): Promise<void> {
    await this.db.getRepository(DeliveryEntity).update(
      { id: deliveryId, currentJobId: jobId },
      { status: DeliveryStatus.CANCELLED, currentJobId: null, nextAttemptAt: null },
    );
  }

  /**
   * Records attempts and what follows from each in one transaction: the
   * deliveries' new state, the jobs of their next attempts, and the
   * subscriptions' failure streaks or disabling. Only the job that was to
   * make an attempt moves the schedule on; an attempt by any other job is
   * still recorded. The delivery worker gathers the attempts that end while
   * a commit is under way and records them together (a group commit), so
   * the cost of a commit is shared by many attempts.
   */
  async recordAttempts(entries: readonly AttemptEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Rows are locked in id order, deliveries before subscriptions, so that
    // two workers' batches cannot deadlock on each other.
    const ordered = [...entries].sort((x, y) => compare(x.context.delivery.id, y.context.delivery.id) || compare(x.attempt.startedAt, y.attempt.startedAt));
    await this.transaction(async (manager) => {
      const locked = (await manager.query(
        `SELECT id, status, attempt_count, current_job_id, next_attempt_at FROM deliveries
         WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
        [[...new Set(ordered.map((e) => e.context.delivery.id))]],
      )) as Array<{
        id: string;
        status: DeliveryStatus;
        attempt_count: number;
        current_job_id: string | null;
        next_attempt_at: Date | null;
        /** Set here for the deliveries that this batch attempted. */
        last_attempt_at?: Date;
      }>;
      const rows = new Map(locked.map((r) => [r.id, r]));
      const attempts: Array<AttemptRecord & { id: string; deliveryId: string; subscriptionId: string; number: number }> = [];
      const nextJobs: Array<{ deliveryId: string; jobId: string; startAfter: Date }> = [];
      for (const { context, jobId, attempt, outcome } of ordered) {
        const row = rows.get(context.delivery.id);
        if (!row) continue; // deleted with its subscription meanwhile
        row.attempt_count += 1;
        attempts.push({ id: newId(), deliveryId: row.id, subscriptionId: context.subscription.id, number: row.attempt_count, ...attempt });
        if (row.current_job_id !== jobId) {
          // A stale job's attempt: recorded, and a success settles the delivery, but the schedule stays.
          if (outcome.kind === 'succeeded') Object.assign(row, { status: DeliveryStatus.SUCCEEDED });
        } else if (outcome.kind === 'retry') {
          const next = { deliveryId: row.id, jobId: newId(), startAfter: new Date(attempt.startedAt.getTime() + attempt.durationMs + outcome.delayMs) };
          nextJobs.push(next);
          Object.assign(row, { status: DeliveryStatus.RETRYING, next_attempt_at: next.startAfter, current_job_id: next.jobId });
        } else {
          const status = outcome.kind === 'succeeded' ? DeliveryStatus.SUCCEEDED : DeliveryStatus.FAILED;
          Object.assign(row, { status, next_attempt_at: null, current_job_id: null });
        }
        row.last_attempt_at = attempt.startedAt;
      }
      if (attempts.length === 0) return;

      const changed = locked.filter((r) => r.last_attempt_at);
      const streaks = failureStreakWrites(ordered);
      // The attempts, the deliveries' new state and the failure streaks in one statement: one round trip.
      await manager.query(
        `WITH attempts AS (
           INSERT INTO delivery_attempts (id, delivery_id, subscription_id, number, started_at, duration_ms, response_status, response_body, error, succeeded)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::timestamptz[], $6::int[], $7::int[], $8::text[], $9::text[], $10::boolean[])
         ), settled AS (
           UPDATE deliveries d
           SET status = u.status, attempt_count = u.attempt_count, current_job_id = u.current_job_id,
               next_attempt_at = u.next_attempt_at, last_attempt_at = u.last_attempt_at, updated_at = now()
           FROM unnest($11::uuid[], $12::text[], $13::int[], $14::uuid[], $15::timestamptz[], $16::timestamptz[])
             AS u(id, status, attempt_count, current_job_id, next_attempt_at, last_attempt_at)
           WHERE d.id = u.id
         ), streaks AS (
           UPDATE webhook_subscriptions s
           SET failing_since = CASE WHEN u.reset THEN u.since ELSE COALESCE(s.failing_since, u.since) END
           FROM unnest($17::uuid[], $18::boolean[], $19::timestamptz[]) AS u(id, reset, since)
           WHERE s.id = u.id
         )
         SELECT 1`,
        [
          attempts.map((a) => a.id),
          attempts.map((a) => a.deliveryId),
          attempts.map((a) => a.subscriptionId),
          attempts.map((a) => a.number),
          attempts.map((a) => a.startedAt),
          attempts.map((a) => a.durationMs),
          attempts.map((a) => a.responseStatus),
          attempts.map((a) => a.responseBody),
          attempts.map((a) => a.error),
          attempts.map((a) => a.succeeded),
          changed.map((r) => r.id),
          changed.map((r) => r.status),
          changed.map((r) => r.attempt_count),
          changed.map((r) => r.current_job_id),
          changed.map((r) => r.next_attempt_at),
          changed.map((r) => r.last_attempt_at),
          streaks.map((w) => w.subscriptionId),
          streaks.map((w) => w.reset),
          streaks.map((w) => w.since),
        ],
      );
      await this.queueJobs(manager, nextJobs);
      for (const { context, outcome } of ordered) {
        if (outcome.kind === 'failed' && outcome.disableReason) {
          await this.subscriptions.disable(context.subscription.id, outcome.disableReason, manager);
        }
      }
    });
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
   * de-duplicate on). Its attempt numbers continue; the retry schedule starts
   * over. A job still scheduled for it becomes stale and does nothing.
   */
  async redeliver(scope: Scope, deliveryId: string): Promise<DeliveryEntity> {
    const delivery = await this.get(scope, deliveryId);
    await this.transaction(async (manager) => {
      await this.requeue(manager, 'd.id = $1', [delivery.id]);
    });
    return this.get(scope, deliveryId);
  }

  /** Requeues every FAILED delivery of the subscription created since then. */
  async replayFailed(scope: Scope, subscriptionId: string, since: Date): Promise<number> {
    const subscription = await this.subscriptions.get(scope, subscriptionId);
    return this.transaction(async (manager) =>
      this.requeue(manager, 'd.subscription_id = $1 AND d.status = $2 AND d.created_at >= $3', [
        subscription.id,
        DeliveryStatus.FAILED,
        since,
      ]),
    );
  }

  /** Queues the deliveries that `where` selects again, each under a new job id. */
  private async requeue(manager: EntityManager, where: string, params: unknown[]): Promise<number> {
    // The structured result: for an UPDATE, TypeORM's plain result is [rows, count].
    const result = (await manager.queryRunner!.query(
      `UPDATE deliveries d
       SET status = 'PENDING', next_attempt_at = now(), current_job_id = gen_random_uuid(),
           schedule_offset = d.attempt_count, updated_at = now()
       WHERE ${where}
       RETURNING d.id, d.current_job_id`,
      params,
      true,
    )) as { records: Array<{ id: string; current_job_id: string }> };
    const rows = result.records;
    await this.queueJobs(manager, rows.map((r) => ({ deliveryId: r.id, jobId: r.current_job_id })));
    return rows.length;
  }

  // ---------------------------------------------------------------- reads

  async get(scope: Scope, id: string): Promise<DeliveryEntity> {
    const delivery = isUuid(id)
      ? await this.db.getRepository(DeliveryEntity).findOneBy({ id, accountId: scope.accountId, environment: scope.environment })
      : null;
    if (!delivery) throw new NotFoundError('Delivery', id);
    return delivery;
  }

  async listForEvent(scope: Scope, eventId: string): Promise<DeliveryEntity[]> {
    return this.db.getRepository(DeliveryEntity).find({
      where: { eventId, accountId: scope.accountId, environment: scope.environment },
      order: { id: 'ASC' },
    });
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

  async attempts(scope: Scope, deliveryId: string): Promise<DeliveryAttemptEntity[]> {
    return this.db
      .getRepository(DeliveryAttemptEntity)
      .createQueryBuilder('a')
      .innerJoin(DeliveryEntity, 'd', 'd.id = a.delivery_id')
      .where('a.delivery_id = :deliveryId', { deliveryId })
      .andWhere('d.account_id = :accountId AND d.environment = :environment', scope)
      .orderBy('a.number', 'ASC')
      .getMany();
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
