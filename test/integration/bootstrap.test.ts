import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type Role } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDataSource, runMigrations } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;
const BOOTSTRAP_TOKEN = 'hkl_preset-bootstrap-token-for-the-whole-fleet-0001';
const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');

describe('operator bootstrap', () => {
  let database: TestDatabase;
  let sql: pg.Client;
  const env = () => ({
    NODE_ENV: 'test' as const,
    DATABASE_URL: database.url,
    PORT: '0',
    HOOKLINE_MASTER_KEY: MASTER_KEY,
    HOOKLINE_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
  });
  const start = (role: Role, migrate = false) => startApp({ config: loadConfig(env()), logger: createLogger('silent'), role, migrate });
  const gql = async (port: number, token: string, query: string) =>
    (await (
      await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      })
    ).json()) as { data?: Record<string, unknown>; errors?: Array<{ extensions: { code: string } }> };
  const operatorKeys = async () =>
    (await sql.query<{ count: number }>(`SELECT count(*)::int AS count FROM api_keys WHERE role = 'OPERATOR'`)).rows[0]!.count;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('is not done by a worker process', async () => {
    const db = createDataSource({ url: database.url, poolSize: 1 });
    await db.initialize();
    await runMigrations(db);
    await db.destroy();
    const worker = await start('worker');
    expect(worker.operatorToken).toBeUndefined();
    await worker.stop();
    expect(await operatorKeys()).toBe(0);
  });

  it('mints the token once; after it is revoked, API and workers restart without minting another', async () => {
    const first = await start('api');
    expect(first.operatorToken).toBe(BOOTSTRAP_TOKEN);
    const keys = (await gql(first.port!, BOOTSTRAP_TOKEN, '{ apiKeys { id role } }')).data!.apiKeys as Array<{ id: string }>;
    expect(keys).toHaveLength(1);
    const revoked = await gql(first.port!, BOOTSTRAP_TOKEN, `mutation { revokeApiKey(id: "${keys[0]!.id}") { revokedAt } }`);
    expect(revoked.errors).toBeUndefined();
    await first.stop();

    // The same environment (the preset token included) on every process of the fleet, restarted.
    const [api, worker, again] = [await start('api'), await start('worker'), await start('all')];
    try {
      for (const app of [api, worker, again]) expect(app.operatorToken).toBeUndefined();
      expect(await operatorKeys()).toBe(1);
      expect((await gql(api.port!, BOOTSTRAP_TOKEN, '{ viewer { role } }')).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      await Promise.all([api.stop(), worker.stop(), again.stop()]);
    }
  });

  it('makes a new operator token on the explicit command', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'create-operator-token', '--name', 'recovery'], {
      env: { ...process.env, ...env(), LOG_LEVEL: 'error' },
    });
    const token = /Operator token \(shown once, keep it\): (\S+)/.exec(stdout)?.[1];
    expect(token).toMatch(/^hkl_/);
    const api = await start('api');
    try {
      expect(api.operatorToken).toBeUndefined();
      expect((await gql(api.port!, token!, '{ viewer { role } }')).data).toEqual({ viewer: { role: 'OPERATOR' } });
    } finally {
      await api.stop();
    }
    expect(await operatorKeys()).toBe(2);
  });
});
