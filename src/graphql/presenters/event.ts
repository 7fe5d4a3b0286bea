import type { EventEntity } from '../../db/entities/index.js';
import type { ItemResult, PublishResult } from '../../events/service.js';
import { Event } from '../types/event.js';
import { PublishError, PublishEventResult, PublishEventsResult, PublishedEvent } from '../types/publish.js';

/** `deliveries` is resolved by a field resolver from the id. */
export function presentEvent(entity: EventEntity): Event {
  return Object.assign(new Event(), {
    id: entity.id,
    type: entity.type,
    environment: entity.environment,
    idempotencyKey: entity.idempotencyKey,
    orderingKey: entity.orderingKey,
    sequence: entity.sequence,
    data: entity.data,
    createdAt: entity.createdAt,
  });
}

export function presentPublishedEvent(result: PublishResult): PublishedEvent {
  return Object.assign(new PublishedEvent(), { event: presentEvent(result.event), duplicate: result.duplicate });
}

export function presentPublishEventResult(result: ItemResult): PublishEventResult {
  return Object.assign(new PublishEventResult(), {
    index: result.index,
    event: result.event && presentEvent(result.event),
    duplicate: result.duplicate,
    error: result.error && Object.assign(new PublishError(), { code: result.error.code, message: result.error.message, field: result.error.field }),
  });
}

/** Duplicates of earlier events count as accepted: only refused items carry an error. */
export function presentPublishEvents(results: readonly ItemResult[]): PublishEventsResult {
  return Object.assign(new PublishEventsResult(), {
    acceptedCount: results.filter((r) => r.error === null).length,
    results: results.map(presentPublishEventResult),
  });
}
