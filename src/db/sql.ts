import type { Db } from 'pg-boss';
import type { EntityManager } from 'typeorm';

/**
 * A transaction that plain SQL runs in, whoever opened it: a TypeORM
 * transaction (publishing) or the one pg-boss hands a transactional
 * handler (the fan-out). `query` answers the rows, also of an UPDATE or
 * INSERT with RETURNING.
 */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** The same transaction as pg-boss's db option, so that jobs are sent in it. */
  readonly boss: Db;
}

export function sqlOfManager(manager: EntityManager): Sql {
  const runner = manager.queryRunner;
  if (!runner) throw new Error('a transaction is needed');
  const run = async <T>(text: string, values?: unknown[]) => ((await runner.query(text, values, true)) as { records: T[] }).records;
  return {
    query: run,
    boss: { executeSql: async (text: string, values?: unknown[]) => ({ rows: await run(text, values) }) },
  };
}

export function sqlOfBoss(db: Db): Sql {
  return {
    query: async <T>(text: string, values?: unknown[]) => (await db.executeSql(text, values)).rows as T[],
    boss: db,
  };
}
