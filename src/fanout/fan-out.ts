import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { channelOf, subscriptionMatches } from '../catalog/rules.js';
import { EventEntity, SubscriptionEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import type { Sql } from '../db/sql.js';
import { arrayLiteral } from '../db/array-literal.js';
import { DeliveryOrdering, Environment, SubscriptionKind } from '../domain.js';
import type { EventService, PublishInput } from '../events/service.js';
import { sendEventJobs } from '../events/outbox.js';
import { isUuid, newId } from '../ids.js';
import { EVENT_JOB_VERSION, QUEUES, type DeadLetterReason, type EventQueueName, type RefusedEventLetter } from '../queue/jobs.js';
import { orderingGate, sequenceDeliveries, type KeyProgress, type PairToInsert } from './ordering.js';

/** A job as pg-boss hands it over. */
export interface FanOutJob {
  id: string;
  data: unknown;
}

export interface FanOutResult {
  /** Deliveries created. */
  deliveries: number;
  /** Events fanned out (some may have matched no subscription). */
  events: number;
  /** Jobs refused, with the reason code of each. */
  deadLettered: DeadLetterReason[];
  /** Keyed events that wait for an earlier event of their key, queued again. */
  deferred: number;
  /** PULL subscriptions that got deliveries: their consumers' long polls are woken. */
  pullSubscriptions: string[];
}

/** A keyed event whose predecessor has not been fanned out yet is looked at again this much later. */
const DEFER_MS = 250;
/**
 * After this many looks (about five minutes), an event stops waiting for an
 * earlier event of its key that never comes (one that was dead-lettered):
 * the key goes on without it rather than stopping for ever.
 */
const MAX_DEFERRALS = 1200;

/** Where a refused item's fields are, in the job's own terms. */
const JOB_PATHS = { data: 'data', idempotencyKey: 'idempotencyKey', orderingKey: 'orderingKey', type: 'type' };

/** Events of one account, environment and type have the same candidate subscriptions. */
function kindOf(event: EventEntity): string {
  return `${event.accountId}/${event.environment}/${event.type}`;
}

/**
 * The fan-out: turns a batch of event jobs into deliveries, inside the
 * transaction in which pg-boss completes the jobs, so that each event is
 * fanned out exactly once whatever is killed when. Jobs that carry a whole
 * event (sent by another service) are checked as publishEvent checks them
 * and stored first; a refused one goes to the dead-letter queue with its
 * reason, in the same transaction. Events of one ordering key are fanned
 * out in sequence order, whatever batches they arrive in.
 */
export class FanOut {
  private readonly eventColumns: EntityColumns<EventEntity>;
  private readonly subscriptionColumns: EntityColumns<SubscriptionEntity>;

  constructor(
    db: DataSource,
    private readonly events: EventService,
    private readonly catalog: CatalogService,
    private readonly boss: PgBoss,
  ) {
    this.eventColumns = entityColumns(db, EventEntity, 'e');
    this.subscriptionColumns = entityColumns(db, SubscriptionEntity, 's');
  }

  async run(queue: EventQueueName, jobs: readonly FanOutJob[], sql: Sql): Promise<FanOutResult> {
    const letters: RefusedEventLetter[] = [];
    const refuse = (job: FanOutJob, reason: DeadLetterReason) => letters.push({ version: EVENT_JOB_VERSION, queue, reason, job: job.data });
    const storedIds: string[] = [];
    const deferrals = new Map<string, number>();
    const toPublish = new Map<string, { accountId: string; environment: Environment; items: Array<{ job: FanOutJob; input: PublishInput }> }>();
    for (const job of jobs) {
      const parsed = parseJob(job.data);
      if ('reason' in parsed) refuse(job, parsed.reason);
      else if ('eventId' in parsed) {
        storedIds.push(parsed.eventId);
        if (parsed.deferrals > 0) deferrals.set(parsed.eventId, parsed.deferrals);
      } else {
        const scopeKey = `${parsed.accountId}/${parsed.environment}`;
        const group = toPublish.get(scopeKey) ?? { accountId: parsed.accountId, environment: parsed.environment, items: [] };
        group.items.push({ job, input: parsed.input });
        toPublish.set(scopeKey, group);
      }
    }

    const events: EventEntity[] = [];
    if (toPublish.size > 0) {
      const known = await this.existingAccounts(
        sql,
        [...toPublish.values()].map((g) => g.accountId),
      );
      for (const group of toPublish.values()) {
        if (!known.has(group.accountId)) {
          for (const { job } of group.items)
            refuse(job, { code: 'UNKNOWN_ACCOUNT', message: `No account has the id ${group.accountId}`, field: 'accountId' });
          continue;
        }
        const results = await this.events.acceptItems(
          { accountId: group.accountId, environment: group.environment, apiKeyId: null },
          group.items.map((i) => i.input),
          () => JOB_PATHS,
          async (store) => {
            events.push(...(await store(sql)));
          },
        );
        for (const result of results) {
          if (result.error)
            refuse(group.items[result.index]!.job, { code: result.error.code, message: result.error.message, field: result.error.field });
        }
      }
    }
    if (storedIds.length > 0) {
      const rows = await sql.query(`SELECT ${this.eventColumns.select} FROM events e WHERE e.id = ANY($1::uuid[])`, [storedIds]);
      events.push(...rows.map((row) => this.eventColumns.read(row)));
    }

    const { ready, deferred } = await this.gate(sql, events, deferrals);
    const { deliveries, pullSubscriptions } = await this.fanOut(sql, ready);
    if (deferred.length > 0) {
      await sendEventJobs(this.boss, sql, deferred, {
        startAfter: new Date(Date.now() + DEFER_MS),
        deferrals: new Map(deferred.map((e) => [e.id, (deferrals.get(e.id) ?? 0) + 1])),
      });
    }
    if (letters.length > 0)
      await this.boss.insert(
        QUEUES.deadLetters,
        letters.map((data) => ({ data })),
        { db: sql.boss },
      );
    return { deliveries, events: ready.length, deadLettered: letters.map((l) => l.reason), deferred: deferred.length, pullSubscriptions };
  }

  private async existingAccounts(sql: Sql, ids: string[]): Promise<Set<string>> {
    const rows = await sql.query<{ id: string }>(`SELECT id FROM accounts WHERE id = ANY($1::uuid[])`, [[...new Set(ids)]]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Splits keyed events into those whose every earlier event of the key has
   * been fanned out (they go now, and move the key's mark on) and those
   * that must wait; events without a key always go. The keys' rows are
   * locked, in one order, until commit.
   */
  private async gate(
    sql: Sql,
    events: readonly EventEntity[],
    deferrals: ReadonlyMap<string, number>,
  ): Promise<{ ready: EventEntity[]; deferred: EventEntity[] }> {
    const keyed = events.filter((e) => e.orderingKey !== null && e.sequence !== null);
    if (keyed.length === 0) return { ready: [...events], deferred: [] };
    const keys = new Map<string, { accountId: string; environment: string; orderingKey: string }>();
    for (const e of keyed) keys.set(keyOf(e), { accountId: e.accountId, environment: e.environment, orderingKey: e.orderingKey! });
    const list = [...keys.values()];
    const rows = await sql.query<{ account_id: string; environment: string; ordering_key: string; fanned_out_through: number }>(
      `SELECT o.account_id, o.environment, o.ordering_key, o.fanned_out_through FROM ordering_keys o
       JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(account_id, environment, ordering_key)
         ON o.account_id = k.account_id AND o.environment = k.environment AND o.ordering_key = k.ordering_key
       ORDER BY o.account_id, o.environment, o.ordering_key
       FOR UPDATE OF o`,
      [list.map((k) => k.accountId), list.map((k) => k.environment), list.map((k) => k.orderingKey)],
    );
    const progress = new Map<string, KeyProgress>(
      rows.map((r) => [`${r.account_id}/${r.environment}/${r.ordering_key}`, { fannedOutThrough: r.fanned_out_through }]),
    );
    const decision = orderingGate(
      keyed.map((e) => ({ event: e, key: keyOf(e), sequence: e.sequence!, force: (deferrals.get(e.id) ?? 0) >= MAX_DEFERRALS })),
      progress,
    );
    const moved = [...decision.fannedOutThrough].map(([key, through]) => ({ ...keys.get(key)!, through }));
    if (moved.length > 0) {
      await sql.query(
        `UPDATE ordering_keys o SET fanned_out_through = m.through
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS m(account_id, environment, ordering_key, through)
         WHERE o.account_id = m.account_id AND o.environment = m.environment AND o.ordering_key = m.ordering_key`,
        [moved.map((m) => m.accountId), moved.map((m) => m.environment), moved.map((m) => m.orderingKey), moved.map((m) => m.through)],
      );
    }
    const unkeyed = events.filter((e) => e.orderingKey === null || e.sequence === null);
    return { ready: [...unkeyed, ...decision.ready.map((r) => r.event)], deferred: decision.deferred.map((r) => r.event) };
  }

  /**
   * One delivery per event and subscription that the channel rules choose,
   * due at once. A batch costs one read of candidate subscriptions and one
   * insert (two more when events carry ordering keys: the delivery
   * sequences, then the insert that checks each key's previous delivery).
   */
  private async fanOut(sql: Sql, events: readonly EventEntity[]): Promise<{ deliveries: number; pullSubscriptions: string[] }> {
    const none = { deliveries: 0, pullSubscriptions: [] };
    if (events.length === 0) return none;
    const kinds = new Map<string, { accountId: string; environment: string; type: string }>();
    for (const e of events) kinds.set(kindOf(e), { accountId: e.accountId, environment: e.environment, type: e.type });
    const list = [...kinds.values()];
    const rows = await sql.query(
      `SELECT k.ord, ${this.subscriptionColumns.select}
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(account_id, environment, channel, type, ord)
       JOIN webhook_subscriptions s ON s.account_id = k.account_id AND s.environment = k.environment
         AND s.enabled AND s.deleted_at IS NULL
         AND k.channel = ANY(s.channels) AND (cardinality(s.events) = 0 OR k.type = ANY(s.events))`,
      [list.map((k) => k.accountId), list.map((k) => k.environment), list.map((k) => channelOf(k.type)), list.map((k) => k.type)].map(arrayLiteral),
    );
    if (rows.length === 0) return none;
    const kindKeys = [...kinds.keys()];
    const candidates = new Map<string, SubscriptionEntity[]>();
    for (const row of rows) {
      const kind = kindKeys[Number(row.ord) - 1]!;
      const list = candidates.get(kind) ?? [];
      list.push(this.subscriptionColumns.read(row));
      candidates.set(kind, list);
    }
    // Only built-in channels are exclusive, so one set serves every event of the batch.
    const exclusive = await this.catalog.exclusiveChannels({ accountId: events[0]!.accountId, environment: events[0]!.environment });
    const pairs: Array<{ event: EventEntity; subscription: SubscriptionEntity }> = [];
    for (const event of events) {
      for (const s of candidates.get(kindOf(event)) ?? []) {
        if (subscriptionMatches(s, event, exclusive)) pairs.push({ event, subscription: s });
      }
    }
    if (pairs.length === 0) return none;

    const keyed = pairs.filter((p) => p.event.orderingKey !== null && p.event.sequence !== null);
    const lastSequences = keyed.length > 0 ? await this.reserveDeliverySequences(sql, keyed) : new Map<string, number>();
    const toInsert = sequenceDeliveries(
      pairs.map((p) => ({
        eventId: p.event.id,
        accountId: p.event.accountId,
        environment: p.event.environment,
        subscriptionId: p.subscription.id,
        perKey: p.subscription.ordering !== DeliveryOrdering.NONE,
        orderingKey: p.event.orderingKey,
        eventSequence: p.event.sequence,
      })),
      lastSequences,
    );
    const inserted = await this.insert(sql, toInsert);
    const pull = new Set(pairs.filter((p) => p.subscription.kind === SubscriptionKind.PULL).map((p) => p.subscription.id));
    return { deliveries: inserted.length, pullSubscriptions: [...new Set(inserted.map((d) => d.subscription_id))].filter((id) => pull.has(id)) };
  }

  /**
   * Takes the next delivery sequences of each subscription and key for the
   * pairs, and keeps their counter rows locked until commit: the recorder
   * takes the same locks before it lets the next delivery of a key go, so
   * that the insert below sees every earlier delivery of the key as it is.
   * Answers the last sequence each counter had before.
   */
  private async reserveDeliverySequences(
    sql: Sql,
    keyed: ReadonlyArray<{ event: EventEntity; subscription: SubscriptionEntity }>,
  ): Promise<Map<string, number>> {
    const counts = new Map<string, { subscriptionId: string; orderingKey: string; n: number }>();
    for (const { event, subscription } of keyed) {
      const key = `${subscription.id}/${event.orderingKey}`;
      const entry = counts.get(key) ?? { subscriptionId: subscription.id, orderingKey: event.orderingKey!, n: 0 };
      entry.n += 1;
      counts.set(key, entry);
    }
    const list = [...counts.values()].sort((x, y) =>
      x.subscriptionId === y.subscriptionId ? (x.orderingKey < y.orderingKey ? -1 : 1) : x.subscriptionId < y.subscriptionId ? -1 : 1,
    );
    const rows = await sql.query<{ subscription_id: string; ordering_key: string; last_sequence: number }>(
      `INSERT INTO delivery_sequences AS q (subscription_id, ordering_key, last_sequence)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])
       ON CONFLICT (subscription_id, ordering_key) DO UPDATE SET last_sequence = q.last_sequence + EXCLUDED.last_sequence
       RETURNING q.subscription_id, q.ordering_key, q.last_sequence`,
      [list.map((c) => c.subscriptionId), list.map((c) => c.orderingKey), list.map((c) => c.n)],
    );
    return new Map(
      rows.map((r) => [`${r.subscription_id}/${r.ordering_key}`, r.last_sequence - counts.get(`${r.subscription_id}/${r.ordering_key}`)!.n]),
    );
  }

  private async insert(sql: Sql, pairs: readonly PairToInsert[]): Promise<Array<{ subscription_id: string }>> {
    // The first delivery of a key in this batch waits when the key's previous delivery has not gone
    // through yet (pending, retrying, or FAILED and not let go); the next ones of the batch wait behind it.
    // The arrays are read through subqueries, so that the planner does not see their length: the plan is
    // the same for every batch, and PostgreSQL keeps the generic one instead of planning each batch again.
    return sql.query<{ subscription_id: string }>(
      `INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, next_attempt_at, ordering_key, sequence, order_wait)
       SELECT d.id, d.account_id, d.environment, d.event_id, d.subscription_id, now(), d.ordering_key, d.sequence,
              CASE WHEN NOT d.per_key OR d.ordering_key IS NULL THEN false
                   WHEN NOT d.first_of_batch THEN true
                   ELSE EXISTS (SELECT 1 FROM deliveries p
                                WHERE p.subscription_id = d.subscription_id AND p.ordering_key = d.ordering_key AND p.sequence = d.sequence - 1
                                  AND (p.status IN ('PENDING', 'RETRYING') OR (p.status = 'FAILED' AND NOT p.order_released)))
              END
       FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[]), (SELECT $3::text[]), (SELECT $4::uuid[]), (SELECT $5::uuid[]),
                   (SELECT $6::text[]), (SELECT $7::int[]), (SELECT $8::boolean[]), (SELECT $9::boolean[]))
         AS d(id, account_id, environment, event_id, subscription_id, ordering_key, sequence, per_key, first_of_batch)
       ON CONFLICT (event_id, subscription_id) DO NOTHING
       RETURNING subscription_id`,
      [
        pairs.map(() => newId()),
        pairs.map((p) => p.accountId),
        pairs.map((p) => p.environment),
        pairs.map((p) => p.eventId),
        pairs.map((p) => p.subscriptionId),
        pairs.map((p) => p.orderingKey),
        pairs.map((p) => p.sequence),
        pairs.map((p) => p.perKey),
        pairs.map((p) => p.firstOfBatch),
      ].map(arrayLiteral),
    );
  }
}

function keyOf(event: EventEntity): string {
  return `${event.accountId}/${event.environment}/${event.orderingKey}`;
}

type ParsedJob =
  { eventId: string; deferrals: number } | { accountId: string; environment: Environment; input: PublishInput } | { reason: DeadLetterReason };

const ENVIRONMENTS = new Set<string>(Object.values(Environment));

/** A job in one of the two formats of version 1 (src/queue/jobs.ts), or why it is not. */
export function parseJob(data: unknown): ParsedJob {
  const malformed = (message: string, field: string | null = null): ParsedJob => ({ reason: { code: 'MALFORMED_JOB', message, field } });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return malformed('The job data is not a JSON object');
  const job = data as Record<string, unknown>;
  if (job.version !== EVENT_JOB_VERSION)
    return malformed(`Unknown job format version ${JSON.stringify(job.version)}; this worker reads version ${EVENT_JOB_VERSION}`, 'version');
  if ('eventId' in job) {
    if (typeof job.eventId !== 'string' || !isUuid(job.eventId)) return malformed('eventId must be a UUID', 'eventId');
    return { eventId: job.eventId, deferrals: typeof job.deferrals === 'number' ? job.deferrals : 0 };
  }
  if (typeof job.accountId !== 'string' || !isUuid(job.accountId)) return malformed('accountId must be a UUID', 'accountId');
  if (typeof job.environment !== 'string' || !ENVIRONMENTS.has(job.environment))
    return malformed('environment must be STAGING or PRODUCTION', 'environment');
  if (typeof job.type !== 'string') return malformed('type must be a string', 'type');
  for (const field of ['idempotencyKey', 'orderingKey'] as const) {
    if (job[field] !== undefined && job[field] !== null && typeof job[field] !== 'string') return malformed(`${field} must be a string`, field);
  }
  return {
    accountId: job.accountId,
    environment: job.environment as Environment,
    input: {
      type: job.type,
      data: job.data,
      idempotencyKey: (job.idempotencyKey as string | null | undefined) ?? null,
      orderingKey: (job.orderingKey as string | null | undefined) ?? null,
    },
  };
}
