import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import { WAKE_CHANNEL, WakeListener, WakeSender } from '../../src/queue/wakeup.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const logger = createLogger('silent');

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('waking delivery workers', () => {
  let database: TestDatabase;
  let sql: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('folds the wake-ups asked for while one is on its way into one more NOTIFY', async () => {
    const seen: string[] = [];
    const observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
    observer.on('notification', (n) => seen.push(n.payload ?? ''));
    await observer.query(`LISTEN ${WAKE_CHANNEL}`);
    const sender = new WakeSender(database.url, logger);
    try {
      for (let i = 0; i < 50; i++) sender.wake(i % 2 === 0 ? 'events' : 'deliveries');
      await until(() => seen.length >= 3);
      await new Promise((r) => setTimeout(r, 300));
      // The first NOTIFY, then one of each topic for everything asked while it was on its way.
      expect(seen).toEqual(['events', 'deliveries', 'events']);
    } finally {
      await sender.close();
      await observer.end();
    }
  });

  it('wakes on every NOTIFY, and again after its connection was lost and came back', async () => {
    let wakes = 0;
    const topics: string[] = [];
    const listener = new WakeListener(database.url, logger, (topic) => {
      if (topic === 'deliveries') wakes += 1;
      topics.push(topic);
    });
    await listener.start();
    const sender = new WakeSender(database.url, logger);
    try {
      // Connecting wakes every topic once, for what was sent while nobody listened.
      expect(topics).toEqual(['events', 'ledger-events', 'deliveries']);
      sender.wake('deliveries');
      await until(() => wakes === 2);

      await sql.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hookline-listen' AND datname = current_database()`,
      );
      await until(() => wakes === 3);
      sender.wake('deliveries');
      await until(() => wakes === 4);
    } finally {
      await listener.stop();
      await sender.close();
    }
  });
});
