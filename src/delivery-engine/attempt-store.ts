import type { DataSource, EntityManager } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { subscriptionMatches } from '../catalog/rules.js';
import { DeliveryEntity, EventEntity, SubscriptionEntity } from '../db/entities/index.js';
import type pg from 'pg';
import { poolOf } from '../db/data-source.js';
import { transactionAtOnce, type Statement } from '../db/pipeline.js';
import { arrayLiteral } from '../db/array-literal.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import { newId } from '../ids.js';
import { activeSecretRowsSql, type SigningSecretRow } from '../secrets/service.js';
import type { SubscriptionService } from '../subscriptions/service.js';
import { DeliveryOrdering, SubscriptionKind } from '../domain.js';
import type { HealthTransition, OperationsReporter } from '../operations/reporter.js';
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
  /** The worker process claiming. */
  owner: string;
  /** Deliveries to claim at most. */
  limit: number;
  leaseSeconds: number;
  /** Fleet-wide cap per endpoint when the subscription sets none. */
  defaultMaxInFlight: number;
  /** Cap per endpoint within this worker, so that no endpoint takes all of its slots. */
  maxInFlightPerEndpoint: number;
  /** Cap per account within this worker: the rest is headroom for the other accounts. */
  maxInFlightPerAccount: number;
  /** This worker's deliveries in flight, per subscription and per account. */
  inFlightByEndpoint: ReadonlyMap<string, number>;
  inFlightByAccount: ReadonlyMap<string, number>;
}

/** What a claim answers. */
export interface ClaimResult {
  claimed: AttemptContext[];
  /** Endpoints with due deliveries were left out because this worker's share of their account or of the endpoint was full. */
  heldBack: boolean;
  /** The active signing secrets of the claimed deliveries' subscriptions (and perhaps a few more), still encrypted. */
  secretRows: SigningSecretRow[];
}

/** The transaction-local settings in which a claim's first statement hands its chosen endpoints to the second. */
const CLAIM_SETTING = 'hookline_claim';

/** Active and not waiting behind an earlier delivery of its ordering key: the due index's predicate. */
const CLAIMABLE = `status IN ('PENDING', 'RETRYING') AND NOT order_wait`;

/** Lets the next delivery of each key whose delivery succeeded go; only groups with keyed successes need it. */
const NEXT_IN_LINE = `, next_in_line AS (
         UPDATE deliveries w SET order_wait = false, updated_at = now()
         FROM settled
         WHERE settled.status = 'SUCCEEDED' AND settled.ordering_key IS NOT NULL AND w.order_wait
           AND w.subscription_id = settled.subscription_id AND w.ordering_key = settled.ordering_key AND w.sequence = settled.sequence + 1
       )`;

/**
 * A group of attempts: the attempts, the deliveries' new state with their
 * leases given back (only under the current lease; a success settles in any
 * case; a redelivery asked for meanwhile makes the delivery due again), the
 * next delivery of each key that now may go, and the endpoints' health:
 * those whose health the caller worked out, and those where a success
 * clears failures recorded since the claim. Each array is read through a
 * subquery, so that the planner does not see its length: the plan is then
 * the same for every group, and PostgreSQL keeps the generic one instead of
 * planning a small group again on every call (0.2 ms a group).
 */
