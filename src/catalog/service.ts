import type { DataSource, EntityManager } from 'typeorm';
import { EventChannelEntity, EventTypeEntity } from '../db/entities/index.js';
import type { Scope } from '../domain.js';
import { AUDIT_ACTIONS, fieldChanges, type AuditActor } from '../audit/actions.js';
import type { AuditService } from '../audit/service.js';
import { AppError, InputError, type FieldError } from '../errors.js';
import { newId } from '../ids.js';
import { MAX_EVENT_NAME_LENGTH } from '../limits.js';
import { JsonSchemaValidator } from './json-schema.js';
import { SchemaChecker, SchemaCheckTimeout } from './schema-checker.js';
import { EVENT_NAME_PATTERN, actionOf, channelOf } from './rules.js';

export const MAX_EVENT_DESCRIPTION_LENGTH = 500;
export const MAX_EXAMPLE_BYTES = 64 * 1024;

/** A channel as the catalog shows it to one account. */
export interface ChannelView {
  name: string;
  label: string;
  actions: string[];
  exclusive: boolean;
}

/** The channel and event names one account may subscribe to. */
export interface Vocabulary {
  channels: Map<string, { exclusive: boolean }>;
  eventNames: Set<string>;
}

export interface DefineEventTypeFields {
  name: string;
  description: string;
  schema?: unknown;
  example?: unknown;
}

/** Built-in rows have no account; a key sees them and its account's own of its environment. */
const VISIBLE = '(x.account_id IS NULL OR (x.account_id = :accountId AND x.environment = :environment))';

/**
 * The event catalog: the built-in channels and event types (migrated data)
 * and each account's own (defineEventType), which belong to the environment
 * they were defined in, like the rest of an account's data: a schema tried
 * out in STAGING does not change what PRODUCTION accepts.
 */
export interface CatalogLimits {
  /** Own event types per account and environment. */
  maxEventTypes: number;
  /** CPU time a check against an account's own schema may take. */
  schemaCheckMs: number;
}

export const DEFAULT_CATALOG_LIMITS: CatalogLimits = { maxEventTypes: 200, schemaCheckMs: 2_000 };

