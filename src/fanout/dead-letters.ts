import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { sqlOfManager } from '../db/sql.js';
import { EVENT_QUEUES, QUEUES, type DeadLetterReason, type EventQueueName, type RefusedEventLetter } from '../queue/jobs.js';

/** A dead-lettered event as an operator sees it. */
export interface DeadLetter {
  /** The job's id in the dead-letter queue. */
  id: string;
  /** Refused by the fan-out, or failed on every retry. */
  kind: 'refused' | 'failed';
  /** The queue it was taken from, where a re-drive sends it. */
  queue: EventQueueName | null;
  reason: DeadLetterReason;
  /** The job as it was sent. */
  job: unknown;
  deadLetteredAt: Date;
}

/** Letters re-driven by one call at most; call again for more. */
const MAX_REDRIVE = 1000;

function isRefusedLetter(data: unknown): data is RefusedEventLetter {
  const d = data as Partial<RefusedEventLetter> | null;
  return typeof d === 'object' && d !== null && 'reason' in d && 'job' in d && typeof d.queue === 'string';
}

function eventQueue(name: unknown): EventQueueName | null {
  return EVENT_QUEUES.find((q) => q === name) ?? null;
}

/**
 * The dead-letter queue of events: those refused by the fan-out (their
 * letter carries the reason and the job as sent) and those that failed on
 * every retry (pg-boss moved them there, the reason in their output).
 * Re-driving sends each back to its queue, so that the fan-out checks it
 * again: after the cause is fixed (an event type defined, an account
 * created), it goes through.
 */
export class DeadLetters {
  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
  ) {}

  async list(limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.boss.findJobs<unknown>(QUEUES.deadLetters, { queued: true, limit });
    return jobs.map((job) => {
      if (isRefusedLetter(job.data)) {
        return {
          id: job.id,
          kind: 'refused' as const,
          queue: eventQueue(job.data.queue),
          reason: job.data.reason,
          job: job.data.job,
          deadLetteredAt: job.createdOn,
        };
      }
      const output = (job.sourceOutput ?? {}) as { reason?: DeadLetterReason; message?: string };
      const reason = output.reason ?? { code: 'FAN_OUT_FAILED', message: output.message ?? 'failed on every retry' };
      return { id: job.id, kind: 'failed' as const, queue: eventQueue(job.sourceName), reason, job: job.data, deadLetteredAt: job.createdOn };
    });
  }

  /** Sends the letters (all of them without ids) back to their queues; answers how many went. */
  async redrive(ids?: readonly string[]): Promise<number> {
    const letters = (await this.list(MAX_REDRIVE)).filter((l) => l.queue !== null && (!ids || ids.includes(l.id)));
    const refused = letters.filter((l) => l.kind === 'refused');
    const failed = letters.filter((l) => l.kind === 'failed');
    // A refused letter is the job as it was sent: it goes back as a new job, and the letter goes, together.
    await this.db.transaction(async (manager) => {
      const { boss: db } = sqlOfManager(manager);
      for (const letter of refused) {
        await this.boss.send(letter.queue!, letter.job as object, { db });
        await this.boss.deleteJob(QUEUES.deadLetters, letter.id, { db });
      }
    });
    // A job that failed on every retry knows its source queue: pg-boss moves it back itself.
    const redriven = failed.length > 0 ? await this.boss.redrive(QUEUES.deadLetters, { ids: failed.map((l) => l.id) }) : 0;
    return refused.length + redriven;
  }
}