const recordSql = (nextInLine: boolean) => `WITH u AS (
         SELECT * FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[]), (SELECT $3::uuid[]), (SELECT $4::uuid[]), (SELECT $5::text[]), (SELECT $6::timestamptz[]),
                              (SELECT $7::timestamptz[]), (SELECT $8::int[]), (SELECT $9::int[]), (SELECT $10::text[]), (SELECT $11::text[]), (SELECT $12::boolean[]))
           AS u(id, token, attempt_id, subscription_id, status, next_attempt_at, started_at, duration_ms, response_status, response_body, error, succeeded)
       ), settled AS (
         UPDATE deliveries d
         SET attempt_count = d.attempt_count + 1,
             status = CASE WHEN d.redeliver_requested THEN 'PENDING' WHEN d.lease_token = u.token THEN u.status WHEN u.succeeded THEN 'SUCCEEDED' ELSE d.status END,
             next_attempt_at = CASE WHEN d.redeliver_requested THEN now() WHEN d.lease_token = u.token THEN u.next_attempt_at WHEN u.succeeded THEN NULL ELSE d.next_attempt_at END,
             schedule_offset = CASE WHEN d.redeliver_requested THEN d.attempt_count + 1 ELSE d.schedule_offset END,
             redeliver_requested = false,
             lease_owner = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_owner END,
             lease_expires_at = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_expires_at END,
             lease_token = CASE WHEN d.lease_token = u.token OR u.succeeded THEN NULL ELSE d.lease_token END,
             slot_reserved = false, last_attempt_at = u.started_at, updated_at = now()
         FROM u WHERE d.id = u.id
         RETURNING d.id, d.attempt_count, d.status, d.subscription_id, d.ordering_key, d.sequence
       ), attempts AS (
         INSERT INTO delivery_attempts (id, delivery_id, subscription_id, number, started_at, duration_ms, response_status, response_body, error, succeeded)
         SELECT u.attempt_id, u.id, u.subscription_id, settled.attempt_count, u.started_at, u.duration_ms, u.response_status, u.response_body, u.error, u.succeeded
         FROM u JOIN settled ON settled.id = u.id
       )${nextInLine ? NEXT_IN_LINE : ''}, health AS (
         UPDATE webhook_subscriptions s
         SET health_state = h.state, health_since = h.since, consecutive_failures = h.failures, next_probe_at = h.next_probe_at, failing_since = h.failing_since
         FROM unnest((SELECT $13::uuid[]), (SELECT $14::text[]), (SELECT $15::timestamptz[]), (SELECT $16::int[]), (SELECT $17::timestamptz[]), (SELECT $18::timestamptz[]))
           AS h(id, state, since, failures, next_probe_at, failing_since)
         WHERE s.id = h.id
       ), recovered AS (
         UPDATE webhook_subscriptions s
         SET health_state = 'HEALTHY', health_since = now(), consecutive_failures = 0, next_probe_at = NULL, failing_since = NULL
         WHERE s.id IN (SELECT subscription_id FROM u WHERE u.succeeded) AND NOT s.id = ANY($13::uuid[])
           AND (s.health_state <> 'HEALTHY' OR s.consecutive_failures > 0)
       )
       SELECT count(*)::int AS settled FROM settled`;
const RECORD_SQL = recordSql(false);
const RECORD_KEYED_SQL = recordSql(true);

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

/** Rows are locked in id order, endpoints before deliveries, so that two workers' groups cannot deadlock. */
function orderedForLocks(entries: readonly AttemptEntry[]): AttemptEntry[] {
  return [...entries].sort((x, y) => compare(x.context.delivery.id, y.context.delivery.id));
}

/** An attempt that tells about its endpoint's health: one that was sent, to a PUSH endpoint. */
function probed(e: AttemptEntry): boolean {
  return !e.unsent && e.context.subscription.kind !== SubscriptionKind.PULL;
}

/** An attempt after which its endpoint's health may change. */
function touchesHealth(e: AttemptEntry): boolean {
  return (
    probed(e) &&
    (!e.attempt.succeeded || e.context.subscription.healthState !== EndpointHealthState.HEALTHY || e.context.subscription.consecutiveFailures > 0)
  );
}

function isDisabling(e: AttemptEntry): boolean {
  return e.outcome.kind === 'failed' && Boolean(e.outcome.disableReason);
}

/** A success of a keyed delivery, which lets the next one of its key go (see lockNextInLine). */
function isKeyedSuccess(e: AttemptEntry): boolean {
  return e.attempt.succeeded && e.context.delivery.orderingKey !== null;
}

/**
 * Locks the delivery-sequence counters of the deliveries' subscriptions and
 * keys before the statement that lets the next delivery of each key go. The
 * fan-out holds the same lock while it numbers and inserts a key's new
 * deliveries, and looks at the previous one only after taking it; so either
 * the fan-out sees this delivery settled and its next one does not wait, or
 * the statement after this lock sees the next one and lets it go. Without
 * the lock, both could miss each other and the key would wait for ever.
 */
