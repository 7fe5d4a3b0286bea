import { channelOf } from '../catalog/rules.js';
import { Environment } from '../domain.js';

/**
 * Queue names and the jobs they carry. Published events travel through
 * pg-boss: a publish commits its events together with their jobs, and the
 * fan-out workers take them from there (src/fanout/). The `ledgers` channel,
 * whose bursts can be large, has a queue of its own, so that neither waits
 * behind the other. Deliveries are not queue jobs: the deliveries table is
 * their queue (src/delivery-engine/).
 */
export const QUEUES = {
  /** Events of every channel but `ledgers`. */
  events: 'hookline.events',
  /** Events of the exclusive, high-volume `ledgers` channel. */
  ledgerEvents: 'hookline.events.ledgers',
  /** Events that could not be fanned out, with their reasons; nobody works this queue. */
  deadLetters: 'hookline.events.dead-letters',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** The queues whose jobs are events to fan out. */
export const EVENT_QUEUES = [QUEUES.events, QUEUES.ledgerEvents] as const;
export type EventQueueName = (typeof EVENT_QUEUES)[number];

/** Queues of earlier versions, whose jobs the deliveries table has replaced; removed at start. */
export const LEGACY_QUEUES = ['fanout', 'deliver'] as const;

/** How often the maintenance job (the retention purge) runs, as a cron expression. */
export const MAINTENANCE_CRON = '* * * * *';

/** The version of the event job format; a worker refuses a version it does not know. */
export const EVENT_JOB_VERSION = 1;

/** The ledger channel's events go to their own queue. */
export function eventQueueFor(type: string): EventQueueName {
  return channelOf(type) === 'ledgers' ? QUEUES.ledgerEvents : QUEUES.events;
}

/** Hookline's own API stored the event (checked, with its sequence) before queueing it. */
export interface StoredEventJob {
  version: typeof EVENT_JOB_VERSION;
  eventId: string;
  /** Times the fan-out sent it back to wait for an earlier event of its ordering key. */
  deferrals?: number;
}

/**
 * An event sent straight into the queue by a service that shares the
 * database, inside its own transaction; the fan-out worker checks it as
 * publishEvent would before storing it. This is the documented, versioned
 * format (docs/api.md, Publishing from another service).
 */
export interface PublishEventJob {
  version: typeof EVENT_JOB_VERSION;
  accountId: string;
  environment: Environment;
  type: string;
  data: unknown;
  idempotencyKey?: string | null;
  orderingKey?: string | null;
}

/** Why an event was not fanned out, as the dead-letter queue keeps it. */
export interface DeadLetterReason {
  code: string;
  message: string;
  field?: string | null;
}

/** A dead-lettered event that was refused: the job as it arrived, with its reason and its queue. */
export interface RefusedEventLetter {
  version: typeof EVENT_JOB_VERSION;
  queue: EventQueueName;
  reason: DeadLetterReason;
  job: unknown;
}
