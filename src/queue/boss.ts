import { PgBoss, type Db } from 'pg-boss';
import type { QueryRunner } from 'typeorm';
import type { Logger } from '../logger.js';
import { QUEUES } from './jobs.js';

export const BOSS_SCHEMA = 'pgboss';

export interface BossOptions {
  url: string;
  logger: Logger;
  /** Connections of pg-boss's own pool. */
  poolSize?: number;
  /** Maintenance and scheduling run in worker processes; API processes only send. */
  supervise?: boolean;
  /** Seconds between passes that find expired jobs and jobs whose heartbeats stopped. */
  monitorSeconds?: number;
}

/**
 * Workers heartbeat every few seconds while a job is in hand; a job whose
 * heartbeats stop (its worker died) is run again by the next monitor pass.
 */
const HEARTBEAT_SECONDS = 10;

/**
 * Starts pg-boss on its own schema of the application database and makes
 * sure that Hookline's queues exist.
 */
export async function startBoss(options: BossOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: options.url,
    schema: BOSS_SCHEMA,
    max: options.poolSize ?? 10,
    application_name: 'hookline-queue',
    // pg-boss's own connections only fetch, complete and fail jobs and run
    // maintenance: every job is created in Hookline's transactions (the db
    // option), and every attempt is recorded in them before its job is
    // completed. Those stay fully durable. A fetch or completion lost in a
    // database crash only brings a job back, whose delivery row (its fence)
    // then tells the worker that it is already settled. Not waiting for the
    // WAL flush on these commits takes half the disk waits off a delivery.
    options: '-c synchronous_commit=off',
    supervise: options.supervise ?? true,
    superviseIntervalSeconds: options.monitorSeconds ?? 15,
    monitorIntervalSeconds: options.monitorSeconds ?? 15,
    schedule: false,
    // Delivery workers are woken through Hookline's own channel (wakeup.ts).
    useListenNotify: false,
  });
  boss.on('error', (error) => options.logger.error({ err: error }, 'queue error'));
  await boss.start();
  await ensureQueues(boss);
  return boss;
}

async function ensureQueues(boss: PgBoss): Promise<void> {
  // The delivery worker keeps its own retry schedule in the deliveries table;
  // pg-boss retries only cover a worker that crashed or threw unexpectedly.
  const common = {
    retryLimit: 20,
    retryDelay: 5,
    retryBackoff: true,
    retryDelayMax: 300,
    heartbeatSeconds: HEARTBEAT_SECONDS,
    // No NOTIFY inside the transactions that queue jobs: see wakeup.ts.
    notify: false,
  } as const;
  const queues = await boss.getQueues();
  for (const queue of queues) {
    // Queues made by an earlier version notified from every job insert.
    if ((queue.name === QUEUES.fanout || queue.name === QUEUES.deliver) && queue.notify) {
      await boss.updateQueue(queue.name, { notify: false });
    }
  }
  const existing = new Set(queues.map((q) => q.name));
  if (!existing.has(QUEUES.fanout)) {
    await boss.createQueue(QUEUES.fanout, { ...common, expireInSeconds: 120 });
  }
  if (!existing.has(QUEUES.deliver)) {
    await boss.createQueue(QUEUES.deliver, { ...common, expireInSeconds: 300 });
  }
}

/**
 * pg-boss's db option bound to a TypeORM transaction, so that a job is sent
 * in the same transaction as the row it concerns (the outbox property).
 */
export function bossDb(queryRunner: QueryRunner): Db {
  return {
    executeSql: async (text: string, values?: unknown[]) => {
      const result = (await queryRunner.query(text, values, true)) as { records: unknown[] };
      return { rows: result.records };
    },
  };
}
