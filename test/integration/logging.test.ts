import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { serializeError } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const SECRET = 'whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ=';

describe('log lines', () => {
  let database: TestDatabase;
  let db: DataSource;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDataSource({ url: database.url, poolSize: 2 });
    await db.initialize();
    await runMigrations(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('carry neither the statement, its parameters nor the detail of a database error', async () => {
    await db.query(`INSERT INTO accounts (id, name) VALUES ('0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87', $1)`, [SECRET]);
    // A unique violation: pg's detail repeats the value ("Key (id)=(…) already exists"), TypeORM adds query and parameters.
    const failure = await db
      .query(`INSERT INTO accounts (id, name) VALUES ('0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87', $1)`, [SECRET])
      .catch((error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(Error);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).toContain(SECRET);
    const serialized = JSON.stringify(serializeError(failure));
    expect(serialized).not.toContain(SECRET);
    expect(serialized).not.toContain('0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87');
    expect(serialized).toContain('duplicate key value violates unique constraint');
    expect(JSON.stringify(serializeError(new Error('wrapped', { cause: failure })))).not.toContain(SECRET);
  });

  it('redact tokens, header values, event data and bodies in whatever object is logged', () => {
    const script = `
      import { createLogger } from ${JSON.stringify(new URL('../../src/logger.ts', import.meta.url).href)};
      const logger = createLogger('info');
      const secret = ${JSON.stringify(SECRET)};
      logger.info({ token: secret, headers: { authorization: 'Bearer ' + secret }, data: { amount: secret }, body: secret }, 'request');
      logger.info({ delivery: { headers: { 'x-api-key': secret }, body: secret, data: secret, token: secret } }, 'nested');
      logger.error({ err: Object.assign(new Error('insert failed'), { query: 'INSERT ' + secret, parameters: [secret], detail: secret }) }, 'failed');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const lines = child.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(child.stdout).not.toContain(SECRET.slice(6, 30));
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['request', 'nested', 'failed']);
    expect(child.stdout).toContain('insert failed');
  });
});
