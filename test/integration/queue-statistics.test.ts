import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { QueueStatistics } from '../../src/queue/statistics.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('queue statistics', () => {
  let database: TestDatabase;
  let db: DataSource;
  const logger = createLogger('silent');

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDataSource({ url: database.url, poolSize: 3 });
    await db.initialize();
    await runMigrations(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  async function lastAnalyze(): Promise<Date | null> {
    const [row] = (await db.query(`SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'deliveries'`)) as Array<{
      last_analyze: Date | null;
    }>;
    return row?.last_analyze ?? null;
  }

  /** The table's changed-row counter, as published by the backends that changed it. */
  async function changedRows(): Promise<number> {
    const [row] = (await db.query(
      `SELECT n_mod_since_analyze::int AS n FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'deliveries'`,
    )) as Array<{ n: number }>;
    return row?.n ?? 0;
  }

  it('analyzes the deliveries table once enough deliveries arrived, and not again without new ones', async () => {
    const statistics = new QueueStatistics(db, logger);
    expect(await statistics.refresh()).toBe(false);
    expect(await lastAnalyze()).toBeNull();

    const runner = db.createQueryRunner();
    try {
      await runner.query(`INSERT INTO accounts (id, name) VALUES ('00000000-0000-7000-8000-000000000001', 'acme')`);
      await runner.query(
        `INSERT INTO webhook_subscriptions (id, account_id, environment, url, channels, retry_schedule)
         VALUES ('00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'PRODUCTION', 'http://127.0.0.1:9/', '{invoices}', '{}')`,
      );
      await runner.query(
        `WITH e AS (
           INSERT INTO events (id, account_id, environment, type, data)
           SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'PRODUCTION', 'invoices.created', '{}'::jsonb FROM generate_series(1, 6000)
           RETURNING id
         )
         INSERT INTO deliveries (id, account_id, environment, event_id, subscription_id, next_attempt_at)
         SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'PRODUCTION', e.id, '00000000-0000-7000-8000-000000000002', now() FROM e`,
      );
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
