import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { buildHooklineSchema, printHooklineSchema } from '../../src/graphql/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('schema.graphql', () => {
  it('is what the resolvers build (run `npm run schema:emit` after changing them)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(printHooklineSchema(await buildHooklineSchema())).toBe(committed);
  });
});

describe('migrations', () => {
  let database: TestDatabase;
  let db: DataSource;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDataSource({ url: database.url, poolSize: 2 });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('build exactly the schema that the entities describe', async () => {
    await runMigrations(db);
    const diff = await db.driver.createSchemaBuilder().log();
    expect(diff.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('revert completely and apply again', async () => {
    for (let i = 0; i < db.migrations.length; i++) await db.undoLastMigration({ transaction: 'each' });
    const tables = await db.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'hookline_migrations'`,
    );
    expect(tables).toEqual([]);
    await runMigrations(db);
    expect((await db.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });
});
