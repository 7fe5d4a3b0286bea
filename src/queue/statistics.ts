import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
/** The deliveries table: the workers' queue, whose due and leased rows change all the time. */
const QUEUE_SCHEMA = 'public';
const QUEUE_TABLE = 'deliveries';

/** Rows changed since the last ANALYZE that call for another: this many, and this share of the table. */
const MIN_CHANGED_ROWS = 5_000;
const MIN_CHANGED_SHARE = 0.2;

/** One worker process at a time analyzes (a transaction-level advisory lock; the key is arbitrary but fixed). */
const ADVISORY_LOCK_KEY = 0x686b6c01;

/**
 * Keeps PostgreSQL's statistics of the deliveries table fresh while a
 * backlog builds up. Autovacuum analyzes at most once a minute per
 * database, and until it does, the planner still believes the table (and
 * its partial index of due rows) to be nearly empty and may choose a plan
 * for the claim that reads every pending row. Worker processes check every
 * few seconds and analyze the table when enough of it has changed.
 */
export class QueueStatistics {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly intervalMs = 5_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.refresh()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not refresh the queue statistics'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Analyzes the job table when enough of it changed; true when it did. */
  async refresh(): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const [lock] = (await manager.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [ADVISORY_LOCK_KEY])) as Array<{ locked: boolean }>;
      if (!lock?.locked) return false;
      const [table] = (await manager.query(
        'SELECT n_live_tup::float8 AS live, n_mod_since_analyze::float8 AS changed FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2',
        [QUEUE_SCHEMA, QUEUE_TABLE],
      )) as Array<{ live: number; changed: number }>;
      if (!table || table.changed < Math.max(MIN_CHANGED_ROWS, MIN_CHANGED_SHARE * table.live)) return false;
      await manager.query(`ANALYZE ${QUEUE_SCHEMA}.${QUEUE_TABLE}`);
      this.logger.debug({ rows: table.live, changed: table.changed }, 'queue statistics refreshed');
      return true;
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
