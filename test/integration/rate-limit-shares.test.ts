import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/accounts/service.js';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { Environment, Role } from '../../src/domain.js';
import { RequestRateLimiter } from '../../src/graphql/rate-limit.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const WINDOW_SECONDS = 120;

function principal(): Principal {
  return { apiKeyId: randomUUID(), accountId: randomUUID(), role: Role.PUBLISHER, environment: Environment.PRODUCTION };
}

/** Whether the request was let through; throws anything but RATE_LIMITED. */
async function admitted(limiter: RequestRateLimiter, caller: Principal): Promise<boolean> {
  try {
    await limiter.consume(caller, '127.0.0.1');
    return true;
  } catch (error) {
    if ((error as { extensions?: { code?: string } }).extensions?.code === 'RATE_LIMITED') return false;
    throw error;
  }
}

/**
 * A key with a large budget: each API process takes a hundredth of it from
 * the shared counter at a time and counts its requests in memory.
 */
describe('rate limits of large budgets', () => {
  let database: TestDatabase;
  let db: DataSource;
  let sql: pg.Client;
  const limiter = (perKey: number) =>
    new RequestRateLimiter(db, { rateLimitPerKey: perKey, rateLimitPerAddress: 20, rateLimitWindowSeconds: WINDOW_SECONDS }, createLogger('silent'));
  const counted = async (caller: Principal) =>
    (await sql.query<{ points: number }>('SELECT points FROM rate_limits WHERE key = $1', [`key:${caller.apiKeyId}`])).rows[0]?.points;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDataSource({ url: database.url, poolSize: 4 });
    await db.initialize();
    await runMigrations(db);
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await db?.destroy();
    await database?.drop();
  });

  it('takes a hundredth of the budget at once and counts the requests after it without a statement', async () => {
    const api = limiter(1000);
    const caller = principal();
    expect(await admitted(api, caller)).toBe(true);
    expect(await counted(caller)).toBe(10);

    // With the counters locked, only requests counted in memory can answer.
    await sql.query('BEGIN');
    await sql.query('LOCK TABLE rate_limits IN ACCESS EXCLUSIVE MODE');
    try {
      const answers = Promise.all(Array.from({ length: 9 }, () => admitted(api, caller)));
      const timeout = new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 2_000));
      expect(await Promise.race([answers, timeout])).toEqual(Array.from({ length: 9 }, () => true));
    } finally {
      await sql.query('COMMIT');
    }
    expect(await counted(caller)).toBe(10);
    // The eleventh takes the next share.
    expect(await admitted(api, caller)).toBe(true);
    expect(await counted(caller)).toBe(20);
  });

  it('never lets two processes admit more than the budget between them, and gives back a share that does not fit', async () => {
    const first = limiter(300);
    const second = limiter(300);
    const caller = principal();
    let accepted = 0;
    for (let i = 0; i < 400; i++) if (await admitted(i % 2 === 0 ? first : second, caller)) accepted += 1;
    // Each share is 3 requests: at most the 2 that one process still held when the other was refused go unused.
    expect(accepted).toBeLessThanOrEqual(300);
    expect(accepted).toBeGreaterThanOrEqual(298);
    // A share that did not fit was given back; each process then counted one refused request and refused the
    // rest from memory, without a statement each.
    expect(await counted(caller)).toBeLessThanOrEqual(302);
  });
});
