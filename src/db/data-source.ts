import 'reflect-metadata';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { entities } from './entities/index.js';
import { migrations } from '../../migrations/index.js';
import { PreparingClient } from './prepared.js';
import type { Keyring } from '../secrets/keyring.js';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

/**
 * The application's TypeORM data source. Schema changes come only from the
 * reviewed files in migrations/: synchronize and migrationsRun stay off.
 */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities,
    migrations,
    migrationsTableName: 'hookline_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: options.poolSize ?? 10,
      Client: PreparingClient,
      application_name: options.applicationName ?? 'hookline',
      // A query that outlives this is a bug or a dead database; fail it rather than hang.
      statement_timeout: 30_000,
      connectionTimeoutMillis: 5_000,
    },
  });
}

/**
 * The node-postgres pool under the data source, for the statements whose
 * rows must come back as they are (TypeORM's query pairs an UPDATE's rows
 * with a count) and for named (prepared) statements.
 */
export function poolOf(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as unknown as { master: pg.Pool }).master;
}

/**
 * Applies pending migrations. A migration that rewrites sealed values gets
 * the master keys; without them it fails only if there is something to seal.
 */
export async function runMigrations(dataSource: DataSource, masterKey?: Keyring): Promise<string[]> {
  for (const migration of dataSource.migrations) {
    if ('masterKey' in migration) Object.assign(migration, { masterKey });
  }
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}
