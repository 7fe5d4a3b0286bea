import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/db/array-literal.js';
import { createDataSource, poolOf } from '../../src/db/data-source.js';
import { createPipelinedPool, transactionAtOnce } from '../../src/db/pipeline.js';
import { PreparingClient, StatementNames } from '../../src/db/prepared.js';
import { parseTimestamptz } from '../../src/db/timestamps.js';
import { startBoss } from '../../src/queue/boss.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** The statements prepared on the connection that runs this. */
async function prepared(run: (text: string) => Promise<Array<{ statement: string }>>): Promise<string[]> {
  return (await run('SELECT statement FROM pg_prepared_statements')).map((r) => r.statement);
}

describe('StatementNames', () => {
  it('names a text from its third run on, and the same text always alike', () => {
    const names = new StatementNames(3, 10, 100);
    expect(names.nameOf('SELECT $1')).toBeUndefined();
    expect(names.nameOf('SELECT $1')).toBeUndefined();
    const name = names.nameOf('SELECT $1');
    expect(name).toMatch(/^hookline_auto_\d+$/);
    expect(names.nameOf('SELECT $1')).toBe(name);
    expect(names.nameOf('SELECT $1 + 1')).toBeUndefined();
  });

  it('never names a statement that answers every column of a table, whose result a migration may change', () => {
    const names = new StatementNames(1, 10, 100);
    expect(names.nameOf('DELETE FROM t WHERE id = $1 RETURNING *')).toBeUndefined();
    expect(names.nameOf('DELETE FROM t WHERE id = $1 RETURNING id')).toBeDefined();
  });

  it('prepares no more texts than its bound, and forgets its counts rather than grow with one-off texts', () => {
    const names = new StatementNames(2, 2, 3);
    for (const text of ['a', 'a', 'b', 'b', 'c', 'c']) names.nameOf(text);
    expect(names.size).toBe(2);
    expect(names.nameOf('a')).toBeDefined();
    expect(names.nameOf('c')).toBeUndefined();

    const counting = new StatementNames(2, 10, 3);
    // Three one-off texts fill the counts; the fourth starts them again, so "x" needs two more runs.
    for (const text of ['x', 'y', 'z', 'w']) counting.nameOf(text);
    expect(counting.nameOf('x')).toBeUndefined();
    expect(counting.nameOf('x')).toBeDefined();
  });
});

describe('PreparingClient', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('prepares a parameterised statement run again and again, answers it alike, and sends statements without parameters as they are', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1, Client: PreparingClient });
    try {
      const text = 'SELECT $1::int + 40 AS answer /* prepared-statements test */';
      const answers: number[] = [];
      for (let i = 0; i < 5; i++) answers.push((await pool.query<{ answer: number }>(text, [2])).rows[0]!.answer);
      // The callback form, which node-postgres's pool.query itself uses, and a config object.
      const viaCallback = await new Promise<number>((resolve, reject) => {
        pool.connect().then((client) => {
          client.query(text, [3], (error: Error | null, result: pg.QueryResult<{ answer: number }>) => {
            client.release();
            if (error) reject(error);
            else resolve(result.rows[0]!.answer);
          });
        }, reject);
      });
      const viaConfig = (await pool.query<{ answer: number }>({ text, values: [4] })).rows[0]!.answer;
      for (let i = 0; i < 4; i++) await pool.query('SELECT 1 AS once /* prepared-statements test, no parameters */');

      expect(answers).toEqual([42, 42, 42, 42, 42]);
      expect(viaCallback).toBe(43);
      expect(viaConfig).toBe(44);
      const statements = await prepared(async (q) => (await pool.query<{ statement: string }>(q)).rows);
      expect(statements).toContain(text);
      expect(statements.some((s) => s.includes('no parameters'))).toBe(false);
    } finally {
      await pool.end();
    }
  });

  it('serves the data source and the pipelined connections', async () => {
    const source = createDataSource({ url: db.url, poolSize: 1 });
    await source.initialize();
    const pipelined = createPipelinedPool(db.url, 1, 'prepared-statements-test');
    try {
      const text = 'SELECT $1::text AS said /* data source */';
      for (let i = 0; i < 4; i++) await source.query(text, ['hello']);
      expect(await prepared((q) => source.query(q))).toContain(text);

      const atOnce = 'SELECT $1::text AS said /* pipelined */';
      for (let i = 0; i < 4; i++) await transactionAtOnce(pipelined, [{ text: atOnce, values: ['hello'] }]);
      expect(await prepared(async (q) => (await pipelined.query<{ statement: string }>(q)).rows)).toContain(atOnce);
      expect(poolOf(source).options.Client).toBe(PreparingClient);
    } finally {
      await pipelined.end();
      await source.destroy();
    }
  });

  it("is the client of pg-boss's pool, so that its fetch is prepared", async () => {
    let boss: PgBoss | undefined;
    try {
      boss = await startBoss({ url: db.url, logger: pino({ level: 'silent' }), poolSize: 1, supervise: false });
      const queue = 'hookline.events';
      for (let i = 0; i < 4; i++) {
        await boss.send(queue, { n: i });
        const jobs = await boss.fetch(queue);
        expect(jobs).toHaveLength(1);
      }
      const { rows } = (await boss.getDb().executeSql('SELECT statement FROM pg_prepared_statements')) as { rows: Array<{ statement: string }> };
      const statements = rows.map((r) => r.statement);
      expect(statements.some((s) => s.includes('job_common') || s.includes('pgboss.job'))).toBe(true);
    } finally {
      await boss?.stop({ graceful: false, close: true });
    }
  });
});

