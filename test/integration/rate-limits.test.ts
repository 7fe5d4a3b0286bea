import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createAccount, createKey, startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';

const PER_KEY = 40;
const PER_ADDRESS = 5;
// Long enough that no window ends while the test runs.
const WINDOW_SECONDS = 120;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: GraphQLResult;
}

async function post(url: string, token: string | undefined, query = '{ viewer { role } }'): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as GraphQLResult };
}

function expectLimited(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(answer.body.data).toBeUndefined();
  const error = answer.body.errors?.[0];
  expect(error?.extensions?.code).toBe('RATE_LIMITED');
  const seconds = error?.extensions?.retryAfterSeconds as number;
  expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= WINDOW_SECONDS).toBe(true);
  expect(answer.retryAfter).toBe(String(seconds));
}

describe('rate limits', () => {
  let t: TestApp;
  let second: RunningApp;
  let secondUrl: string;

  beforeAll(async () => {
    const env = {
      HOOKLINE_RATE_LIMIT_PER_KEY: String(PER_KEY),
      HOOKLINE_RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
      HOOKLINE_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    };
    t = await startTestApp({ role: 'api', env });
    // A second API process on the same database, as a fleet runs them.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: t.database.url,
      PORT: '0',
      HOOKLINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      ...env,
    });
    second = await startApp({ config, logger: createLogger('silent'), role: 'api', migrate: false });
    secondUrl = `http://127.0.0.1:${second.port}/graphql`;
  });
  afterAll(async () => {
    await second?.stop();
    await t?.stop();
  });

  it('keeps its counters in an unlogged table: no WAL flush per request, and nothing to keep after a crash', async () => {
    const [table] = (await t.app.db.query(`SELECT relpersistence FROM pg_class WHERE oid = 'rate_limits'::regclass`)) as Array<{
      relpersistence: string;
    }>;
    expect(table).toEqual({ relpersistence: 'u' });
  });

  it('lets a burst on one key through up to its limit, across two API processes, and refuses the rest with 429', async () => {
    const { adminToken } = await createAccount(t, 'Bursty');
    const token = await createKey(t, adminToken, 'VIEWER');
    const answers = await Promise.all(Array.from({ length: PER_KEY * 3 }, (_, i) => post(i % 2 ? secondUrl : t.url, token)));
    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status !== 200);
    expect(ok).toHaveLength(PER_KEY);
    expect(ok.every((a) => a.body.errors === undefined)).toBe(true);
    expect(limited).toHaveLength(PER_KEY * 2);
    for (const answer of limited) expectLimited(answer);

    // Another key of the same account has a budget of its own.
    const other = await createKey(t, adminToken, 'VIEWER');
    expect((await post(secondUrl, other)).body.errors).toBeUndefined();
  });

  it('limits requests without a valid key by client address, and not the keys used from there', async () => {
    const { adminToken } = await createAccount(t, 'Neighbour');
    const seen: string[] = [];
    for (let i = 0; i < PER_ADDRESS; i++) {
      const answer = await post(t.url, i % 2 ? undefined : 'hkl_made-up-token-that-is-long-enough-to-look-real');
      seen.push(String(answer.body.errors?.[0]?.extensions?.code));
    }
    expect(seen.every((code) => code === 'UNAUTHENTICATED')).toBe(true);
    expectLimited(await post(t.url, undefined));
    expectLimited(await post(secondUrl, 'hkl_another-made-up-token-that-is-long-enough'));
    // Introspection without a key is counted too.
    expectLimited(await post(t.url, undefined, '{ __schema { queryType { name } } }'));
    expect((await post(t.url, adminToken)).body.errors).toBeUndefined();

    // Each process counts what it refused, by key and by address.
    const metrics = await (await fetch(new URL('/metrics', t.url))).text();
    expect(metrics).toMatch(/^hookline_graphql_rate_limited_total\{by="address"\} 2$/m);
    expect(metrics).toMatch(/^hookline_graphql_rate_limited_total\{by="key"\} \d+$/m);
  });
});
