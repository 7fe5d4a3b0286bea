import { PgBoss, type ConstructorOptions } from 'pg-boss';
import { PreparingClient } from '../db/prepared.js';
import type { Logger } from '../logger.js';
import { EVENT_QUEUES, LEGACY_QUEUES, QUEUES } from './jobs.js';

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
  /** Times a batch of events that failed to fan out is tried again before its events are dead-lettered. */
  fanOutRetries?: number;
  /** How long a dead-lettered event waits to be re-driven before pg-boss deletes it. */
  deadLetterRetentionDays?: number;
}

/** Finished jobs are kept this long at most. */
const KEEP_FINISHED_SECONDS = 24 * 60 * 60;

/**
 * Starts pg-boss on its own schema of the application database and makes
 * sure that Hookline's queues exist.
 */
export async function startBoss(options: BossOptions): Promise<PgBoss> {
  const config: ConstructorOptions & { Client: typeof PreparingClient } = {
    connectionString: options.url,
    schema: BOSS_SCHEMA,
    max: options.poolSize ?? 10,
    // pg-boss hands its options to the node-postgres pool it makes, which takes the client class from
    // them: pg-boss's fetch, insert and completion are prepared rather than planned on every call.
    Client: PreparingClient,
    application_name: 'hookline-queue',
    // The backstop for a fan-out batch's transaction whose handler hangs (FanOutWorkers), set once per
    // connection: PostgreSQL ends the session when its transaction sits idle for longer than a batch may take.
    options: `-c idle_in_transaction_session_timeout=${(FAN_OUT_EXPIRY_SECONDS + FAN_OUT_IDLE_MARGIN_SECONDS) * 1000}`,
    supervise: options.supervise ?? true,
    superviseIntervalSeconds: options.monitorSeconds ?? 15,
    monitorIntervalSeconds: options.monitorSeconds ?? 15,
    // Cron schedules (the maintenance job) are run by the processes that supervise.
    schedule: options.supervise ?? true,
    useListenNotify: false,
  };
  const boss = new PgBoss(config);
  boss.on('error', (error) => options.logger.error({ err: error }, 'queue error'));
  await boss.start();
  await ensureQueues(boss, options);
  return boss;
}

/** A fan-out batch that outlives this is tried again (its worker died or hangs). */
const FAN_OUT_EXPIRY_SECONDS = 60;
/** How much longer than its expiry a fan-out batch's transaction may sit idle before PostgreSQL ends it. */
const FAN_OUT_IDLE_MARGIN_SECONDS = 5;

async function ensureQueues(boss: PgBoss, options: BossOptions): Promise<void> {
  const queues = await boss.getQueues();
  const existing = new Set(queues.map((q) => q.name));
  for (const name of LEGACY_QUEUES) {
    if (existing.has(name)) await boss.deleteQueue(name);
  }
  const deadLetterSeconds = (options.deadLetterRetentionDays ?? 30) * 24 * 60 * 60;
  if (!existing.has(QUEUES.deadLetters)) {
    // Nobody works this queue: its jobs wait, created, for `hookline dead-letters` to re-drive them.
    await boss.createQueue(QUEUES.deadLetters, { retentionSeconds: deadLetterSeconds, deleteAfterSeconds: KEEP_FINISHED_SECONDS });
  }
  const eventQueue = {
    retryLimit: options.fanOutRetries ?? 5,
    retryBackoff: true,
    retryDelay: 1,
    retryDelayMax: 300,
    expireInSeconds: FAN_OUT_EXPIRY_SECONDS,
    deleteAfterSeconds: KEEP_FINISHED_SECONDS,
    // An event waits for a worker for as long as it takes: a queue without workers loses nothing.
    retentionSeconds: 365 * 24 * 60 * 60,
    deadLetter: QUEUES.deadLetters,
  };
  for (const name of EVENT_QUEUES) {
    if (existing.has(name)) await boss.updateQueue(name, eventQueue);
    else await boss.createQueue(name, eventQueue);
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
