import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { bossDb, startBoss } from '../../src/queue/boss.js';
import { QUEUES } from '../../src/queue/jobs.js';
import { QueueStatistics } from '../../src/queue/statistics.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('queue statistics', () => {
  let database: TestDatabase;
  let db: DataSource;
  let boss: PgBoss;
  const logger = createLogger('silent');

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDataSource({ url: database.url, poolSize: 3 });
    await db.initialize();
    boss = await startBoss({ url: database.url, logger, supervise: false, poolSize: 2 });
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false });
    await db?.destroy();
    await database?.drop();
  });

  async function lastAnalyze(): Promise<Date | null> {
    const [row] = (await db.query(
      `SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = 'pgboss' AND relname = 'job_common'`,
    )) as Array<{ last_analyze: Date | null }>;
    return row?.last_analyze ?? null;
  }

  /** The table's changed-row counter, as published by the backends that changed it. */
  async function changedRows(): Promise<number> {
    const [row] = (await db.query(
      `SELECT n_mod_since_analyze::int AS n FROM pg_stat_user_tables WHERE schemaname = 'pgboss' AND relname = 'job_common'`,
    )) as Array<{ n: number }>;
    return row?.n ?? 0;
  }

  it('analyzes the job table once enough jobs arrived, and not again without new ones', async () => {
    const statistics = new QueueStatistics(db, logger);
    expect(await statistics.refresh()).toBe(false);
    expect(await lastAnalyze()).toBeNull();

    const runner = db.createQueryRunner();
    try {
      for (let i = 0; i < 6; i++) {
        const jobs = Array.from({ length: 1000 }, () => ({ id: randomUUID(), data: { deliveryId: randomUUID() } }));
        await boss.insert(QUEUES.deliver, jobs, { db: bossDb(runner) });
      }
      // An idle backend publishes its table counters only after a while; ask for it now.
      await runner.query('SELECT pg_stat_force_next_flush()');
      await runner.query('SELECT 1');
    } finally {
      await runner.release();
    }
    const deadline = Date.now() + 30_000;
    while ((await changedRows()) < 5_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    expect(await statistics.refresh()).toBe(true);
    expect(await lastAnalyze()).not.toBeNull();
    expect(await statistics.refresh()).toBe(false);
  });
});
