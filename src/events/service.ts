import type { DataSource } from 'typeorm';
import type { CatalogService } from '../catalog/service.js';
import { EventEntity } from '../db/entities/index.js';
import { entityColumns, type EntityColumns } from '../db/row-mapping.js';
import type { Scope } from '../domain.js';
import { AppError, InputError, NotFoundError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import type { DeliveryService } from '../deliveries/service.js';
import { keysetPage, type Page } from '../pagination.js';

export const MAX_EVENT_DATA_BYTES = 256 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export interface PublishInput {
  type: string;
  data: unknown;
  idempotencyKey?: string | null;
}

export interface PublishResult {
  event: EventEntity;
  /** The key was seen before: this is the first event, and nothing new was queued. */
  duplicate: boolean;
}

export interface EventFilter {
  type?: string | null;
  since?: Date | null;
  until?: Date | null;
}

export class EventService {
  /** The stored event comes back from its INSERT, not from another read. */
  private readonly eventColumns: EntityColumns<EventEntity>;

  constructor(
    private readonly db: DataSource,
    private readonly catalog: CatalogService,
    private readonly deliveries: DeliveryService,
  ) {
    this.eventColumns = entityColumns(db, EventEntity, 'e');
  }

  /**
   * Checks the event against the catalog, then stores it, its deliveries and
   * their jobs in one transaction: it answers only after commit, so an
   * accepted event is durable and always has its deliveries queued (the
   * outbox property).
   */
  async publish(scope: Scope, input: PublishInput, dataField = 'input.data'): Promise<PublishResult> {
    const idempotencyKey = input.idempotencyKey ?? null;
    if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw InputError.field('input.idempotencyKey', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    const eventType = await this.catalog.getEventType(scope, input.type);
    if (!eventType) {
      throw new AppError('UNKNOWN_EVENT_TYPE', `Unknown event type "${input.type}"; query eventNames for the catalog`, {
        type: input.type,
      });
    }
    if (input.data === undefined || input.data === null) throw InputError.field(dataField, 'is required');
    const size = Buffer.byteLength(JSON.stringify(input.data), 'utf8');
    if (size > MAX_EVENT_DATA_BYTES) {
      throw new AppError('PAYLOAD_TOO_LARGE', `Event data is ${size} bytes; the limit is ${MAX_EVENT_DATA_BYTES} bytes`, {
        size,
        limit: MAX_EVENT_DATA_BYTES,
      });
    }
    const problems = await this.catalog.validateEventData(eventType, input.data);
    if (problems.length) {
      throw new InputError(problems.map((p) => ({ ...p, field: p.field.replace(/^data/, dataField) })));
    }

    return this.deliveries.transaction(async (manager) => {
      const id = newId();
      // ON CONFLICT makes two racing requests with one key agree: the second
      // waits for the first to commit, inserts nothing and reads its row.
      const inserted = (await manager.query(
        `INSERT INTO events AS e (id, account_id, environment, type, data, idempotency_key)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6)
         ON CONFLICT (account_id, environment, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING ${this.eventColumns.select}`,
        [id, scope.accountId, scope.environment, eventType.name, JSON.stringify(input.data), idempotencyKey],
      )) as Array<Record<string, unknown>>;
      if (inserted.length === 0) {
        const first = await manager.findOneByOrFail(EventEntity, {
          accountId: scope.accountId,
          environment: scope.environment,
          idempotencyKey: idempotencyKey!,
        });
        return { event: first, duplicate: true };
      }
      const event = this.eventColumns.read(inserted[0]!);
      await this.deliveries.fanOutInTransaction(manager, event);
      return { event, duplicate: false };
    });
  }

  async get(scope: Scope, id: string): Promise<EventEntity> {
    const event = isUuid(id)
      ? await this.db.getRepository(EventEntity).findOneBy({ id, accountId: scope.accountId, environment: scope.environment })
      : null;
    if (!event) throw new NotFoundError('Event', id);
    return event;
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