export class CatalogService {
  /** Built-in schemas are Hookline's own: checked on the event loop, at no cost of a thread hop. */
  private readonly builtinSchemas = new JsonSchemaValidator(100);
  /** Accounts' own schemas are untrusted: compiled and applied in worker threads, with a deadline. */
  private readonly tenantSchemas: SchemaChecker;
  private builtinExclusive: Promise<ReadonlySet<string>> | undefined;
  private builtinTypesByName: Promise<ReadonlyMap<string, EventTypeEntity>> | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly limits: CatalogLimits = DEFAULT_CATALOG_LIMITS,
  ) {
    this.tenantSchemas = new SchemaChecker({ deadlineMs: limits.schemaCheckMs });
  }

  /** Ends the schema check threads. */
  async stop(): Promise<void> {
    await this.tenantSchemas.close();
  }

  async listChannels(scope: Scope): Promise<ChannelView[]> {
    const [channels, types] = await Promise.all([this.visibleChannels(scope), this.listEventTypes(scope)]);
    const actions = new Map<string, string[]>();
    for (const type of types) actions.set(type.channel, [...(actions.get(type.channel) ?? []), type.action]);
    return channels.map((c) => ({ name: c.name, label: c.label, exclusive: c.exclusive, actions: actions.get(c.name) ?? [] }));
  }

  /** Built-in and own event types, optionally of one channel, in catalog order. */
  async listEventTypes(scope: Scope, channel?: string | null): Promise<EventTypeEntity[]> {
    const query = this.db
      .getRepository(EventTypeEntity)
      .createQueryBuilder('x')
      .where(VISIBLE, { accountId: scope.accountId, environment: scope.environment })
      .orderBy('x.id', 'ASC');
    if (channel !== undefined && channel !== null) query.andWhere('x.channel = :channel', { channel });
    return dedupeByName(await query.getMany());
  }

  async eventNames(scope: Scope): Promise<string[]> {
    return (await this.listEventTypes(scope)).map((t) => t.name);
  }

  /**
   * The event type of that name that the account may publish: its own or a
   * built-in one. Should both exist (a later release adding a built-in type
   * an account had defined), the built-in one wins: typed mutations and
   * receivers rely on its schema.
   */
  async getEventType(scope: Scope, name: string): Promise<EventTypeEntity | null> {
    const builtin = (await this.builtinTypes()).get(name);
    if (builtin) return builtin;
    return this.db
      .getRepository(EventTypeEntity)
      .createQueryBuilder('x')
      .where('x.account_id = :accountId AND x.environment = :environment', { accountId: scope.accountId, environment: scope.environment })
      .andWhere('x.name = :name', { name })
      .getOne();
  }

  /**
   * The event types of these names that the account may publish, by name, as
   * getEventType resolves each: a batch of events looks its types up once,
   * built-in ones from memory and the account's own in one statement.
   */
  async getEventTypes(scope: Scope, names: Iterable<string>): Promise<Map<string, EventTypeEntity>> {
    const builtin = await this.builtinTypes();
    const found = new Map<string, EventTypeEntity>();
    const own: string[] = [];
    for (const name of new Set(names)) {
      const type = builtin.get(name);
      if (type) found.set(name, type);
      else own.push(name);
    }
    if (own.length > 0) {
      const rows = await this.db
        .getRepository(EventTypeEntity)
        .createQueryBuilder('x')
        .where('x.account_id = :accountId AND x.environment = :environment', { accountId: scope.accountId, environment: scope.environment })
        .andWhere('x.name = ANY(:names)', { names: own })
        .getMany();
      for (const row of rows) found.set(row.name, row);
    }
    return found;
  }

  /**
   * Built-in event types by name. Built-in rows change only by migration,
   * so they are read once per process: every publish looks its type up.
   */
  private async builtinTypes(): Promise<ReadonlyMap<string, EventTypeEntity>> {
    this.builtinTypesByName ??= this.db
      .getRepository(EventTypeEntity)
      .createQueryBuilder('x')
      .where('x.account_id IS NULL')
      .getMany()
      .then((rows) => new Map(rows.map((row) => [row.name, row])) as ReadonlyMap<string, EventTypeEntity>)
      .catch((error: unknown) => {
        this.builtinTypesByName = undefined;
        throw error;
      });
    return this.builtinTypesByName;
  }

  /** The data's problems under the type's JSON Schema, with paths like `data.amount`; empty when valid or schemaless. */
  async validateEventData(eventType: EventTypeEntity, data: unknown): Promise<FieldError[]> {
    if (!eventType.schema) return [];
    if (eventType.accountId === null) return this.builtinSchemas.validate(eventType.schema, data, 'data');
    return this.checked('input.data', () => this.tenantSchemas.validate(eventType.schema!, data, 'data', eventType.accountId!));
  }

  /** A tenant schema check, whose deadline becomes a BAD_USER_INPUT on the field. */
  private async checked<T>(field: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (error instanceof SchemaCheckTimeout) {
        throw InputError.field(field, `could not be checked against the schema within ${error.deadlineMs} ms; simplify the schema or the data`);
      }
      throw InputError.field(field, 'could not be checked against the schema (it needs too much memory); simplify the schema or the data');
    }
  }

  /**
   * Names of the exclusive channels. Only built-in channels can be exclusive
   * (defineEventType never makes one), and built-in rows change only by
   * migration, so the set is read once per process.
   */
  async exclusiveChannels(_scope: Scope): Promise<ReadonlySet<string>> {
    this.builtinExclusive ??= this.db
      .getRepository(EventChannelEntity)
      .createQueryBuilder('c')
      .select('c.name', 'name')
      .where('c.account_id IS NULL AND c.exclusive')
      .getRawMany<{ name: string }>()
      .then((rows) => new Set(rows.map((r) => r.name)) as ReadonlySet<string>)
      .catch((error: unknown) => {
        this.builtinExclusive = undefined;
        throw error;
      });
    return this.builtinExclusive;
  }

  /** The channels and event names the account may subscribe to. */
  async vocabulary(scope: Scope): Promise<Vocabulary> {
    const [channels, names] = await Promise.all([this.visibleChannels(scope), this.eventNames(scope)]);
    return {
      channels: new Map(channels.map((c) => [c.name, { exclusive: c.exclusive }])),
      eventNames: new Set(names),
    };
  }

  /**
   * Adds an event type of the account's own, or replaces its description,
   * schema and example when the account defined it before. The channel is
   * created for the account when neither a built-in nor an own channel has
   * that name. Built-in types cannot be redefined.
   */
  async defineEventType(scope: Scope, actor: AuditActor, fields: DefineEventTypeFields): Promise<EventTypeEntity> {
    const name = fields.name.trim();
    const description = fields.description.trim();
    const problems: FieldError[] = [];
    if (!EVENT_NAME_PATTERN.test(name)) {
      problems.push({ field: 'input.name', message: 'must be channel.action in lowercase snake case, e.g. purchase_orders.approved' });
    } else if (name.length > MAX_EVENT_NAME_LENGTH) {
      problems.push({ field: 'input.name', message: `must be at most ${MAX_EVENT_NAME_LENGTH} characters` });
    }
    if (description.length === 0) problems.push({ field: 'input.description', message: 'must not be empty' });
    if (description.length > MAX_EVENT_DESCRIPTION_LENGTH) {
      problems.push({ field: 'input.description', message: `must be at most ${MAX_EVENT_DESCRIPTION_LENGTH} characters` });
    }
    const schema = fields.schema ?? null;
    const example = fields.example ?? null;
    const schemaProblems =
      schema === null ? [] : await this.checked('input.schema', () => this.tenantSchemas.schemaProblems(schema, scope.accountId));
    problems.push(...schemaProblems.map((message) => ({ field: 'input.schema', message })));
    if (example !== null && Buffer.byteLength(JSON.stringify(example)) > MAX_EXAMPLE_BYTES) {
      problems.push({ field: 'input.example', message: `must be at most ${MAX_EXAMPLE_BYTES} bytes of JSON` });
    } else if (example !== null && schema !== null && schemaProblems.length === 0) {
      problems.push(
        ...(await this.checked('input.example', () => this.tenantSchemas.validate(schema as object, example, 'input.example', scope.accountId))),
      );
    }
    if (problems.length) throw new InputError(problems);

    const channel = channelOf(name);
    return this.db.transaction(async (manager) => {
      const builtin = await manager
        .getRepository(EventTypeEntity)
        .createQueryBuilder('x')
        .where('x.account_id IS NULL AND x.name = :name', { name })
        .getExists();
      if (builtin) throw InputError.field('input.name', `${name} is a built-in event type and cannot be redefined`);
      await this.checkEventTypeQuota(manager, scope, name);

      const builtinChannel = await manager
        .getRepository(EventChannelEntity)
        .createQueryBuilder('c')
        .where('c.account_id IS NULL AND c.name = :channel', { channel })
        .getExists();
      if (!builtinChannel) {
        await manager.query(
          `INSERT INTO event_channels (id, account_id, environment, name, label) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id, environment, name) WHERE account_id IS NOT NULL DO NOTHING`,
          [newId(), scope.accountId, scope.environment, channel, labelOf(channel)],
        );
      }
      // The earlier definition comes back from the same statement, for the audit entry.
      const [row] = (await manager.query(
        `WITH earlier AS (
           SELECT description, schema, example FROM event_types WHERE account_id = $2 AND environment = $3 AND name = $4
         )
         INSERT INTO event_types (id, account_id, environment, name, channel, action, description, schema, example)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
         ON CONFLICT (account_id, environment, name) WHERE account_id IS NOT NULL
         DO UPDATE SET description = EXCLUDED.description, schema = EXCLUDED.schema, example = EXCLUDED.example
         RETURNING id, (SELECT row_to_json(earlier) FROM earlier) AS before`,
        [
          newId(),
          scope.accountId,
          scope.environment,
          name,
          channel,
          actionOf(name),
          description,
          schema === null ? null : JSON.stringify(schema),
          example === null ? null : JSON.stringify(example),
        ],
      )) as Array<{ id: string; before: Pick<EventTypeEntity, 'description' | 'schema' | 'example'> | null }>;
      const defined = await manager.findOneByOrFail(EventTypeEntity, { id: row!.id });
      const before = row!.before;
      await this.audit.record(manager, scope, actor, {
        action: AUDIT_ACTIONS.eventTypeDefined,
        targetType: 'event_type',
        targetId: defined.name,
        changes: fieldChanges(before, defined, ['description', 'schema', 'example']),
      });
      return defined;
    });
  }

  /**
   * A new own event type must fit the account's quota in this environment;
   * redefining one it has does not count. The lock serialises the count
   * and the insert of one account and environment, so that parallel
   * requests cannot pass the quota together.
   */
  private async checkEventTypeQuota(manager: EntityManager, scope: Scope, name: string): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`hookline.event-types:${scope.accountId}:${scope.environment}`]);
    const [row] = (await manager.query(
      `SELECT count(*)::int AS total, bool_or(name = $3) AS exists FROM event_types WHERE account_id = $1 AND environment = $2`,
      [scope.accountId, scope.environment, name],
    )) as Array<{ total: number; exists: boolean | null }>;
    if (row!.exists || row!.total < this.limits.maxEventTypes) return;
    throw new AppError(
      'QUOTA_EXCEEDED',
      `The account has ${row!.total} event types of its own in ${scope.environment}, its quota (${this.limits.maxEventTypes}); redefine an existing one or ask the operator for a larger quota`,
      { quota: 'eventTypes', limit: this.limits.maxEventTypes },
    );
  }

  private async visibleChannels(scope: Scope): Promise<EventChannelEntity[]> {
    const rows = await this.db
      .getRepository(EventChannelEntity)
      .createQueryBuilder('x')
      .where(VISIBLE, { accountId: scope.accountId, environment: scope.environment })
      .orderBy('x.account_id', 'ASC', 'NULLS FIRST')
      .addOrderBy('x.id', 'ASC')
      .getMany();
    return dedupeByName(rows);
  }
}

/** An own row named like a built-in one (possible only when a release adds that built-in) is hidden by it. */
function dedupeByName<T extends { name: string; accountId: string | null }>(rows: T[]): T[] {
  const builtin = new Set(rows.filter((r) => r.accountId === null).map((r) => r.name));
  return rows.filter((r) => r.accountId === null || !builtin.has(r.name));
}

/** purchase_orders → Purchase orders */
function labelOf(channel: string): string {
  const words = channel.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
