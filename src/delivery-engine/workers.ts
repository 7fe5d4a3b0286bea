import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { createPipelinedPool } from '../db/pipeline.js';
import { FanOut } from '../fanout/fan-out.js';
import { OperationsReporter } from '../operations/reporter.js';
import { FanOutWorkers } from '../fanout/workers.js';
import { EVENT_QUEUES, MAINTENANCE_CRON, QUEUES } from '../queue/jobs.js';
import { QueueStatistics } from '../queue/statistics.js';
import { WakeListener, queueOfTopic } from '../queue/wakeup.js';
import type { Services } from '../services.js';
import { AttemptRecorder } from './attempt-recorder.js';
import { AttemptStore } from './attempt-store.js';
import { DeliveryRequestBuilder } from './request.js';
import { Deliverer } from './deliverer.js';
import { DeliveryDns } from './dns.js';
import { DeliveryEngine, workerSlots } from './engine.js';
import { DeliveryHttpClient } from './http-client.js';
import { RetentionPurge } from './retention.js';
import { WorkerHttpServer } from './worker-http.js';
import { USER_AGENT } from '../version.js';

export interface WorkerDeps {
  services: Services;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** For the wake-up listener's own connection. */
  databaseUrl: string;
  db: DataSource;
  /** Serve /healthz, /readyz and /metrics on config.workerPort (a worker-only process has no other HTTP server). */
  serveHttp?: boolean;
}

/** How often the queue depth and held endpoints are sampled for the metrics. */
const BACKLOG_SAMPLE_MS = 5_000;
/** Event jobs fanned out in one transaction. */
const FAN_OUT_BATCH = 100;
/** Seconds between fetches of event jobs while no wake-up comes (a lost NOTIFY, a job sent by another service). */
const FAN_OUT_POLL_SECONDS = 2;
/**
 * How long a wake-up waits for the publishes that follow it before the
 * fan-out fetches: their events then go in one batch, one transaction and
 * one commit, instead of a few events each.
 */
const FAN_OUT_LINGER_MS = 10;
/** The queues whose depth and oldest job /metrics shows. */
const OBSERVED_QUEUES = [...EVENT_QUEUES, QUEUES.deadLetters];
/** A maintenance run stops after this long; the next one goes on where it stopped. */
const MAINTENANCE_BUDGET_MS = 45_000;

/**
 * The worker side of a process: the fan-out workers that turn event jobs
 * into deliveries, the delivery engine with its recorder, the wake-up
 * listener of both, the maintenance job (retention purge), the planner
 * statistics of the deliveries table, the backlog and queue gauges and, in
 * a worker process, its HTTP port.
 */
export class Workers {
  readonly store: AttemptStore;
  readonly engine: DeliveryEngine;
  readonly fanOut: FanOutWorkers;
  private readonly reporter: OperationsReporter;
  private readonly listener: WakeListener;
  readonly purge: RetentionPurge;
  private readonly http: DeliveryHttpClient;
  private readonly recorder: AttemptRecorder;
  private readonly claimPool: pg.Pool;
  private readonly statistics: QueueStatistics;
  private server: WorkerHttpServer | undefined;
  private maintenanceWorkId: string | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private stopping = false;
  /** The worker HTTP port actually bound, when serveHttp. */
  port: number | undefined;

