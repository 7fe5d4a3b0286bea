import type { Job, PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../logger.js';
import { QUEUES, type DeliverJob, type FanoutJob } from '../queue/jobs.js';
import type { Services } from '../services.js';
import { QueueStatistics } from '../queue/statistics.js';
import { WakeListener } from '../queue/wakeup.js';
import { Deliverer } from './deliverer.js';
import { DeliveryHttpClient } from './http-client.js';

export interface WorkerDeps {
  services: Services;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  version: string;
  /** For the wake-up listener's own connection. */
  databaseUrl: string;
  db: DataSource;
}

/**
 * A wake-up (wakeup.ts) brings new jobs at once, but a retry is created for
 * later and wakes nobody when it falls due: polling must stay frequent.
 */
const POLLING = { pollingIntervalSeconds: 1, burstWhenBatchFull: true } as const;

/** Jobs fetched per poll; the batch's jobs run concurrently. */
const DELIVER_BATCH = 10;
const FANOUT_BATCH = 10;

/**
 * The queue consumers of one process: delivery (one attempt per job), and
 * fan-out for the `fanout` jobs of events published by an earlier version.
 * Deliveries in flight per process are bounded by
 * HOOKLINE_WORKER_CONCURRENCY: ⌈concurrency / 10⌉ pollers of up to 10 jobs.
 */
export class Workers {
  private readonly http: DeliveryHttpClient;
  private readonly deliverer: Deliverer;
  private readonly workIds: Array<{ queue: string; id: string }> = [];
  /** The delivery pollers, and whether each is attempting a batch now. */
  private readonly pollers: Array<{ id: string; busy: boolean }> = [];
  private listener: WakeListener | undefined;
  private statistics: QueueStatistics | undefined;

  constructor(private readonly deps: WorkerDeps) {
    const { services, config, metrics } = deps;
    this.http = new DeliveryHttpClient({
      timeoutMs: config.deliveryTimeoutMs,
      allowPrivate: config.allowPrivateUrls,
      userAgent: `Hookline/${deps.version}`,
      connections: config.workerConcurrency,
    });
    this.deliverer = new Deliverer({
      deliveries: services.deliveries,
      catalog: services.catalog,
      secrets: services.secrets,
      http: this.http,
      metrics,
      userAgent: `Hookline/${deps.version}`,
    });
  }

  async start(): Promise<void> {
    const { boss, config, services, logger } = this.deps;
    const pollers = Math.max(1, Math.ceil(config.workerConcurrency / DELIVER_BATCH));
    const batchSize = Math.min(DELIVER_BATCH, config.workerConcurrency);

    this.workIds.push({
      queue: QUEUES.fanout,
      id: await boss.work<FanoutJob>(
        QUEUES.fanout,
        // Only jobs left by an earlier version arrive here: no need to ask every second.
        { batchSize: FANOUT_BATCH, pollingIntervalSeconds: 30 },
        async (jobs: Job<FanoutJob>[]) => {
          // Each event fans out in its own transaction; a failure fails the batch and
          // pg-boss runs it again, which adds only what is missing.
          for (const job of jobs) await services.deliveries.fanOut(job.data.eventId);
        },
      ),
    });

    // One registration per poller, each with its own id, so that a wake-up can pick one.
    for (let i = 0; i < pollers; i++) {
      const poller = { id: '', busy: false };
      poller.id = await boss.work<DeliverJob, unknown, typeof POLLING & { batchSize: number; perJobResults: true }>(
        QUEUES.deliver,
        { batchSize, ...POLLING, perJobResults: true },
        async (jobs: Job<DeliverJob>[]) => {
          poller.busy = true;
          // A full batch suggests more jobs waiting: another poller joins in.
          if (jobs.length === batchSize) this.wakeOne();
          try {
            return await this.deliverBatch(jobs);
          } finally {
            poller.busy = false;
          }
        },
      );
      this.pollers.push(poller);
      this.workIds.push({ queue: QUEUES.deliver, id: poller.id });
    }
    this.listener = new WakeListener(this.deps.databaseUrl, logger, () => this.wakeOne());
    await this.listener.start();
    this.statistics = new QueueStatistics(this.deps.db, logger);
    this.statistics.start();
    logger.info({ concurrency: config.workerConcurrency, pollers, batchSize }, 'workers started');
  }

  /**
   * Wakes one idle poller: a wake-up usually means a few new jobs, and
   * waking every poller would mostly buy empty fetches. When all are busy,
   * each fetches again as soon as its batch is done.
   */
  private wakeOne(): void {
    const idle = this.pollers.find((p) => !p.busy);
    for (const poller of idle ? [idle] : this.pollers) this.deps.boss.notifyWorker(poller.id);
  }

  /** One attempt per job; a job fails (and pg-boss runs it again) only when Hookline itself could not make or record it. */
  private async deliverBatch(jobs: Job<DeliverJob>[]) {
    const { logger } = this.deps;
    const refs = jobs.map((job) => ({ jobId: job.id, deliveryId: job.data.deliveryId, reservedSlot: job.data.reservedSlot }));
    const results = await this.deliverer
      .deliverAll(refs)
      .catch((error: unknown) => refs.map(() => ({ status: 'rejected' as const, reason: error })));
    return results.map((result, i) => {
      const job = jobs[i]!;
      if (result.status === 'fulfilled') return { id: job.id, status: 'completed' as const };
      // Not an endpoint failure (those are recorded attempts) but ours, e.g. the
      // database is away: pg-boss retries the job, and the attempt is made again.
      const error: unknown = result.reason;
      logger.error({ err: error, deliveryId: job.data.deliveryId }, 'delivery job failed');
      return { id: job.id, status: 'failed' as const, output: { message: error instanceof Error ? error.message : String(error) } };
    });
  }

  /** Stops fetching jobs, waits for the ones in hand, then closes the HTTP agent. */
  async stop(): Promise<void> {
    await this.statistics?.stop();
    await this.listener?.stop();
    for (const { queue, id } of this.workIds.splice(0)) await this.deps.boss.offWork(queue, { id, wait: true });
    await this.http.close();
  }
}
