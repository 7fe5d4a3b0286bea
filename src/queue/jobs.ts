/**
 * Queue names and job payloads. Jobs carry ids only: never event data,
 * secrets or URLs, which the workers reload from their rows.
 */
export const QUEUES = {
  fanout: 'fanout',
  deliver: 'deliver',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Queued by earlier versions at publish time; publishing now fans out in its own transaction. */
export interface FanoutJob {
  eventId: string;
}

export interface DeliverJob {
  deliveryId: string;
  /**
   * Set when the job was postponed to a send slot of a rate-limited
   * subscription: the slot is already reserved, so the job sends at once.
   */
  reservedSlot?: string;
}
