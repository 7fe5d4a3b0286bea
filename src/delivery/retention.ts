import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';

/** Events deleted per step: with their deliveries and attempts, a few thousand rows in one short transaction. */
const EVENTS_PER_STEP = 200;
/** A pause between steps so that a large purge leaves the database to the deliveries in between. */
const STEP_PAUSE_MS = 20;

/**
 * Deletes history older than the retention period: events, and with them
 * (by cascade) their deliveries and attempts, oldest first, in small steps.
 * An event whose delivery is still pending or retrying is kept until it is
 * settled. The maintenance job runs it in one worker at a time.
 */
export class RetentionPurge {
  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly retentionDays: number,
  ) {}

  /** One step: the number of events deleted (their deliveries and attempts went with them). */
  async step(limit = EVENTS_PER_STEP): Promise<number> {
    const result = (await this.db.query(
      `DELETE FROM events WHERE id IN (
         SELECT e.id FROM events e
         WHERE e.created_at < now() - make_interval(days => $1)
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('PENDING', 'RETRYING'))
         ORDER BY e.created_at LIMIT $2)`,
      [this.retentionDays, limit],
    )) as [unknown[], number];
    return result[1];
  }

  /** Steps until nothing is left to delete or the budget is spent; the number of events deleted. */
  async run(budgetMs: number, shouldStop: () => boolean = () => false): Promise<number> {
    const until = Date.now() + budgetMs;
    let total = 0;
    while (Date.now() < until && !shouldStop()) {
      const deleted = await this.step();
      total += deleted;
      if (deleted < EVENTS_PER_STEP) break;
      await new Promise((r) => setTimeout(r, STEP_PAUSE_MS));
    }
    if (total > 0) this.logger.info({ events: total, retentionDays: this.retentionDays }, 'old events purged');
    return total;
  }
}