describe('values as PostgreSQL reads them', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 1, Client: PreparingClient });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('arrayLiteral: text, uuid, integer, boolean and timestamptz arrays arrive as they were, quotes, backslashes and NULLs included', async () => {
    const texts = ['plain', '', 'NULL', 'a,b', '{braces}', 'say "hi"', 'back\\slash', '\\"both\\"', ' spaced ', 'line\nbreak', 'ünïcödé ✓', null];
    const uuids = ['0192f1c4-7d2e-7000-8000-000000000001', null];
    const ints = [0, -7, 2147483647, null];
    const bools = [true, false, null];
    const instants = [new Date('2026-12-06T17:12:01.123Z'), new Date(0), null];
    const { rows } = await pool.query<{
      texts: Array<string | null>;
      uuids: Array<string | null>;
      ints: Array<number | null>;
      bools: Array<boolean | null>;
      instants: Array<Date | null>;
    }>('SELECT $1::text[] AS texts, $2::uuid[] AS uuids, $3::int[] AS ints, $4::boolean[] AS bools, $5::timestamptz[] AS instants', [
      arrayLiteral(texts),
      arrayLiteral(uuids),
      arrayLiteral(ints),
      arrayLiteral(bools),
      arrayLiteral(instants),
    ]);
    expect(rows[0]).toEqual({ texts, uuids, ints, bools, instants });
    const [empty] = (await pool.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [arrayLiteral([])])).rows;
    expect(empty!.n).toBe(0);
  });

  it('parseTimestamptz reads what PostgreSQL answers as the default parser does, in UTC and in another time zone', async () => {
    const parseDefault = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => unknown;
    const client = await pool.connect();
    try {
      for (const zone of ['UTC', 'Asia/Kolkata']) {
        await client.query(`SET TimeZone = '${zone}'`);
        const { rows } = await client.query<{ text: string; value: Date | number }>(
          `SELECT t::text AS text, t AS value FROM unnest(ARRAY[
             '2026-12-06 17:12:01.123456+00', '2026-12-06 17:12:01+00', '2026-12-06 17:12:01.1+00', '2026-02-28 23:59:59.999999+00',
             '1999-12-31 23:59:59.000001+00', '0050-06-01 12:00:00+00', 'infinity', '-infinity'
           ]::timestamptz[]) AS t`,
        );
        for (const row of rows) {
          const expected = parseDefault(row.text);
          expect(parseTimestamptz(row.text), row.text).toEqual(expected);
          expect(row.value, `${row.text} read by the client`).toEqual(expected);
        }
        if (zone === 'UTC') expect(rows[0]!.value).toEqual(new Date('2026-12-06T17:12:01.123Z'));
      }
    } finally {
      await client.query('RESET TimeZone');
      client.release();
    }
  });
});
