import type { PgBoss } from 'pg-boss';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FanOut, FanOutJob } from '../../src/fanout/fan-out.js';
import { FanOutWorkers } from '../../src/fanout/workers.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { QUEUES } from '../../src/queue/jobs.js';
import { startBoss } from '../../src/queue/boss.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const LINGER_MS = 150;

describe('fan-out wake-ups wait for the publishes that follow', () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let workers: FanOutWorkers;
  const fannedOut: Array<{ queue: string; jobs: number }> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    boss = await startBoss({ url: db.url, logger: pino({ level: 'silent' }), poolSize: 2, supervise: false });
    // The events themselves do not matter here, only when the workers fetch them.
    const fanOut = {
      run: async (queue: string, jobs: readonly FanOutJob[]) => {
        fannedOut.push({ queue, jobs: jobs.length });
        return { deliveries: 0, events: 0, deadLettered: [], deferred: 0, pullSubscriptions: [] };
      },
    } as unknown as FanOut;
    // A poll far longer than the test: only a wake-up makes the workers fetch.
    workers = new FanOutWorkers(
      { batchSize: 100, pollingIntervalSeconds: 600, lingerMs: LINGER_MS },
      { boss, fanOut, logger: createLogger('silent'), metrics: new Metrics() },
    );
    await workers.start();
    // The workers' first fetch, on start, has found nothing.
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    await workers?.stop();
    await boss?.stop({ graceful: false, close: true });
    await db?.drop();
  });

  it('fetches once, after the linger, for the wake-ups of several publishes, and only from the queues woken', async () => {
    const notified = vi.spyOn(boss, 'notifyWorker');
    try {
      for (let i = 0; i < 5; i++) await boss.send(QUEUES.events, { n: i });
      const sentAt = Date.now();
      for (let i = 0; i < 5; i++) workers.wake(QUEUES.events);
      expect(notified).not.toHaveBeenCalled();
      await vi.waitFor(() => expect(fannedOut.reduce((n, f) => n + f.jobs, 0)).toBe(5), { timeout: 5_000, interval: 10 });
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(LINGER_MS - 5);
      // One notification, to the events queue's worker; the ledger queue's was not woken.
      expect(notified).toHaveBeenCalledTimes(1);
      expect(fannedOut.every((f) => f.queue === QUEUES.events)).toBe(true);
      expect(fannedOut).toHaveLength(1);
    } finally {
      notified.mockRestore();
    }
  });

  it('wakes every event queue when no queue is named', async () => {
    const notified = vi.spyOn(boss, 'notifyWorker');
    try {
      workers.wake(QUEUES.events);
      workers.wake();
      await new Promise((r) => setTimeout(r, LINGER_MS + 100));
      expect(notified).toHaveBeenCalledTimes(2);
    } finally {
      notified.mockRestore();
    }
  });
});
