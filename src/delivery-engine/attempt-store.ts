import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { subscriptionMatches } from '../catalog/rules.js';
import { DeliveryEntity, EventEntity, SubscriptionEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { newId } from '../ids.js';
import type { SubscriptionService } from '../subscriptions/service.js';
import { EndpointHealthState, healthAfterAttempts, healthChanged, type EndpointHealth } from './endpoint-health.js';
import { deliveryAfterAttempt, type AttemptOutcome } from './outcome.js';

export const TEST_EVENT_TYPE = 'webhook.test';

/** A claimed delivery with everything its attempt needs; `delivery.leaseToken` is the claim's fence. */
export interface AttemptContext {
  delivery: DeliveryEntity;
  event: EventEntity;
  subscription: SubscriptionEntity;
}

/** What an attempt did. */
export interface AttemptRecord {
  startedAt: Date;
  durationMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  succeeded: boolean;
}

/** One attempt to record, and what follows from it. */
export interface AttemptEntry {
  context: AttemptContext;
  attempt: AttemptRecord;
  outcome: AttemptOutcome;
  /** The attempt could not be prepared and nothing was sent: it says nothing about the endpoint's health. */
  unsent?: boolean;
}

export interface ClaimLimits {
  /** The worker process claiming: its leases count against its own per-endpoint share. */
  owner: string;
  /** Deliveries to claim at most. */
  limit: number;
  leaseSeconds: number;
  /** Fleet-wide cap per endpoint when the subscription sets none. */
  defaultMaxInFlight: number;
  /** Cap per endpoint within this worker, so that no endpoint takes all of its slots. */
  maxInFlightPerWorker: number;
  /** The subscription id after which the round robin over endpoints starts. */
  cursor: string;
}

/** A cursor before every subscription id. */
export const FIRST_ENDPOINT = '00000000-0000-0000-0000-000000000000';

const ACTIVE = `status IN ('PENDING', 'RETRYING')`;

/**
 * A group of attempts: the attempts, the deliveries' new state with their
 * leases given back (only under the current lease; a success settles in any
 * case), and the endpoints whose health changed.
 */
const RECORD_SQL = `WITH u AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[],
                              $7::timestamptz[], $8::int[], $9::int[], $10::text[], $11::text[], $12::boolean[])
           AS u(id, token, attempt_id, subscription_id, status, next_attempt_at, started_at, duration_ms, response_status, response_body, error, succeeded)
       ), settled AS (
         UPDATE deliveries d
         SET attempt_count = d.attempt_count + 1,
             status = CASE WHEN d.lease_token = u.token THEN u.status WHEN u.succeeded THEN 'SUCCEEDED' ELSE d.status END,
             next_attempt_at = CASE WHEN d.lease_token = u.token THEN u.next_attempt_at WHEN u.succeeded THEN NULL ELSE d.next_attempt_at END,
             lease_owner = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_owner END,
             lease_expires_at = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_expires_at END,
             lease_token = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_token END,
             slot_reserved = false, last_attempt_at = u.started_at, updated_at = now()
         FROM u WHERE d.id = u.id
         RETURNING d.id, d.attempt_count
       ), attempts AS (
         INSERT INTO delivery_attempts (id, delivery_id, subscription_id, number, started_at, duration_ms, response_status, response_body, error, succeeded)
         SELECT u.attempt_id, u.id, u.subscription_id, settled.attempt_count, u.started_at, u.duration_ms, u.response_status, u.response_body, u.error, u.succeeded
         FROM u JOIN settled ON settled.id = u.id
       ), health AS (
         UPDATE webhook_subscriptions s
         SET health_state = h.state, health_since = h.since, consecutive_failures = h.failures, next_probe_at = h.next_probe_at, failing_since = h.failing_since
         FROM unnest($13::uuid[], $14::text[], $15::timestamptz[], $16::int[], $17::timestamptz[], $18::timestamptz[])
           AS h(id, state, since, failures, next_probe_at, failing_since)
         WHERE s.id = h.id
       )
       SELECT count(*)::int AS settled FROM settled`;

function compare<T extends string | number>(x: T, y: T): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function healthOf(s: {
  health_state: EndpointHealthState;
  health_since: Date | null;
  consecutive_failures: number;
  next_probe_at: Date | null;
  failing_since: Date | null;
}): EndpointHealth {
  return {
    state: s.health_state,
    since: s.health_since,
    consecutiveFailures: s.consecutive_failures,
    nextProbeAt: s.next_probe_at,
    failingSince: s.failing_since,
  };
}

/**
 * The delivery worker's side of the database: claiming due deliveries under
 * a lease, and recording attempts with what follows from them. The
 * deliveries table is the dispatch queue; every statement here works on
 * whole batches.
 */
export class AttemptStore {
  private readonly delivery: EntityColumns<DeliveryEntity>;
  private readonly event: EntityColumns<EventEntity>;
  private readonly subscription: EntityColumns<SubscriptionEntity>;
  private readonly claimSql: string;

  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly subscriptions: SubscriptionService,
  ) {
    this.delivery = entityColumns(db, DeliveryEntity, 'd');
    this.event = entityColumns(db, EventEntity, 'e');
    this.subscription = entityColumns(db, SubscriptionEntity, 's');
    // 1. The endpoints with active deliveries, by a skip scan of the due index (one probe per endpoint,
    //    however long its backlog), round robin: from the one after the cursor (the last endpoint this
    //    worker served) on, then from the first, and only as far as the claim needs. 2. Those that may be sent to now: not held, or held with a probe due;
    //    their rows are locked so that two workers claiming at once do not both fill the same endpoint's
    //    cap (each skips the endpoints the other is claiming for). 3. Leases in flight per endpoint, in the
    //    fleet and in this worker. 4. Per endpoint, its oldest due deliveries up to what its caps leave.
    this.claimSql = `
      WITH RECURSIVE after_cursor(id) AS (
        (SELECT subscription_id FROM deliveries WHERE ${ACTIVE} AND subscription_id > $6 ORDER BY subscription_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.subscription_id FROM deliveries d WHERE d.${ACTIVE} AND d.subscription_id > p.id ORDER BY d.subscription_id LIMIT 1)
        FROM after_cursor p WHERE p.id IS NOT NULL
      ), up_to_cursor(id) AS (
        (SELECT subscription_id FROM deliveries WHERE ${ACTIVE} AND subscription_id <= $6 ORDER BY subscription_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.subscription_id FROM deliveries d WHERE d.${ACTIVE} AND d.subscription_id > p.id AND d.subscription_id <= $6 ORDER BY d.subscription_id LIMIT 1)
        FROM up_to_cursor p WHERE p.id IS NOT NULL
      ), pending(id) AS (
        SELECT id FROM after_cursor WHERE id IS NOT NULL UNION ALL SELECT id FROM up_to_cursor WHERE id IS NOT NULL
      ), endpoints AS (
        SELECT s.id, CASE WHEN s.health_state = 'HELD' THEN 1 ELSE COALESCE(s.max_in_flight, $4) END AS cap
        FROM pending p JOIN webhook_subscriptions s ON s.id = p.id
        WHERE s.health_state <> 'HELD' OR s.next_probe_at <= now()
        FOR NO KEY UPDATE OF s SKIP LOCKED
      ), busy AS (
        SELECT d.subscription_id AS id, count(*) AS fleet, count(*) FILTER (WHERE d.lease_owner = $1) AS mine
        FROM deliveries d
        WHERE d.lease_token IS NOT NULL AND d.lease_expires_at > now() AND d.subscription_id IN (SELECT id FROM endpoints)
        GROUP BY d.subscription_id
      ), picked AS (
        SELECT c.id FROM endpoints en LEFT JOIN busy b ON b.id = en.id
        CROSS JOIN LATERAL (
          SELECT d.id FROM deliveries d
          WHERE d.subscription_id = en.id AND d.${ACTIVE} AND d.next_attempt_at <= now()
            AND (d.lease_token IS NULL OR d.lease_expires_at <= now())
          ORDER BY d.next_attempt_at
          LIMIT GREATEST(0, LEAST(en.cap - COALESCE(b.fleet, 0), $5 - COALESCE(b.mine, 0)))
          FOR UPDATE OF d SKIP LOCKED
        ) c
        LIMIT $2
      )
      UPDATE deliveries d
      SET lease_owner = $1, lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => $3)
      FROM picked, events e, webhook_subscriptions s
      WHERE d.id = picked.id AND e.id = d.event_id AND s.id = d.subscription_id
      RETURNING ${this.delivery.select}, ${this.event.select}, ${this.subscription.select}`;
  }

  /** Claims due deliveries within the per-endpoint caps, each under a new lease. */
  async claim(limits: ClaimLimits): Promise<AttemptContext[]> {
    if (limits.limit <= 0) return [];
    const rows = await this.prepared<Record<string, unknown>>('hookline_claim', this.claimSql, [
      limits.owner,
      limits.limit,
      limits.leaseSeconds,
      limits.defaultMaxInFlight,
      limits.maxInFlightPerWorker,
      limits.cursor,
    ]);
    return rows.map((row) => ({ delivery: this.delivery.read(row), event: this.event.read(row), subscription: this.subscription.read(row) }));
  }

  /**
   * A named (prepared) statement on the pool: PostgreSQL parses and plans
   * the claim and the record, the two statements every batch runs, once per
   * connection instead of on every call.
   */
  private async prepared<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const pool = (this.db.driver as unknown as { master: pg.Pool }).master;
    return (await pool.query({ name, text, values })).rows as T[];
  }

  /** Whether the subscription should still receive the delivery. A test event goes to its one subscription whatever its channels. */
  async stillMatches(context: AttemptContext): Promise<boolean> {
    const { subscription, event } = context;
    if (subscription.deletedAt) return false;
    if (event.type === TEST_EVENT_TYPE) return true;
    const exclusive = await this.catalog.exclusiveChannels({ accountId: event.accountId, environment: event.environment });
    return subscriptionMatches(subscription, event, exclusive);
  }

  /** Ends a delivery that is no longer wanted, without an attempt. */
  async cancel(context: AttemptContext): Promise<void> {
    await this.db.query(
      `UPDATE deliveries SET status = 'CANCELLED', next_attempt_at = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND lease_token = $2`,
      [context.delivery.id, context.delivery.leaseToken],
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

  /** Gives the lease back and makes the delivery due at its reserved slot, without counting an attempt. */
  async postpone(context: AttemptContext, slot: Date): Promise<void> {
    await this.db.query(
      `UPDATE deliveries SET next_attempt_at = $3, slot_reserved = true, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND lease_token = $2`,
      [context.delivery.id, context.delivery.leaseToken, slot],
    );
  }

  /**
   * Records attempts and what follows from each: the attempts, the
   * deliveries' new state with their leases given back, and the endpoints'
   * health, in one statement (one round trip, one commit) when no endpoint's
   * health can change; otherwise in one transaction that first locks the
   * endpoints whose health it updates. Only the holder of a delivery's
   * current lease moves its schedule on; an attempt made under a lease that
   * has since been taken over is still recorded, and a success still
   * settles the delivery.
   */
  async record(entries: readonly AttemptEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Rows are locked in id order, endpoints before deliveries, so that two workers' groups cannot deadlock.
    const ordered = [...entries].sort((x, y) => compare(x.context.delivery.id, y.context.delivery.id));
    const touchesHealth = ordered.filter(
      (e) =>
        !e.unsent &&
        (!e.attempt.succeeded ||
          e.context.subscription.healthState !== EndpointHealthState.HEALTHY ||
          e.context.subscription.consecutiveFailures > 0),
    );
    const disables = ordered.filter((e) => e.outcome.kind === 'failed' && e.outcome.disableReason);
    if (touchesHealth.length === 0 && disables.length === 0) {
      await this.write(undefined, ordered, []);
      return;
    }
    await this.db.transaction(async (manager) => {
      const ids = [...new Set(touchesHealth.map((e) => e.context.subscription.id))].sort();
      const locked = (await manager.query(
        `SELECT id, health_state, health_since, consecutive_failures, next_probe_at, failing_since FROM webhook_subscriptions
         WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
        [ids],
      )) as Array<{ id: string } & Parameters<typeof healthOf>[0]>;
      const health: Array<{ id: string; health: EndpointHealth }> = [];
      for (const row of locked) {
        const current = healthOf(row);
        const attempts = ordered
          .filter((e) => !e.unsent && e.context.subscription.id === row.id)
          .map((e) => ({
            startedAt: e.attempt.startedAt,
            endedAt: new Date(e.attempt.startedAt.getTime() + e.attempt.durationMs),
            succeeded: e.attempt.succeeded,
          }));
        const next = healthAfterAttempts(current, attempts);
        if (healthChanged(current, next)) health.push({ id: row.id, health: next });
      }
      await this.write(manager, ordered, health);
      for (const { context, outcome } of disables) {
        if (outcome.kind === 'failed' && outcome.disableReason)
          await this.subscriptions.disable(context.subscription.id, outcome.disableReason, manager);
      }
    });
  }

  /** Outside a transaction (manager undefined) as a prepared statement of its own. */
  private async write(
    manager: EntityManager | undefined,
    entries: readonly AttemptEntry[],
    health: ReadonlyArray<{ id: string; health: EndpointHealth }>,
  ): Promise<void> {
    const states = entries.map((e) => deliveryAfterAttempt(e.outcome, new Date(e.attempt.startedAt.getTime() + e.attempt.durationMs)));
    const values = [
      entries.map((e) => e.context.delivery.id),
      entries.map((e) => e.context.delivery.leaseToken),
      entries.map(() => newId()),
      entries.map((e) => e.context.subscription.id),
      states.map((s) => s.status),
      states.map((s) => s.nextAttemptAt),
      entries.map((e) => e.attempt.startedAt),
      entries.map((e) => e.attempt.durationMs),
      entries.map((e) => e.attempt.responseStatus),
      entries.map((e) => e.attempt.responseBody),
      entries.map((e) => e.attempt.error),
      entries.map((e) => e.attempt.succeeded),
      health.map((h) => h.id),
      health.map((h) => h.health.state),
      health.map((h) => h.health.since),
      health.map((h) => h.health.consecutiveFailures),
      health.map((h) => h.health.nextProbeAt),
      health.map((h) => h.health.failingSince),
    ];
    if (manager) await manager.query(RECORD_SQL, values);
    else await this.prepared('hookline_record', RECORD_SQL, values);
  }

  /** Due deliveries (the queue depth) and held endpoints, for the worker's metrics. */
  async backlog(): Promise<{ due: number; held: number }> {
    const [row] = (await this.db.query(
      `SELECT (SELECT count(*) FROM deliveries WHERE ${ACTIVE} AND next_attempt_at <= now())::int AS due,
              (SELECT count(*) FROM webhook_subscriptions WHERE health_state = 'HELD' AND deleted_at IS NULL)::int AS held`,
    )) as Array<{ due: number; held: number }>;
    return row ?? { due: 0, held: 0 };
  }
}
