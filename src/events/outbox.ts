import type { PgBoss } from 'pg-boss';
import type { EventEntity } from '../db/entities/index.js';
import type { Sql } from '../db/sql.js';
import { EVENT_JOB_VERSION, eventQueueFor, type StoredEventJob } from '../queue/jobs.js';

/**
 * Queues stored events for the fan-out workers in the caller's transaction
 * (the outbox property: an event and its job commit together): one insert
 * statement per queue that the events touch. Returns how many were queued.
 */
export async function sendEventJobs(
  boss: PgBoss,
  sql: Sql,
  events: readonly EventEntity[],
  options: { startAfter?: Date; deferrals?: ReadonlyMap<string, number> } = {},
): Promise<number> {
  const byQueue = new Map<string, StoredEventJob[]>();
  for (const event of events) {
    const queue = eventQueueFor(event.type);
    const jobs = byQueue.get(queue) ?? [];
    const deferrals = options.deferrals?.get(event.id);
    jobs.push(deferrals ? { version: EVENT_JOB_VERSION, eventId: event.id, deferrals } : { version: EVENT_JOB_VERSION, eventId: event.id });
    byQueue.set(queue, jobs);
  }
  for (const [queue, jobs] of byQueue) {
    await boss.insert(
      queue,
      jobs.map((data) => ({ data, startAfter: options.startAfter })),
      { db: sql.boss },
    );
  }
  return events.length;
}
