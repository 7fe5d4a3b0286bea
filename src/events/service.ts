import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { In, type DataSource, type EntityManager } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { EventEntity, type EventTypeEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import type { Scope } from '../domain.js';
import { AppError, InputError, NotFoundError, type FieldError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { keysetPage, type Page } from '../pagination.js';
import { sqlOfManager, type Sql } from '../db/sql.js';
import { transactionAtOnce, type AtOnceResult, type Statement } from '../db/pipeline.js';
import { fanOutTopicsOf, wakeInTransaction, wakeStatement, type WakeTopic } from '../queue/wakeup.js';
import { channelOf } from '../catalog/rules.js';
import { OPERATIONS_CHANNEL } from '../operations/events.js';
import { idempotencyHash } from './idempotency.js';
import { MAX_BATCH_DATA_BYTES, MAX_BATCH_ITEMS, MAX_EVENT_DATA_BYTES, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_ORDERING_KEY_LENGTH } from './limits.js';
import { onlyJobsOfStoredEvents, sendEventJobs } from './outbox.js';
import { PublishGroups } from './publish-groups.js';

export { MAX_EVENT_DATA_BYTES, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_ORDERING_KEY_LENGTH } from './limits.js';

/**
 * Who publishes: the scope of the events, and the API key whose validity the
 * storing statement checks (null for an event that a service sent straight
 * into the queue, which the database's own access control let in).
 */
export interface Publisher extends Scope {
  apiKeyId: string | null;
  /** Hookline itself, publishing its own `operations` events; nobody else may. */
  system?: boolean;
}

export interface PublishInput {
  type: string;
  data: unknown;
  idempotencyKey?: string | null;
  orderingKey?: string | null;
}

export interface PublishResult {
  event: EventEntity;
  /** The key was seen before: this is the first event, and nothing new was queued. */
  duplicate: boolean;
}

/** Where an item's fields are in the request, for the paths of its errors. */
export interface ItemPaths {
  /** The data object: `input.data`, `inputs.3.data`, or `input` for a typed mutation whose fields are the data. */
  data: string;
  idempotencyKey: string;
  orderingKey: string;
  /** Null where the type is not an input (a typed mutation). */
  type: string | null;
}

export type ItemErrorCode = 'UNKNOWN_EVENT_TYPE' | 'PAYLOAD_TOO_LARGE' | 'BAD_USER_INPUT' | 'IDEMPOTENCY_KEY_REUSED';

/** Why one item was refused; `field` is the first failing path. */
export interface ItemError {
  code: ItemErrorCode;
  message: string;
  field: string | null;
  /** Every failing field, for BAD_USER_INPUT. */
  fields: FieldError[];
  extensions: Record<string, unknown>;
}

/** One item of a batch, in input order: accepted (maybe as a duplicate) or refused. */
export type ItemResult =
  { index: number; event: EventEntity; duplicate: boolean; error: null } | { index: number; event: null; duplicate: false; error: ItemError };

export interface EventFilter {
  type?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/** What a publish sent at once did: the wake-up topics of the queues it put events in, and whether its own NOTIFY woke them. */
interface StoredAtOnce {
  topics: WakeTopic[];
  woken: boolean;
}

/** An item that passed every check that needs no database: ready to be stored. */
interface CheckedItem {
  index: number;
  paths: ItemPaths;
  type: string;
  json: string;
  key: string | null;
  hash: string | null;
  orderingKey: string | null;
}

/** Printable ASCII, not starting or ending with a space. */
const ORDERING_KEY_PATTERN = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

const KEY_REUSED_MESSAGE = 'This idempotency key was already used with another type or other data; use a new key for a new event';

function itemError(code: ItemErrorCode, message: string, field: string | null, extensions: Record<string, unknown> = {}): ItemError {
  return { code, message, field, fields: field === null ? [] : [{ field, message }], extensions };
}

function refused(index: number, error: ItemError): ItemResult {
  return { index, event: null, duplicate: false, error };
}

/** The error a single publish throws for a refused item: the same code, message and fields as a batch item's. */
function toAppError(error: ItemError): AppError {
  if (error.code === 'BAD_USER_INPUT') return new InputError(error.fields);
  return new AppError(error.code, error.message, error.field === null ? error.extensions : { ...error.extensions, field: error.field });
}

export class EventService {
  /** The stored event comes back from its INSERT, not from another read. */
  private readonly eventColumns: EntityColumns<EventEntity>;
  private readonly insertSql: string;
  private readonly byKeysSql: string;

  private readonly sequenceSql: string;
  /** A publish sent at once carries the fan-out's wake-up after its COMMIT (storeAtOnce); at most one at a time does. */
  private wakeUpRiding = false;
  /** Publishes sent at once, grouped per publisher while its earlier ones are under way; none without pipelined connections. */
  private readonly groups: PublishGroups<Publisher, CheckedItem, ItemResult, { woken: boolean }> | null;

  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly boss: PgBoss,
    private readonly wake: (topic: WakeTopic) => void,
    /**
     * Connections in pipeline mode (the API's): a publish whose statements do
     * not depend on one another's answers is sent on one in a single round
     * trip (see storeAtOnce). Without it every publish goes statement by
     * statement.
     */
    pipelined: pg.Pool | null = null,
  ) {
    this.eventColumns = entityColumns(db, EventEntity, 'e');
    this.groups = pipelined
      ? new PublishGroups(
          (scope) => `${scope.accountId}:${scope.environment}:${scope.apiKeyId ?? ''}:${scope.system === true}`,
          async (scope, items) => {
            const { results, woken } = await this.storeAtOnce(pipelined, scope, items);
            return { results, extra: { woken } };
          },
          // Data's length in UTF-16 units stands for its bytes here: the limit bounds a statement's size, not a contract.
          { items: MAX_BATCH_ITEMS, weight: MAX_BATCH_DATA_BYTES, weightOf: (item) => item.json.length },
        )
      : null;
    // ON CONFLICT makes racing publishers of one key agree: the later one
    // waits for the earlier to commit, inserts nothing and reads its row.
    // Rows go in sorted by key, so that two batches with overlapping keys
    // take their locks in one order and cannot deadlock.
    // The same statement checks the caller's key, in the snapshot that the
    // insert uses: a key revoked before it ran stores nothing, however the
    // caller was authenticated (the key cache of this process may not have
    // heard of the revocation yet). It answers one row with caller_live even
    // when nothing was inserted. Without a key ($8 null: an event from the
    // queue) there is nothing to check.
    this.insertSql = `WITH caller AS (SELECT $8::uuid IS NULL OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = $8 AND k.revoked_at IS NULL) AS live),
      stored AS (
        INSERT INTO events AS e (id, account_id, environment, type, data, idempotency_key, idempotency_hash, ordering_key)
        SELECT i.id, $1, $2, i.type, i.data::jsonb, i.key, i.hash, i.ordering_key
        FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $9::text[])
          WITH ORDINALITY AS i(id, type, data, key, hash, ordering_key, ord), caller
        WHERE caller.live
        ORDER BY i.ord
        ON CONFLICT (account_id, environment, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING ${this.eventColumns.select}
      )
      SELECT caller.live AS caller_live, stored.* FROM caller LEFT JOIN stored ON true`;
    this.byKeysSql = `SELECT ${this.eventColumns.select} FROM events e
      WHERE e.account_id = $1 AND e.environment = $2 AND e.idempotency_key = ANY($3::text[])`;
    // Sequences for the new events of each ordering key, in input order. The
    // counter row of a key stays locked until commit, so a later publish of
    // the key waits for this one: sequence order is commit order. Counters
    // are taken in key order, so that batches with overlapping keys cannot
    // deadlock.
    this.sequenceSql = `WITH counts AS (
        SELECT k AS ordering_key, count(*)::int AS n FROM unnest($3::text[]) AS k GROUP BY k
      ), counters AS (
        INSERT INTO ordering_keys AS o (account_id, environment, ordering_key, last_sequence)
        SELECT $1, $2, ordering_key, n FROM counts ORDER BY ordering_key
        ON CONFLICT (account_id, environment, ordering_key) DO UPDATE SET last_sequence = o.last_sequence + EXCLUDED.last_sequence
        RETURNING o.ordering_key, o.last_sequence
      ), numbered AS (
        SELECT i.id, c.last_sequence - counts.n + i.rank AS sequence
        FROM unnest($4::uuid[], $3::text[], $5::int[]) AS i(id, ordering_key, rank)
        JOIN counters c ON c.ordering_key = i.ordering_key JOIN counts ON counts.ordering_key = i.ordering_key
      )
      UPDATE events e SET sequence = numbered.sequence FROM numbered WHERE e.id = numbered.id
      RETURNING e.id, e.sequence`;
  }

  /**
   * Checks the event against the catalog, then stores it and its pg-boss job
   * in one transaction: it answers only after commit, so an accepted event
   * is durable and always on its way to the fan-out workers (the outbox
   * property). A refused event throws its error.
   */
  async publish(
    scope: Publisher,
    input: PublishInput,
    paths: ItemPaths = { data: 'input.data', idempotencyKey: 'input.idempotencyKey', orderingKey: 'input.orderingKey', type: 'input.type' },
  ): Promise<PublishResult> {
    const [result] = await this.publishItems(scope, [input], () => paths);
    if (result!.error) throw toAppError(result!.error);
    return { event: result!.event, duplicate: result!.duplicate };
  }

  /**
   * Up to MAX_BATCH_ITEMS events in one transaction, each checked like
   * publish; a refused item has its error in its result and does not stop
   * the others. Too many items or too much data refuses the whole call, and
   * nothing is stored.
   */
  async publishMany(scope: Publisher, inputs: readonly PublishInput[]): Promise<ItemResult[]> {
    if (inputs.length > MAX_BATCH_ITEMS) {
      throw InputError.field('inputs', `must hold at most ${MAX_BATCH_ITEMS} events; this call has ${inputs.length}`);
    }
    return this.publishItems(scope, inputs, (index) => ({
      data: `inputs.${index}.data`,
      idempotencyKey: `inputs.${index}.idempotencyKey`,
      orderingKey: `inputs.${index}.orderingKey`,
      type: `inputs.${index}.type`,
    }));
  }

  /**
   * Hookline's own events (the `operations` channel), checked and queued
   * exactly as publishEvents does it; in the caller's transaction when one
   * is given, so that an event about a change commits with the change.
   */
  async publishOwn(scope: Scope, inputs: readonly PublishInput[], manager?: EntityManager): Promise<ItemResult[]> {
    const publisher: Publisher = { ...scope, apiKeyId: null, system: true };
    const pathsOf = (index: number) => ({
      data: `inputs.${index}.data`,
      idempotencyKey: `inputs.${index}.idempotencyKey`,
      orderingKey: `inputs.${index}.orderingKey`,
      type: `inputs.${index}.type`,
    });
    if (!manager) return this.publishItems(publisher, inputs, pathsOf);
    return this.acceptItems(publisher, inputs, pathsOf, async (store) => {
      const sql = sqlOfManager(manager);
      // The caller's commit comes later: the fan-out is woken from the transaction, as it commits.
      const stored = await store(sql);
      if ((await sendEventJobs(this.boss, sql, stored)) > 0) {
        const wake = wakeInTransaction(fanOutTopicsOf(stored.map((e) => e.type)));
        await sql.query(wake.text, wake.values);
      }
    });
  }

  private async publishItems(scope: Publisher, inputs: readonly PublishInput[], pathsOf: (index: number) => ItemPaths): Promise<ItemResult[]> {
    let wakeFanOut: WakeTopic[] = [];
    const results = await this.acceptItems(scope, inputs, pathsOf, async (store, storeAtOnce) => {
      if (storeAtOnce) {
        const stored = await storeAtOnce();
        if (!stored.woken) wakeFanOut = stored.topics;
        return;
      }
      await this.db.transaction(async (manager) => {
        const sql = sqlOfManager(manager);
        const created = await store(sql);
        if ((await sendEventJobs(this.boss, sql, created)) > 0) wakeFanOut = fanOutTopicsOf(created.map((e) => e.type));
      });
    });
    for (const topic of wakeFanOut) this.wake(topic);
    return results;
  }

  /**
   * Checks items and stores the accepted ones through `run`, which opens
   * the transaction (or is given one) and hands the stored events on. The
   * fan-out uses it too, for events sent straight into the queue, so that
   * those are checked exactly as a publish is. `run` may instead call
   * `storeAtOnce`, given when no item has an idempotency or ordering key
   * and this process has pipelined connections:
   * it stores the events and queues their jobs in one transaction sent at
   * once, maybe with other publishes of the same publisher (PublishGroups),
   * and answers the wake-up topics of the queues it put events in and
   * whether it woke their fan-out.
   */
  async acceptItems(
    scope: Publisher,
    inputs: readonly PublishInput[],
    pathsOf: (index: number) => ItemPaths,
    run: (store: (sql: Sql) => Promise<EventEntity[]>, storeAtOnce: (() => Promise<StoredAtOnce>) | null) => Promise<void>,
  ): Promise<ItemResult[]> {
    const results: Array<ItemResult | undefined> = new Array(inputs.length);
    const types = await this.catalog.getEventTypes(
      scope,
      inputs.map((i) => i.type),
    );
    const checked: CheckedItem[] = [];
    let batchBytes = 0;
    // Tenant schemas are checked off the main thread (see the catalog), so the items are checked concurrently.
    const outcomes = await Promise.all(inputs.map((input, index) => this.check(input, index, pathsOf(index), types, scope.system === true)));
    outcomes.forEach((outcome, index) => {
      if ('error' in outcome) {
        results[index] = refused(index, outcome.error);
      } else {
        batchBytes += Buffer.byteLength(outcome.json, 'utf8');
        checked.push(outcome);
      }
    });
    if (batchBytes > MAX_BATCH_DATA_BYTES) {
      throw InputError.field('inputs', `the events' data is ${batchBytes} bytes in all; one call may carry at most ${MAX_BATCH_DATA_BYTES} bytes`);
    }

    // One key twice in the batch: the first occurrence is stored, a repeat of
    // it is its duplicate, and the key with another type or data is refused.
    const leaders = new Map<string, CheckedItem>();
    const followers: Array<{ item: CheckedItem; leader: CheckedItem }> = [];
    const toStore: CheckedItem[] = [];
    for (const item of checked) {
      const leader = item.key === null ? undefined : leaders.get(item.key);
      if (leader === undefined) {
        if (item.key !== null) leaders.set(item.key, item);
        toStore.push(item);
      } else if (leader.hash === item.hash) {
        followers.push({ item, leader });
      } else {
        results[item.index] = refused(item.index, itemError('IDEMPOTENCY_KEY_REUSED', KEY_REUSED_MESSAGE, item.paths.idempotencyKey));
      }
    }

    if (toStore.length > 0) {
      const keep = (stored: Map<CheckedItem, ItemResult>): EventEntity[] => {
        for (const [item, result] of stored) results[item.index] = result;
        return [...stored.values()].filter((r) => r.error === null && !r.duplicate).map((r) => r.event!);
      };
      // Without keys nothing depends on what is already stored: every item is a new event, with no sequence.
      const independent = toStore.every((item) => item.key === null && item.orderingKey === null);
      const groups = this.groups;
      await run(
        async (sql) => keep(await this.store(sql, scope, toStore)),
        independent && groups
          ? async () => {
              const { results: stored, extra } = await groups.store(scope, toStore);
              return { topics: fanOutTopicsOf(keep(stored).map((event) => event.type)), woken: extra.woken };
            }
          : null,
      );
    }
    for (const { item, leader } of followers) {
      const first = results[leader.index]!;
      // A repeat of a refused item is refused alike, under its own path.
      results[item.index] = first.error
        ? refused(item.index, itemError(first.error.code, first.error.message, item.paths.idempotencyKey))
        : { index: item.index, event: first.event, duplicate: true, error: null };
    }
    return results as ItemResult[];
  }

  /** The checks that need no database beyond the catalog: key, type, size, JSON Schema. */
  private async check(
    input: PublishInput,
    index: number,
    paths: ItemPaths,
    types: ReadonlyMap<string, EventTypeEntity>,
    system: boolean,
  ): Promise<CheckedItem | { error: ItemError }> {
    const key = input.idempotencyKey ?? null;
    if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      return { error: itemError('BAD_USER_INPUT', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, paths.idempotencyKey) };
    }
    const orderingKey = input.orderingKey ?? null;
    if (orderingKey !== null && (typeof orderingKey !== 'string' || orderingKey.length === 0 || orderingKey.length > MAX_ORDERING_KEY_LENGTH)) {
      return { error: itemError('BAD_USER_INPUT', `must be 1 to ${MAX_ORDERING_KEY_LENGTH} characters`, paths.orderingKey) };
    }
    // The key travels as the hookline-ordering-key header, whose value must be plain visible text.
    if (orderingKey !== null && !ORDERING_KEY_PATTERN.test(orderingKey)) {
      return { error: itemError('BAD_USER_INPUT', 'must be printable ASCII (letters, digits, punctuation and spaces)', paths.orderingKey) };
    }
    const eventType = types.get(input.type);
    if (!eventType) {
      return {
        error: itemError('UNKNOWN_EVENT_TYPE', `Unknown event type "${input.type}"; query eventNames for the catalog`, paths.type, {
          type: input.type,
        }),
      };
    }
    if (channelOf(eventType.name) === OPERATIONS_CHANNEL && !system) {
      return {
        error: itemError('BAD_USER_INPUT', 'operations events are published by Hookline itself, about your endpoints', paths.type ?? paths.data),
      };
    }
    if (input.data === undefined || input.data === null) return { error: itemError('BAD_USER_INPUT', 'is required', paths.data) };
    const json = JSON.stringify(input.data);
    const size = Buffer.byteLength(json, 'utf8');
    if (size > MAX_EVENT_DATA_BYTES) {
      return {
        error: itemError('PAYLOAD_TOO_LARGE', `Event data is ${size} bytes; the limit is ${MAX_EVENT_DATA_BYTES} bytes`, paths.data, {
          size,
          limit: MAX_EVENT_DATA_BYTES,
        }),
      };
    }
    let problems: FieldError[];
    try {
      problems = await this.catalog.validateEventData(eventType, input.data);
    } catch (error) {
      // A tenant schema that could not be checked in time refuses this item alone.
      if (error instanceof InputError) return { error: itemError('BAD_USER_INPUT', error.fields[0]?.message ?? error.message, paths.data) };
      throw error;
    }
    if (problems.length) {
      const fields = problems.map((p) => ({ ...p, field: p.field.replace(/^data/, paths.data) }));
      return {
        error: {
          code: 'BAD_USER_INPUT',
          message: fields.map((f) => `${f.field}: ${f.message}`).join('; '),
          field: fields[0]!.field,
          fields,
          extensions: {},
        },
      };
    }
    return {
      index,
      paths,
      type: eventType.name,
      json,
      key,
      hash: key === null ? null : idempotencyHash(eventType.name, input.data),
      orderingKey,
    };
  }

  /**
   * Inserts the items in one statement; an item whose key is already taken
   * (by an earlier call, or by a racing one that committed first) is answered
   * with that event when it is the same type and data, and refused otherwise.
   * New events with an ordering key get their sequence.
   */
  private async store(sql: Sql, scope: Publisher, items: CheckedItem[]): Promise<Map<CheckedItem, ItemResult>> {
    const ordered = [...items].sort((x, y) => (x.key === y.key ? 0 : x.key === null ? 1 : y.key === null ? -1 : x.key < y.key ? -1 : 1));
    const ids = ordered.map(() => newId());
    const rows = await sql.query(this.insertSql, this.insertValues(scope, ordered, ids));
    // Thrown inside the transaction, so that nothing of the call is kept.
    if (rows[0]?.caller_live !== true) throw new AppError('UNAUTHENTICATED', 'The API key is missing, unknown or revoked');
    const { results, taken } = this.readInserted(rows, ordered, ids);
    // Numbered in input order, which is the order of item.index.
    const keyed = items.flatMap((item) => {
      const result = results.get(item);
      return result?.event && item.orderingKey !== null ? [{ event: result.event, orderingKey: item.orderingKey }] : [];
    });
    if (keyed.length > 0) await this.assignSequences(sql, scope, keyed);
    if (taken.length === 0) return results;

    const existing = (await sql.query(this.byKeysSql, [scope.accountId, scope.environment, taken.map((i) => i.key)])).map((row) =>
      this.eventColumns.read(row),
    );
    const byKey = new Map(existing.map((event) => [event.idempotencyKey!, event]));
    for (const item of taken) {
      const first = byKey.get(item.key!);
      if (!first) throw new Error('an idempotency key conflicted but its event cannot be read');
      // Events stored before hashes were kept are compared by their type and data.
      const firstHash = first.idempotencyHash ?? idempotencyHash(first.type, first.data);
      results.set(
        item,
        firstHash === item.hash
          ? { index: item.index, event: first, duplicate: true, error: null }
          : refused(item.index, itemError('IDEMPOTENCY_KEY_REUSED', KEY_REUSED_MESSAGE, item.paths.idempotencyKey)),
      );
    }
    return results;
  }

  /**
   * store() for items without keys, with their jobs, in one transaction sent
   * at once (see transactionAtOnce): START TRANSACTION, the event insert,
   * pg-boss's job insert, COMMIT. The jobs are written before the insert has
   * answered, so pg-boss's statement is given only the events that the
   * insert stored (onlyJobsOfStoredEvents): when the key turns out to be
   * revoked, the insert stores nothing and neither does it. The NOTIFY that
   * wakes the fan-out follows the COMMIT in the same write, unless another
   * publish's is on its way: then the wake sender folds this one with the
   * others (see publishItems), as it did before.
   */
  private async storeAtOnce(
    pool: pg.Pool,
    scope: Publisher,
    items: readonly CheckedItem[],
  ): Promise<{ results: Map<CheckedItem, ItemResult>; woken: boolean }> {
    const ids = items.map(() => newId());
    const jobs: Statement[] = [];
    // pg-boss builds its insert as for any transaction of ours; it is sent below, after the events'.
    const capture: Sql = {
      query: () => Promise.reject(new Error('only job inserts are captured')),
      boss: {
        executeSql: async (text, values) => {
          jobs.push({ text: onlyJobsOfStoredEvents(text), values });
          return { rows: [] };
        },
      },
    };
    await sendEventJobs(
      this.boss,
      capture,
      items.map((item, i) => ({ id: ids[i]!, type: item.type })),
    );
    const wakeUp = !this.wakeUpRiding;
    if (wakeUp) this.wakeUpRiding = true;
    let sent: AtOnceResult;
    try {
      sent = await transactionAtOnce(
        pool,
        [{ text: this.insertSql, values: this.insertValues(scope, items, ids) }, ...jobs],
        wakeUp ? [wakeStatement(fanOutTopicsOf(items.map((item) => item.type)))] : [],
      );
    } finally {
      if (wakeUp) this.wakeUpRiding = false;
    }
    const rows = sent.results[0]!.rows as Array<Record<string, unknown>>;
    if (rows[0]?.caller_live !== true) throw new AppError('UNAUTHENTICATED', 'The API key is missing, unknown or revoked');
    const { results, taken } = this.readInserted(rows, items, ids);
    if (taken.length > 0) throw new Error('an event without an idempotency key was not stored');
    return { results, woken: sent.afterCommit[0] === true };
  }

  /** The parameters of insertSql for items in the order given, with their new ids. */
  private insertValues(scope: Publisher, ordered: readonly CheckedItem[], ids: readonly string[]): unknown[] {
    return [
      scope.accountId,
      scope.environment,
      ids,
      ordered.map((i) => i.type),
      ordered.map((i) => i.json),
      ordered.map((i) => i.key),
      ordered.map((i) => i.hash),
      scope.apiKeyId,
      ordered.map((i) => i.orderingKey),
    ];
  }

  /** The items that insertSql stored, as results, and those whose idempotency key was taken. */
  private readInserted(
    rows: ReadonlyArray<Record<string, unknown>>,
    ordered: readonly CheckedItem[],
    ids: readonly string[],
  ): { results: Map<CheckedItem, ItemResult>; taken: CheckedItem[] } {
    const inserted = new Map(
      rows
        .filter((row) => row.e_id !== null)
        .map((row) => this.eventColumns.read(row))
        .map((event) => [event.id, event]),
    );
    const results = new Map<CheckedItem, ItemResult>();
    const taken: CheckedItem[] = [];
    ordered.forEach((item, i) => {
      const event = inserted.get(ids[i]!);
      if (event) results.set(item, { index: item.index, event, duplicate: false, error: null });
      else taken.push(item);
    });
    return { results, taken };
  }

  private async assignSequences(sql: Sql, scope: Scope, keyed: ReadonlyArray<{ event: EventEntity; orderingKey: string }>): Promise<void> {
    const seen = new Map<string, number>();
    const ranks = keyed.map(({ orderingKey }) => {
      const rank = (seen.get(orderingKey) ?? 0) + 1;
      seen.set(orderingKey, rank);
      return rank;
    });
    const rows = await sql.query<{ id: string; sequence: number }>(this.sequenceSql, [
      scope.accountId,
      scope.environment,
      keyed.map((k) => k.orderingKey),
      keyed.map((k) => k.event.id),
      ranks,
    ]);
    const sequences = new Map(rows.map((r) => [r.id, r.sequence]));
    for (const { event } of keyed) event.sequence = sequences.get(event.id) ?? null;
  }

  async get(scope: Scope, id: string): Promise<EventEntity> {
    const event = isUuid(id)
      ? await this.db.getRepository(EventEntity).findOneBy({ id, accountId: scope.accountId, environment: scope.environment })
      : null;
    if (!event) throw new NotFoundError('Event', id);
    return event;
  }

  /** The events of the scope among ids (others, and ids that are not UUIDs, are left out), in no particular order. */
  async getMany(scope: Scope, ids: readonly string[]): Promise<EventEntity[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return this.db.getRepository(EventEntity).findBy({ id: In(valid), accountId: scope.accountId, environment: scope.environment });
  }

  /** Newest first, keyset-paginated on the time-ordered id. */
  async list(scope: Scope, filter: EventFilter, first: number, after?: string | null): Promise<Page<EventEntity>> {
    const query = this.db
      .getRepository(EventEntity)
      .createQueryBuilder('e')
      .where('e.account_id = :accountId AND e.environment = :environment', scope);
    if (filter.type) query.andWhere('e.type = :type', { type: filter.type });
    if (filter.since) query.andWhere('e.created_at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('e.created_at < :until', { until: filter.until });
    return keysetPage(query, 'e', first, after);
  }
}
