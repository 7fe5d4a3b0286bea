/**
 * Queue names and job payloads. Deliveries are not queue jobs: the
 * deliveries table is their queue (src/delivery-engine/engine.ts). pg-boss carries
 * scheduled maintenance.
 */
export const QUEUES = {
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Queues of earlier versions, whose jobs the deliveries table has replaced; removed at start. */
export const LEGACY_QUEUES = ['fanout', 'deliver'] as const;

/** How often the maintenance job (the retention purge) runs, as a cron expression. */
export const MAINTENANCE_CRON = '* * * * *';
