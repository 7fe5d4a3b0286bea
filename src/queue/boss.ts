import { PgBoss, type Db } from 'pg-boss';
import type { QueryRunner } from 'typeorm';
import type { Logger } from '../logger.js';
import { LEGACY_QUEUES, QUEUES } from './jobs.js';

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

/** Finished jobs are kept this long at most. */
const KEEP_FINISHED_SECONDS = 24 * 60 * 60;

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
    supervise: options.supervise ?? true,
    superviseIntervalSeconds: options.monitorSeconds ?? 15,
    monitorIntervalSeconds: options.monitorSeconds ?? 15,
    // Cron schedules (the maintenance job) are run by the processes that supervise.
    schedule: options.supervise ?? true,
    useListenNotify: false,
  });
  boss.on('error', (error) => options.logger.error({ err: error }, 'queue error'));
  await boss.start();
  await ensureQueues(boss);
  return boss;
}

async function ensureQueues(boss: PgBoss): Promise<void> {
  const queues = await boss.getQueues();
  const existing = new Set(queues.map((q) => q.name));
  for (const name of LEGACY_QUEUES) {
    if (existing.has(name)) await boss.deleteQueue(name);
  }
  if (!existing.has(QUEUES.maintenance)) {
    await boss.createQueue(QUEUES.maintenance, {
      // One maintenance run at a time across the fleet.
      policy: 'singleton',
      expireInSeconds: 300,
      retryLimit: 0,
      deleteAfterSeconds: KEEP_FINISHED_SECONDS,
      retentionSeconds: KEEP_FINISHED_SECONDS,
    });
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