  constructor(private readonly deps: WorkerDeps) {
    const { services, config, metrics, db, logger } = deps;
    const userAgent = USER_AGENT;
    const dns = new DeliveryDns({ timeoutMs: Math.min(config.dnsTimeoutMs, config.deliveryTimeoutMs), servers: config.dnsServers });
    this.http = new DeliveryHttpClient({
      timeoutMs: config.deliveryTimeoutMs,
      allowPrivate: config.allowPrivateUrls,
      userAgent,
      // Every slot may hold a connection, the other accounts' headroom included, also when endpoints share a host.
      connections: workerSlots(config.workerConcurrency),
      resolve: (hostname, options) => dns.resolve(hostname, options),
    });
    this.reporter = new OperationsReporter({ db, events: services.events, audit: services.audit, logger });
    // The engine claims one batch at a time: one connection, whose statements are sent at once.
    this.claimPool = createPipelinedPool(deps.databaseUrl, 1, 'hookline-claim');
    this.claimPool.on('error', (error) => logger.warn({ err: error }, 'an idle claiming connection was lost'));
    this.store = new AttemptStore(db, services.catalog, services.subscriptions, this.reporter, this.claimPool);
    // The engine writes the groups, so that a group's transaction may also claim for the slots it frees.
    this.recorder = new AttemptRecorder((entries) => this.engine.recordGroup(entries));
    const deliverer = new Deliverer({
      store: this.store,
      recorder: this.recorder,
      secrets: services.secrets,
      requests: new DeliveryRequestBuilder(services.catalog, services.secrets, userAgent),
      http: this.http,
      metrics,
    });
    this.engine = new DeliveryEngine(
      {
        concurrency: config.workerConcurrency,
        deliveryTimeoutMs: config.deliveryTimeoutMs,
        defaultMaxInFlight: config.defaultMaxInFlight,
      },
      { store: this.store, deliverer, logger, metrics },
    );
    this.fanOut = new FanOutWorkers(
      { batchSize: FAN_OUT_BATCH, pollingIntervalSeconds: FAN_OUT_POLL_SECONDS, lingerMs: FAN_OUT_LINGER_MS },
      { boss: deps.boss, fanOut: new FanOut(db, services.events, services.catalog, deps.boss), logger, metrics },
    );
    this.listener = new WakeListener(deps.databaseUrl, logger, (topic) => {
      const queue = queueOfTopic(topic);
      if (queue) this.fanOut.wake(queue);
      else this.engine.wake();
    });
    this.purge = new RetentionPurge(db, logger, config.retentionDays);
    this.statistics = new QueueStatistics(db, logger);
  }

  async start(): Promise<void> {
    const { boss, config, logger, metrics, services } = this.deps;
    if (this.deps.serveHttp) {
      this.server = new WorkerHttpServer({ db: this.deps.db, metrics, logger, ready: () => !this.stopping, metricsToken: config.api.metricsToken });
      this.port = await this.server.start(config.workerPort, config.api.metricsBindAddress);
    }
    this.reporter.start();
    await this.engine.start();
    await this.fanOut.start();
    await this.listener.start();
    this.maintenanceWorkId = await boss.work(QUEUES.maintenance, { pollingIntervalSeconds: 30 }, async () => {
      const expired = await services.subscriptions.expireIdle();
      if (expired > 0) logger.info({ subscriptions: expired }, 'idle PULL subscriptions deleted');
      await this.purge.run(MAINTENANCE_BUDGET_MS, () => this.stopping);
      await services.audit.maintain(config.auditRetentionDays, MAINTENANCE_BUDGET_MS, () => this.stopping);
    });
    await boss.schedule(QUEUES.maintenance, MAINTENANCE_CRON);
    this.statistics.start();
    this.sampler = setInterval(() => {
      this.store.backlog().then(
        ({ due, held }) => {
          metrics.deliveryQueueDepth.set(due);
          metrics.heldEndpoints.set(held);
        },
        (error: unknown) => logger.debug({ err: error }, 'could not sample the delivery backlog'),
      );
      this.sampleQueues().catch((error: unknown) => logger.debug({ err: error }, 'could not sample the queues'));
    }, BACKLOG_SAMPLE_MS);
    this.sampler.unref();
    logger.info({ concurrency: config.workerConcurrency, owner: this.engine.owner, port: this.port }, 'delivery workers started');
  }

  /** Jobs waiting per queue and the age of the oldest, from pg-boss's own counts and its oldest job. */
  private async sampleQueues(): Promise<void> {
    const { boss, metrics } = this.deps;
    const queues = await boss.getQueues([...OBSERVED_QUEUES]);
    for (const queue of queues) {
      metrics.queueDepth.set({ queue: queue.name }, queue.queuedCount);
      const [oldest] = await boss.findJobs(queue.name, { queued: true, limit: 1 });
      const age = oldest ? Math.max(0, (Date.now() - new Date(oldest.createdOn).getTime()) / 1000) : 0;
      metrics.queueOldestJobAge.set({ queue: queue.name }, age);
    }
  }

  /** Stops fetching and claiming, waits for the attempts in flight and their records, then closes the HTTP agent. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sampler);
    await this.listener.stop();
    await this.fanOut.stop();
    await this.statistics.stop();
    if (this.maintenanceWorkId) await this.deps.boss.offWork(QUEUES.maintenance, { id: this.maintenanceWorkId, wait: true });
    await this.engine.stop();
    await this.claimPool.end();
    await this.recorder.flush();
    await this.reporter.stop();
    await this.http.close();
    await this.server?.stop();
  }
}