export async function lockNextInLine(
  manager: EntityManager,
  deliveries: ReadonlyArray<{ subscriptionId: string; orderingKey: string | null }>,
): Promise<void> {
  const keyed = deliveries.filter((d) => d.orderingKey !== null);
  if (keyed.length === 0) return;
  await manager.query(
    `SELECT 1 FROM delivery_sequences q
     JOIN unnest($1::uuid[], $2::text[]) AS k(subscription_id, ordering_key) ON q.subscription_id = k.subscription_id AND q.ordering_key = k.ordering_key
     ORDER BY q.subscription_id, q.ordering_key
     FOR UPDATE OF q`,
    [keyed.map((d) => d.subscriptionId), keyed.map((d) => d.orderingKey)],
  );
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
  private readonly endpointsSql: string;
  private readonly claimSql: string;

  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly subscriptions: SubscriptionService,
    /** Tells accounts of their endpoints' changes; none in tests that drive the store by hand. */
    private readonly reporter?: OperationsReporter,
    /**
     * Connections for claims. In pipeline mode (a worker's), a claim's statements leave in one write;
     * on the data source's own connections they run one after the other, with the same result.
     */
    private readonly claimPool: pg.Pool = poolOf(db),
  ) {
    this.delivery = entityColumns(db, DeliveryEntity, 'd');
    this.event = entityColumns(db, EventEntity, 'e');
    this.subscription = entityColumns(db, SubscriptionEntity, 's');
    // The PUSH endpoints with claimable deliveries (PULL consumers lease their own), by a skip scan of the due index (one probe per endpoint,
    // however long its backlog), that may be sent to now (not held, or held with a probe due), locked
    // until the claim commits: a worker claiming at the same time skips them, so that two claims never
    // count an endpoint's deliveries in flight at once and both fill its cap. Of those, the ones below this
    // worker's shares, the least busy accounts' and endpoints' first (ties at random), no more endpoints
    // than deliveries wanted: a claim of a few freed slots then looks at a few endpoints, not every one
    // with a backlog. The chosen ones are handed to the claim in settings of the transaction, since both
    // statements are sent at once; the counts tell whether any were left out for this worker's shares.
    this.endpointsSql = `
      WITH RECURSIVE pending(id) AS (
        (SELECT subscription_id FROM deliveries WHERE ${CLAIMABLE} ORDER BY subscription_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.subscription_id FROM deliveries d WHERE d.${CLAIMABLE} AND d.subscription_id > p.id ORDER BY d.subscription_id LIMIT 1)
        FROM pending p WHERE p.id IS NOT NULL
      ), locked AS MATERIALIZED (
        SELECT s.id, s.account_id, CASE WHEN s.health_state = 'HELD' THEN 1 ELSE COALESCE(s.max_in_flight, $1) END AS cap
        FROM pending p JOIN webhook_subscriptions s ON s.id = p.id
        WHERE s.kind = 'PUSH' AND (s.health_state <> 'HELD' OR s.next_probe_at <= now())
        FOR NO KEY UPDATE OF s SKIP LOCKED
      ), chosen AS MATERIALIZED (
        SELECT l.id, l.account_id, l.cap, COALESCE(e.n, 0) AS mine
        FROM locked l
        LEFT JOIN unnest($2::uuid[], $3::int[]) AS e(id, n) ON e.id = l.id
        LEFT JOIN unnest($4::uuid[], $5::int[]) AS a(id, n) ON a.id = l.account_id
        WHERE COALESCE(e.n, 0) < $6 AND COALESCE(a.n, 0) < $7
        ORDER BY COALESCE(a.n, 0), COALESCE(e.n, 0), random()
        LIMIT $8
      )
      SELECT (SELECT count(*) FROM locked)::int AS found, count(*)::int AS chosen,
        set_config('${CLAIM_SETTING}.ids', COALESCE(array_agg(id), '{}')::text, true),
        set_config('${CLAIM_SETTING}.accounts', COALESCE(array_agg(account_id), '{}')::text, true),
        set_config('${CLAIM_SETTING}.caps', COALESCE(array_agg(cap), '{}')::text, true),
        set_config('${CLAIM_SETTING}.mine', COALESCE(array_agg(mine), '{}')::text, true)
      FROM chosen`;
    // Run after the endpoints are locked, in a snapshot of its own, so that it sees every lease given
    // before. Per endpoint: its oldest due deliveries, as many as its fleet-wide cap and this worker's
    // per-endpoint share leave. Then fair shares: each candidate's level is how many of its account's
    // deliveries this worker would have in flight with it (interleaving the account's endpoints, the
    // least busy first); the lowest levels go first, so an account with nothing in flight is served
    // ahead of a busy one, and no account passes its cap in this worker.
    this.claimSql = `
      WITH en AS (
        -- Arrays, whose length the planner guesses small, as it does for parameters.
        SELECT * FROM unnest(current_setting('${CLAIM_SETTING}.ids')::uuid[], current_setting('${CLAIM_SETTING}.accounts')::uuid[],
                             current_setting('${CLAIM_SETTING}.caps')::int[], current_setting('${CLAIM_SETTING}.mine')::int[])
          AS en(id, account_id, cap, mine)
      ), accounts AS (
        SELECT * FROM unnest($4::uuid[], $5::int[]) AS a(account_id, mine)
      ), candidates AS (
        -- Positions are numbered outside the scan, so that it stops at its limit (a window function over the
        -- index scan would read every row sharing the last one's due time, which a batch's rows all do).
        SELECT c.ctid, en.account_id, en.mine + row_number() OVER (PARTITION BY en.id ORDER BY c.next_attempt_at) AS endpoint_level
        FROM en
        -- Its unexpired leases, up to its cap: no more matter.
        CROSS JOIN LATERAL (
          SELECT count(*)::int AS fleet FROM (
            SELECT FROM deliveries d
            WHERE d.subscription_id = en.id AND d.lease_token IS NOT NULL AND d.lease_expires_at > now()
            LIMIT en.cap
          ) leases
        ) b
        CROSS JOIN LATERAL (
          SELECT d.ctid, d.next_attempt_at FROM deliveries d
          WHERE d.subscription_id = en.id AND d.${CLAIMABLE} AND d.next_attempt_at <= now()
            AND (d.lease_token IS NULL OR d.lease_expires_at <= now())
          ORDER BY d.next_attempt_at
          LIMIT GREATEST(0, LEAST(en.cap - b.fleet, $6 - en.mine, $2))
        ) c
      ), levelled AS (
        SELECT c.ctid, COALESCE(a.mine, 0) + row_number() OVER (PARTITION BY c.account_id ORDER BY c.endpoint_level, random()) AS level
        FROM candidates c LEFT JOIN accounts a ON a.account_id = c.account_id
      ), picked AS (
        SELECT ctid FROM levelled WHERE level <= $7 ORDER BY level, random() LIMIT $2
      ), leased AS (
        -- By the rows' addresses as read above: a join with the rows picked would be planned from the table's
        -- statistics, which lag behind a queue's (a stale plan scanned every due row per picked one). A row that
        -- another transaction changed meanwhile is leased only if it is still claimable as it is now.
        UPDATE deliveries d
        SET lease_owner = $1, lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => $3)
        FROM picked
        WHERE d.ctid = picked.ctid AND d.${CLAIMABLE} AND (d.lease_token IS NULL OR d.lease_expires_at <= now())
        RETURNING d.*
      ), marked AS (
        SELECT l.*, row_number() OVER (PARTITION BY l.event_id) = 1 AS first_of_event,
               row_number() OVER (PARTITION BY l.subscription_id) = 1 AS first_of_subscription
        FROM leased l
      )
      -- A claim holds each event and endpoint several times (fan-out, backlogs): each is sent in one row only.
      SELECT ${this.delivery.select}, ${this.event.selectWhen('d.first_of_event')}, ${this.subscription.selectWhen('d.first_of_subscription')}
      FROM marked d JOIN events e ON e.id = d.event_id JOIN webhook_subscriptions s ON s.id = d.subscription_id`;
  }

  /**
   * Claims due deliveries fairly between accounts, then between an
   * account's endpoints, within the per-endpoint caps, each under a new
   * lease. One short transaction: the endpoints' rows are locked first, then
   * the deliveries are counted and leased in a statement of its own.
   */
  async claim(limits: ClaimLimits): Promise<AttemptContext[]> {
    return (await this.claimAndTell(limits)).claimed;
  }

  /**
   * claim, and whether endpoints with due deliveries were left out because
   * this worker's share of their account or of the endpoint was full (a slot
   * that frees up here is then worth another claim), with the signing
   * secrets of the claimed deliveries read in the same transaction.
   */
  async claimAndTell(limits: ClaimLimits): Promise<ClaimResult> {
    if (limits.limit <= 0) return { claimed: [], heldBack: false, secretRows: [] };
    // The statements and the transaction around them leave in one write: one round trip per claim.
    const { results } = await transactionAtOnce(this.claimPool, this.claimStatements(limits));
    return this.readClaim(results);
  }

  /**
   * A group of attempts recorded as record() records it, and a claim in the
   * same transaction after it: the claim sees the leases the group gave back,
   * so the slots it freed are filled again without a wake-up, a round trip
   * and a commit of their own. Only a group that record() writes in one
   * statement (no endpoint's health changes, no key's next delivery is let
   * go, nothing is disabled) takes a claim with it; another is recorded as
   * usual and answers undefined.
   */
  async recordAndClaim(entries: readonly AttemptEntry[], limits: ClaimLimits): Promise<ClaimResult | undefined> {
    const ordered = orderedForLocks(entries);
    if (limits.limit <= 0 || this.needsTransaction(ordered)) {
      await this.recordOrdered(ordered);
      return undefined;
    }
    const { results } = await transactionAtOnce(this.claimPool, [
      { name: 'hookline_record', text: RECORD_SQL, values: this.recordValues(ordered, []) },
      ...this.claimStatements(limits),
    ]);
    this.reportFailures(ordered);
    return this.readClaim(results.slice(1));
  }

  /** The statements of a claim, in one transaction: the endpoints locked and chosen, the deliveries leased, their secrets read. */
  private claimStatements(limits: ClaimLimits): Statement[] {
    const endpointIds = [...limits.inFlightByEndpoint.keys()];
    const accountIds = [...limits.inFlightByAccount.keys()];
    const endpointsInFlight = arrayLiteral(endpointIds.map((id) => limits.inFlightByEndpoint.get(id)!));
    const accountsInFlight = arrayLiteral(accountIds.map((id) => limits.inFlightByAccount.get(id)!));
    const endpoints = arrayLiteral(endpointIds);
    const accounts = arrayLiteral(accountIds);
    return [
      // Index scans only: the claim's scans stop at their limits, and an index scan marks the entries of
      // rows long since changed as dead, which a bitmap scan (chosen from lagging statistics) visits again
      // on every claim: thousands of them per endpoint in a busy queue, most of the claim's time.
      // And the claim's plan made once per connection: its shape does not rest on its parameters (the
      // arrays' lengths are guesses either way), but PostgreSQL would plan it again for the values of
      // most calls, 0.7 ms a claim under load.
      { text: "SELECT set_config('enable_bitmapscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)" },
      {
        name: 'hookline_claim_endpoints',
        text: this.endpointsSql,
        values: [
          limits.defaultMaxInFlight,
          endpoints,
          endpointsInFlight,
          accounts,
          accountsInFlight,
          limits.maxInFlightPerEndpoint,
          limits.maxInFlightPerAccount,
          limits.limit,
        ],
      },
      {
        name: 'hookline_claim',
        rowMode: 'array',
        text: this.claimSql,
        values: [
          limits.owner,
          limits.limit,
          limits.leaseSeconds,
          accounts,
          accountsInFlight,
          limits.maxInFlightPerEndpoint,
          limits.maxInFlightPerAccount,
        ],
      },
      // The active signing secrets of the chosen endpoints (those of the claimed deliveries among them): in the
      // same write, instead of a round trip of their own after the claim.
      { name: 'hookline_claim_secrets', text: activeSecretRowsSql(`current_setting('${CLAIM_SETTING}.ids')::uuid[]`, 'now()') },
    ];
  }

  /** A claim's answer from the results of claimStatements. */
  private readClaim([, chosenEndpoints, claim, secrets]: readonly pg.QueryResult[]): ClaimResult {
    const { found, chosen } = chosenEndpoints!.rows[0] as { found: number; chosen: number };
    // Rows as arrays: the delivery's columns, then the event's, then the subscription's (see claimSql).
    const rows = claim!.rows as unknown[][];
    const eventAt = this.delivery.width;
    const subscriptionAt = eventAt + this.event.width;
    // The claimed deliveries of one event or endpoint share its (read-only) entity.
    const events = new Map<string, EventEntity>();
    const subscriptions = new Map<string, SubscriptionEntity>();
    for (const row of rows) {
      const eventId = this.event.idAt(row, eventAt);
      if (eventId !== null) events.set(eventId, this.event.readAt(row, eventAt));
      const subscriptionId = this.subscription.idAt(row, subscriptionAt);
      if (subscriptionId !== null) subscriptions.set(subscriptionId, this.subscription.readAt(row, subscriptionAt));
    }
    return {
      claimed: rows.map((row) => {
        const delivery = this.delivery.readAt(row, 0);
        return { delivery, event: events.get(delivery.eventId)!, subscription: subscriptions.get(delivery.subscriptionId)! };
      }),
      heldBack: chosen < found,
      secretRows: secrets!.rows as SigningSecretRow[],
    };
  }

  /**
   * A named (prepared) statement on the pool: PostgreSQL parses and plans
   * the claim and the record, the two statements every batch runs, once per
   * connection instead of on every call.
   */
  private async prepared<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    return (await poolOf(this.db).query({ name, text, values })).rows as T[];
  }

  /** Whether the subscription should still receive the delivery. A test event goes to its one subscription whatever its channels. */
  async stillMatches(context: AttemptContext): Promise<boolean> {
    const { subscription, event } = context;
    if (subscription.deletedAt) return false;
    if (event.type === TEST_EVENT_TYPE) return true;
    const exclusive = await this.catalog.exclusiveChannels({ accountId: event.accountId, environment: event.environment });
    return subscriptionMatches(subscription, event, exclusive);
  }

  /** Ends a delivery that is no longer wanted, without an attempt; the next one of its key may go. */
  async cancel(context: AttemptContext): Promise<void> {
    await this.db.transaction(async (manager) => {
      await lockNextInLine(manager, [context.delivery]);
      await manager.query(
        `WITH cancelled AS (
           UPDATE deliveries SET status = 'CANCELLED', next_attempt_at = NULL, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
           WHERE id = $1 AND lease_token = $2
           RETURNING subscription_id, ordering_key, sequence
         )
         UPDATE deliveries w SET order_wait = false, updated_at = now() FROM cancelled c
         WHERE c.ordering_key IS NOT NULL AND w.order_wait
           AND w.subscription_id = c.subscription_id AND w.ordering_key = c.ordering_key AND w.sequence = c.sequence + 1`,
        [context.delivery.id, context.delivery.leaseToken],
      );
    });
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
   * settles the delivery. Given a transaction (`within`), everything is
   * written in it. A PULL subscription has no endpoint health: its
   * consumer's results change none.
   */
  async record(entries: readonly AttemptEntry[], within?: EntityManager): Promise<void> {
    if (entries.length === 0) return;
    await this.recordOrdered(orderedForLocks(entries), within);
  }

  /** record, of a group already in the order its rows are locked in. */
  private async recordOrdered(ordered: readonly AttemptEntry[], within?: EntityManager): Promise<void> {
    if (!this.needsTransaction(ordered)) {
      await this.write(within, ordered, []);
      this.reportFailures(ordered);
      return;
    }
    const disables = ordered.filter(isDisabling);
    // A success of a keyed delivery lets the next one of its key go: see lockNextInLine.
    const keyedSuccesses = ordered.filter(isKeyedSuccess);
    const work = async (manager: EntityManager) => {
      // Every endpoint of the group that was attempted, so that a success also clears failures recorded since its claim.
      const ids = [...new Set(ordered.filter(probed).map((e) => e.context.subscription.id))].sort();
      const locked = (await manager.query(
        `SELECT id, health_state, health_since, consecutive_failures, next_probe_at, failing_since FROM webhook_subscriptions
         WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
        [ids],
      )) as Array<{ id: string } & Parameters<typeof healthOf>[0]>;
      const health: Array<{ id: string; health: EndpointHealth }> = [];
      const transitions: HealthTransition[] = [];
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
        if (healthChanged(current, next)) {
          health.push({ id: row.id, health: next });
          const ofEndpoint = ordered.filter((e) => !e.unsent && e.context.subscription.id === row.id);
          transitions.push({
            subscription: ofEndpoint[0]!.context.subscription,
            before: current,
            after: next,
            lastStatus: ofEndpoint.at(-1)!.attempt.responseStatus,
            eventTypes: ofEndpoint.map((e) => e.context.event.type),
          });
        }
      }
      await lockNextInLine(
        manager,
        keyedSuccesses.map((e) => e.context.delivery),
      );
      await this.write(manager, ordered, health);
      for (const { context, outcome } of disables) {
        if (outcome.kind === 'failed' && outcome.disableReason)
          await this.subscriptions.disable(context.subscription.id, outcome.disableReason, manager);
      }
      await this.reporter?.inTransaction(manager, {
        transitions,
        disabled: disables.map((e) => ({
          subscription: e.context.subscription,
          reason: e.outcome.kind === 'failed' ? (e.outcome.disableReason ?? 'disabled') : 'disabled',
          lastStatus: e.attempt.responseStatus,
          eventType: e.context.event.type,
        })),
        blocked: ordered
          .filter(
            (e) =>
              e.outcome.kind === 'failed' && e.context.delivery.orderingKey !== null && e.context.subscription.ordering === DeliveryOrdering.PER_KEY,
          )
          .map((e) => ({
            subscription: e.context.subscription,
            deliveryId: e.context.delivery.id,
            orderingKey: e.context.delivery.orderingKey!,
            sequence: e.context.delivery.sequence,
            eventType: e.context.event.type,
          })),
      });
    };
    if (within) await work(within);
    else await this.db.transaction(work);
    this.reportFailures(ordered);
  }

  /** Whether a group needs more than its one statement: an endpoint's health, a disabling or a key's next delivery to see to. */
  private needsTransaction(ordered: readonly AttemptEntry[]): boolean {
    return ordered.some((e) => touchesHealth(e) || isDisabling(e) || isKeyedSuccess(e));
  }

  /** Deliveries that ended FAILED, counted for their subscription's delivery_failed event. */
  private reportFailures(entries: readonly AttemptEntry[]): void {
    if (!this.reporter) return;
    for (const e of entries) {
      if (e.outcome.kind !== 'failed') continue;
      const at = new Date(e.attempt.startedAt.getTime() + e.attempt.durationMs);
      this.reporter.failed(e.context.subscription.id, e.context.delivery.id, e.context.event.type, at, e.attempt.responseStatus);
    }
  }

  /** Outside a transaction (manager undefined) as a prepared statement of its own. */
  private async write(
    manager: EntityManager | undefined,
    entries: readonly AttemptEntry[],
    health: ReadonlyArray<{ id: string; health: EndpointHealth }>,
  ): Promise<void> {
    const values = this.recordValues(entries, health);
    if (manager) await manager.query(entries.some((e) => e.context.delivery.orderingKey !== null) ? RECORD_KEYED_SQL : RECORD_SQL, values);
    else await this.prepared('hookline_record', RECORD_SQL, values);
  }

  /** The parameters of the record statement for a group and the endpoints' health it changes. */
  private recordValues(entries: readonly AttemptEntry[], health: ReadonlyArray<{ id: string; health: EndpointHealth }>): string[] {
    const states = entries.map((e) => deliveryAfterAttempt(e.outcome, new Date(e.attempt.startedAt.getTime() + e.attempt.durationMs)));
    // Array literals built here rather than by node-postgres: see arrayLiteral.
    return [
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
    ].map(arrayLiteral);
  }

  /** Due deliveries (the queue depth) and held endpoints, for the worker's metrics. */
  async backlog(): Promise<{ due: number; held: number }> {
    const [row] = (await this.db.query(
      `SELECT (SELECT count(*) FROM deliveries WHERE ${CLAIMABLE} AND next_attempt_at <= now())::int AS due,
              (SELECT count(*) FROM webhook_subscriptions WHERE health_state = 'HELD' AND deleted_at IS NULL)::int AS held`,
    )) as Array<{ due: number; held: number }>;
    return row ?? { due: 0, held: 0 };
  }
}
