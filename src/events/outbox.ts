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
  events: ReadonlyArray<Pick<EventEntity, 'id' | 'type'>>,
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

/** How pg-boss's job insert takes its jobs: one JSON array, its only parameter. */
const JOB_INPUT = '$1::text::json';

/**
 * pg-boss's job insert (its text as pg-boss wrote it) restricted to the jobs
 * whose event exists in the transaction, for a transaction whose statements
 * are all sent before the event insert has answered (EventService): a job
 * must not outlive an event that was not stored. pg-boss itself substitutes
 * its parameter the same way for the inserts of a flow.
 */
export function onlyJobsOfStoredEvents(text: string): string {
  const at = text.indexOf(JOB_INPUT);
  if (at < 0 || text.includes(JOB_INPUT, at + 1)) throw new Error(`pg-boss's job insert no longer takes its jobs as ${JOB_INPUT}`);
  // A scalar subquery, which PostgreSQL never turns into a join: each job looks its event up by primary key.
  // As EXISTS it became a hash join over a scan of every event whenever the statistics thought the table small.
  const stored = `(SELECT coalesce(json_agg(j.job), '[]'::json) FROM json_array_elements(${JOB_INPUT}) AS j(job)
      WHERE (SELECT true FROM events e WHERE e.id = (j.job->'data'->>'eventId')::uuid))::text::json`;
  return text.slice(0, at) + stored + text.slice(at + JOB_INPUT.length);
}
