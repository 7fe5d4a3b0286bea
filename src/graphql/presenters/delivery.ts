import type { DeliveryAttemptEntity, DeliveryEntity } from '../../db/entities/index.js';
import type { BlockedOrderingKey as BlockedOrderingKeyView, DeliveryStats as DeliveryStatsView } from '../../deliveries/service.js';
import { BlockedOrderingKey } from '../types/subscription.js';
import type { StatsBucket } from '../../deliveries/stats-series.js';
import { DeliveryAttempt } from '../types/attempt.js';
import { Delivery } from '../types/delivery.js';
import { DeliveryStatsBucket } from '../types/series.js';
import { DeliveryStats } from '../types/stats.js';

/** `event`, `subscription` and `attempts` are resolved by field resolvers from the ids copied here. */
export function presentDelivery(entity: DeliveryEntity): Delivery {
  return Object.assign(new Delivery(), {
    id: entity.id,
    status: entity.status,
    sequence: entity.sequence,
    attemptCount: entity.attemptCount,
    // While a delivery is queued its next attempt is due; settled ones have none.
    nextAttemptAt: entity.nextAttemptAt,
    lastAttemptAt: entity.lastAttemptAt,
    createdAt: entity.createdAt,
    eventId: entity.eventId,
    subscriptionId: entity.subscriptionId,
  });
}

export function presentDeliveryAttempt(entity: DeliveryAttemptEntity): DeliveryAttempt {
  return Object.assign(new DeliveryAttempt(), {
    id: entity.id,
    number: entity.number,
    startedAt: entity.startedAt,
    durationMs: entity.durationMs,
    responseStatus: entity.responseStatus,
    responseBody: entity.responseBody,
    error: entity.error,
    succeeded: entity.succeeded,
  });
}

export function presentDeliveryStats(stats: DeliveryStatsView): DeliveryStats {
  return Object.assign(new DeliveryStats(), {
    total: stats.total,
    succeeded: stats.succeeded,
    failed: stats.failed,
    pending: stats.pending,
    successRate: stats.successRate,
    latencyP50Ms: stats.latencyP50Ms,
    latencyP95Ms: stats.latencyP95Ms,
    lastSuccessAt: stats.lastSuccessAt,
    lastFailureAt: stats.lastFailureAt,
  });
}

export function presentStatsBucket(bucket: StatsBucket): DeliveryStatsBucket {
  return Object.assign(new DeliveryStatsBucket(), {
    start: bucket.start,
    succeeded: bucket.succeeded,
    failed: bucket.failed,
    pending: bucket.pending,
    cancelled: bucket.cancelled,
    attempts: bucket.attempts,
    failedAttempts: bucket.failedAttempts,
    latencyP50Ms: bucket.latencyP50Ms,
    latencyP95Ms: bucket.latencyP95Ms,
  });
}

export function presentBlockedOrderingKey(view: BlockedOrderingKeyView): BlockedOrderingKey {
  return Object.assign(new BlockedOrderingKey(), view);
}
