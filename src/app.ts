import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { ApiKeyCache } from './accounts/key-cache.js';
import type { Config } from './config.js';
import { createDataSource, runMigrations } from './db/data-source.js';
import { createPipelinedPool } from './db/pipeline.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import { resolveMasterKey } from './db/master-key.js';
import type { HttpServer } from './http/server.js';
import { Metrics } from './metrics/metrics.js';
import type { Logger } from './logger.js';
import { startBoss } from './queue/boss.js';
import { WakeSender } from './queue/wakeup.js';
import { createServices, type Services } from './services.js';
import { Workers } from './delivery-engine/workers.js';

export type Role = 'all' | 'api' | 'worker';

const WORKER_POOL_SIZE = 10;
/** A publish holds a connection for one round trip, so a few serve many publishers. */
const PUBLISH_POOL_SIZE = 8;

export interface AppOptions {
  config: Config;
  logger: Logger;
  role: Role;
  /** Apply pending migrations before starting (the `start` command does). */
  migrate: boolean;
}

export interface RunningApp {
  url: string;
  port: number | undefined;
  /** Set when this start created the first operator key. */
  operatorToken: string | undefined;
  services: Services;
  db: DataSource;
  boss: PgBoss;
  http: HttpServer | undefined;
  /** The delivery side, unless the role is api. */
  workers: Workers | undefined;
  stop(): Promise<void>;
}

/** The database URL: DATABASE_URL, or an embedded PostgreSQL under the data directory. */
export async function openDatabase(config: Config, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  logger.info({ dataDir: config.dataDir }, 'DATABASE_URL is unset: starting the embedded PostgreSQL');
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, binaries: config.postgresBinaries, logger });
  return { url: embedded.url, embedded };
}

/**
 * Starts the parts of Hookline that the role asks for, in dependency order,
 * and returns a handle whose stop() takes them down in reverse: HTTP first,
 * then workers (draining deliveries in flight), the queue, the database pool
 * and last the embedded PostgreSQL.
 */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config, logger, role } = options;
  const stack: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    while (stack.length) {
      const stop = stack.pop()!;
      await stop().catch((error: unknown) => logger.error({ err: error }, 'error while stopping'));
    }
  };
  try {
    const { url, embedded } = await openDatabase(config, logger);
    if (embedded) stack.push(() => embedded.stop());

    // A worker claims and records whole batches of deliveries, so its
    // connections do not grow with its concurrency.
    const db = createDataSource({ url, poolSize: role === 'worker' ? WORKER_POOL_SIZE : 20 });
    await db.initialize();
    stack.push(() => db.destroy());
    const masterKey = await resolveMasterKey(config);
    if (options.migrate) {
      const applied = await runMigrations(db, masterKey);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    }

    const boss = await startBoss({
      url,
      logger,
      supervise: role !== 'api',
      monitorSeconds: config.queueMonitorSeconds,
      fanOutRetries: config.fanOutRetries,
      deadLetterRetentionDays: config.retentionDays,
      // An API process only sends jobs, inside its own transactions.
      poolSize: role === 'api' ? 3 : 10,
    });
    stack.push(() => boss.stop({ graceful: true, timeout: 20_000 }));

    const waker = new WakeSender(url, logger);
    stack.push(() => waker.close());

    // Publishing sends each transaction at once on connections of its own (src/db/pipeline.ts).
    let publishPool: pg.Pool | undefined;
    if (role !== 'worker') {
      const pool = createPipelinedPool(url, PUBLISH_POOL_SIZE, 'hookline-publish');
      pool.on('error', (error) => logger.warn({ err: error }, 'an idle publishing connection was lost'));
      stack.push(() => pool.end());
      publishPool = pool;
    }

    const metrics = new Metrics();
    const services = createServices({
      db,
      boss,
      config,
      logger,
      masterKey,
      metrics,
      wakeWorkers: (topic) => waker.wake(topic),
      wakePull: (ids) => waker.wakePull(ids),
      databaseUrl: url,
      publishPool,
    });
    stack.push(() => services.catalog.stop());
    const operatorToken = role === 'worker' ? undefined : await services.accounts.bootstrapOperator(config.bootstrapToken);

    let workers: Workers | undefined;
    if (role !== 'api') {
      // A worker-only process has no API server: it serves its health and metrics on a port of its own.
      const started = new Workers({ services, boss, config, logger, metrics, databaseUrl: url, db, serveHttp: role === 'worker' });
      await started.start();
      stack.push(() => started.stop());
      workers = started;
    }

    let http: HttpServer | undefined;
    let port: number | undefined;
    if (role !== 'worker') {
      // Loaded here so that a worker process carries no GraphQL or HTTP stack.
      const [{ HttpServer }, { buildHooklineSchema }] = await Promise.all([import('./http/server.js'), import('./graphql/schema.js')]);
      const keyCache = new ApiKeyCache(url, logger);
      await keyCache.start();
      stack.push(() => keyCache.stop());
      services.accounts.cacheAuthentication(keyCache);
      await services.pull.start();
      stack.push(() => services.pull.stop());
      http = new HttpServer({ schema: await buildHooklineSchema(), services, db, boss, metrics, logger, settings: config.api });
      port = await http.start(config.port);
      const server = http;
      stack.push(() => server.stop());
      // Before the server closes: the long polls it waits for answer at once.
      stack.push(() => services.pull.stopWaiting());
    }

    const host = !config.bindAddress || ['0.0.0.0', '::'].includes(config.bindAddress) ? 'localhost' : config.bindAddress;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port ?? config.port}/graphql`,
      port,
      operatorToken,
      services,
      db,
      boss,
      http,
      workers,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
