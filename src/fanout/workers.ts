import type { Db, PgBoss } from 'pg-boss';
import { sqlOfBoss, type Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { EVENT_QUEUES, type EventQueueName } from '../queue/jobs.js';
import { PULL_CHANNEL, WAKE_CHANNEL, pullWakePayloads } from '../queue/wakeup.js';
import type { FanOut, FanOutJob, FanOutResult } from './fan-out.js';

export interface FanOutWorkersOptions {
  /** Jobs taken in one fetch and fanned out in one transaction. */
  batchSize: number;
  /** Seconds between fetches while nothing wakes the workers. */
  pollingIntervalSeconds: number;
  /** Milliseconds a wake-up waits for more before the workers fetch (0: at once). */
  lingerMs?: number;
}

export interface FanOutWorkersDeps {
  boss: PgBoss;
  fanOut: FanOut;
  logger: Logger;
  metrics: Metrics;
}

const EMPTY: FanOutResult = { deliveries: 0, events: 0, deadLettered: [], deferred: 0, pullSubscriptions: [] };

function merge(x: FanOutResult, y: FanOutResult): FanOutResult {
  return {
    deliveries: x.deliveries + y.deliveries,
    events: x.events + y.events,
    deadLettered: [...x.deadLettered, ...y.deadLettered],
    deferred: x.deferred + y.deferred,
    pullSubscriptions: [...x.pullSubscriptions, ...y.pullSubscriptions],
  };
}

/**
 * Tells the delivery engines, and the long polls of PULL subscriptions that
 * got deliveries, of a batch's new deliveries. Sent from the batch's
 * transaction, so that they hear of them as it commits, not before: one
 * notifying commit per batch, not per publish.
 */
export async function announceDeliveries(sql: Sql, result: Pick<FanOutResult, 'deliveries' | 'pullSubscriptions'>): Promise<void> {
  if (result.deliveries > 0) await sql.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'deliveries']);
  for (const payload of pullWakePayloads(result.pullSubscriptions)) await sql.query('SELECT pg_notify($1, $2)', [PULL_CHANNEL, payload]);
}

/** What an operator may read of an error that failed a fan-out: its message, never its SQL or parameters. */
function reasonOf(error: unknown): { code: string; message: string } {
  return { code: 'FAN_OUT_FAILED', message: error instanceof Error ? error.message : String(error) };
}

/**
 * The fan-out workers of a process: one pg-boss worker per event queue
 * (so a ledger burst never waits behind other channels' events, nor they
 * behind it), each taking jobs in batches with `transactional`, so that the
 * deliveries a batch creates commit with the batch's completion.
 *
 * A batch that fails is taken apart: each job is fanned out alone, under a
 * savepoint, and a job that fails alone is failed through the batch's
 * transaction, so that pg-boss retries it on its own schedule and, after
 * the last retry, moves it to the dead-letter queue with its reason; the
 * rest of the batch completes.
 */
export class FanOutWorkers {
  private readonly workIds = new Map<EventQueueName, string>();
  /** Queues woken during the current linger (undefined: every queue). */
  private woken: Set<EventQueueName | undefined> = new Set();
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: FanOutWorkersOptions,
    private readonly deps: FanOutWorkersDeps,
  ) {}

  async start(): Promise<void> {
    for (const queue of EVENT_QUEUES) {
      const id = await this.deps.boss.work(
        queue,
        {
          batchSize: this.options.batchSize,
          pollingIntervalSeconds: this.options.pollingIntervalSeconds,
          // A backlog is drained batch after batch, not one batch per polling interval.
          burstWhenBatchFull: true,
          transactional: true,
          // pg-boss would bound each batch's transaction with a statement that reads pg_settings, half a
          // millisecond of PostgreSQL's time a batch; the bound is set once per connection instead (startBoss).
          transactionTimeoutSeconds: 0,
        },
        (jobs, tx) => this.handle(queue, jobs, tx),
      );
      this.workIds.set(queue, id);
    }
  }

  /**
   * Fetches from the queue (from every event queue without one): called when a publish committed jobs
   * in it. After the linger, so that the publishes that come meanwhile are fetched with it.
   */
  wake(queue?: EventQueueName): void {
    const lingerMs = this.options.lingerMs ?? 0;
    if (lingerMs <= 0) return this.notify(new Set([queue]));
    this.woken.add(queue);
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined;
      const woken = this.woken;
      this.woken = new Set();
      this.notify(woken);
    }, lingerMs);
  }

  /** Notifies the pg-boss workers of the queues (of every queue where undefined is among them). */
  private notify(queues: ReadonlySet<EventQueueName | undefined>): void {
    for (const [name, id] of this.workIds) if (queues.has(undefined) || queues.has(name)) this.deps.boss.notifyWorker(id);
  }

  async stop(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.woken.clear();
    for (const [queue, id] of this.workIds) await this.deps.boss.offWork(queue, { id, wait: true });
    this.workIds.clear();
  }

  private async handle(queue: EventQueueName, jobs: readonly FanOutJob[], tx: Db): Promise<void> {
    const { fanOut, boss, logger, metrics } = this.deps;
    const sql = sqlOfBoss(tx);
    let result = EMPTY;
    await sql.query('SAVEPOINT fan_out_batch');
    try {
      result = await fanOut.run(queue, jobs, sql);
    } catch (error) {
      await sql.query('ROLLBACK TO SAVEPOINT fan_out_batch');
      logger.warn({ err: error, queue, jobs: jobs.length }, 'a fan-out batch failed; fanning its events out one by one');
      for (const job of jobs) {
        await sql.query('SAVEPOINT fan_out_job');
        try {
          result = merge(result, await fanOut.run(queue, [job], sql));
          await sql.query('RELEASE SAVEPOINT fan_out_job');
        } catch (jobError) {
          await sql.query('ROLLBACK TO SAVEPOINT fan_out_job');
          logger.error({ err: jobError, queue, jobId: job.id }, 'an event could not be fanned out; it is retried, then dead-lettered');
          await boss.fail(queue, [job.id], { reason: reasonOf(jobError) }, { db: tx });
        }
      }
    }
    await announceDeliveries(sql, result);
    if (result.events > 0) metrics.eventsFannedOut.inc({ queue }, result.events);
    for (const reason of result.deadLettered) metrics.eventsDeadLettered.inc({ queue, reason: reason.code });
    if (result.deadLettered.length > 0) logger.warn({ queue, reasons: result.deadLettered }, 'events refused and dead-lettered');
  }
}
