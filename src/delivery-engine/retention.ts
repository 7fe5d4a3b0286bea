import type { DataSource } from 'typeorm';
import type { Logger } from '../logger.js';
import { purgeExpiredPortalRows } from '../portal/service.js';

/** Events deleted per step: with their deliveries and attempts, about a thousand rows in one short transaction. */
const EVENTS_PER_STEP = 100;
/**
 * The share of time the purge works: after a step that took d ms it pauses
 * d × (1 / share − 1) ms, so that a large purge costs the database about a
 * tenth of one connection's time whatever the machine, and deliveries keep
 * their rate beside it.
 */
const DUTY_SHARE = 0.1;
const MIN_PAUSE_MS = 10;

/**
 * Deletes history older than the retention period: events, and with them
 * (by cascade) their deliveries and attempts, oldest first, in small steps.
 * An event whose delivery is still pending or retrying is kept until it is
 * settled. Expired console sessions and portal links go too. The
 * maintenance job runs it in one worker at a time.
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
      const started = performance.now();
      const deleted = await this.step();
      total += deleted;
      if (deleted < EVENTS_PER_STEP) break;
      const pauseMs = Math.max(MIN_PAUSE_MS, (performance.now() - started) * (1 / DUTY_SHARE - 1));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    if (total > 0) this.logger.info({ events: total, retentionDays: this.retentionDays }, 'old events purged');
    const portal = await purgeExpiredPortalRows(this.db);
    if (portal.sessions + portal.links > 0) this.logger.info(portal, 'expired console sessions and portal links deleted');
    return total;
  }
}
