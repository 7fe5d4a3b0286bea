import type { PgBoss } from 'pg-boss';
import type { Config } from '../config.js';
import type { Metrics } from '../http/metrics.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services.js';

export interface WorkerDeps {
  services: Services;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  metrics: Metrics;
}

/** The queue consumers of one process. */
export class Workers {
  private readonly queues: string[] = [];

  constructor(private readonly deps: WorkerDeps) {}

  async start(): Promise<void> {
    this.deps.logger.info({ concurrency: this.deps.config.workerConcurrency, queues: this.queues }, 'workers started');
  }

  /** Stops taking jobs and waits for the ones in hand (pg-boss offWork waits). */
  async stop(): Promise<void> {
    for (const queue of this.queues) await this.deps.boss.offWork(queue, { wait: true });
  }
}
