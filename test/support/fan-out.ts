import { FanOut } from '../../src/fanout/fan-out.js';
import { announceDeliveries } from '../../src/fanout/workers.js';
import { sqlOfManager } from '../../src/db/sql.js';
import { EVENT_QUEUES } from '../../src/queue/jobs.js';
import type { TestApp } from './app.js';

/**
 * For an app that runs no workers (role api): fans out every event job that
 * is due, the way a fan-out worker does (the deliveries and the jobs'
 * completion in one transaction), so that a test can look at the
 * deliveries a publish leads to without a delivery engine sending them.
 */
export async function fanOutNow(t: TestApp): Promise<number> {
  const { boss, db, services } = t.app;
  const fanOut = new FanOut(db, services.events, services.catalog, boss);
  let deliveries = 0;
  for (const queue of EVENT_QUEUES) {
    for (;;) {
      const jobs = await boss.fetch(queue, { batchSize: 500 });
      if (jobs.length === 0) break;
      await db.transaction(async (manager) => {
        const sql = sqlOfManager(manager);
        const result = await fanOut.run(queue, jobs, sql);
        deliveries += result.deliveries;
        await announceDeliveries(sql, result);
        await boss.complete(
          queue,
          jobs.map((j) => j.id),
          null,
          { db: sql.boss },
        );
      });
    }
  }
  return deliveries;
}
