import type { PgBoss } from 'pg-boss';
import type { DataSource } from 'typeorm';
import { AccountService } from './accounts/service.js';
import type { Config } from './config.js';
import type { Metrics } from './http/metrics.js';
import type { Logger } from './logger.js';

/** What the domain services are built from. */
export interface ServiceDeps {
  db: DataSource;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  /** Encrypts signing secrets at rest. */
  masterKey: Buffer;
  metrics: Metrics;
}

/** The domain services; resolvers and workers reach the rules only through these. */
export interface Services {
  accounts: AccountService;
}

export function createServices(deps: ServiceDeps): Services {
  return {
    accounts: new AccountService(deps.db),
  };
}
