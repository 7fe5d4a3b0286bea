import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
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

  it('counts a request without a valid key before reading its body, and refuses it over the limit without reading it', async () => {
    // From 127.0.0.2, an address of its own (the budget of 127.0.0.1 is spent above).
    const unfinished = (headers: Record<string, string>) =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        const url = new URL(t.url);
        const req = httpRequest(
          {
            host: '127.0.0.1',
            localAddress: '127.0.0.2',
            port: url.port,
            path: url.pathname,
            method: 'POST',
            // A body announced and never sent: the answer cannot wait for it.
            headers: { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024), ...headers },
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => {
              resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'], body });
              req.destroy();
            });
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        req.write('{"query": "{ viewer');
        setTimeout(() => {
          req.destroy();
          reject(new Error('no answer without the body'));
        }, 10_000).unref();
      });
    // Each request that never sends its body still spends the address's budget...
    const pending = Array.from({ length: PER_ADDRESS }, () => unfinished({}).catch(() => undefined));
    await expect
      .poll(
        async () =>
          ((await t.app.db.query(`SELECT points FROM rate_limits WHERE key = 'address:127.0.0.2'`)) as Array<{ points: number }>)[0]?.points,
        {
          timeout: 10_000,
        },
      )
      .toBe(PER_ADDRESS);
    // ...so the next one is refused at once, with or without a made-up key, its body unread.
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer hkl_made-up-token-that-is-long-enough-to-look-real' }];
    for (const headers of attempts) {
      const refused = await unfinished(headers);
      expect(refused.status).toBe(429);
      expect(refused.retryAfter).toMatch(/^\d+$/);
      expect(JSON.parse(refused.body)).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    }
    void pending;
  });

  it('stops inflating a gzip body as soon as it passes the size limit', async () => {
    const { adminToken } = await createAccount(t, 'Zipper');
    // A GiB of JSON-ish padding compresses to about a MiB; the limit is passed within its first few KiB.
    const inflated = 1024 * 1024 * 1024;
    const prefix = Buffer.from('{"query":"{ viewer { role } }","variables":{"x":"');
    const zipped = gzipSync(Buffer.concat([prefix, Buffer.alloc(inflated - prefix.length, 'a')]), { level: 9 });
    const url = new URL(t.url);
    const answer = await new Promise<{ status: number; sent: number; body: string }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': String(zipped.length),
            authorization: `Bearer ${adminToken}`,
          },
        },
        (response) => {
          answered = true;
          const at = sent;
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => {
            resolve({ status: response.statusCode!, sent: at, body });
            req.destroy();
          });
        },
      );
      req.on('error', (error) => (answered ? undefined : reject(error)));
      // The first 64 KiB inflate far past the limit; the rest is sent only if no answer came within 20 s.
      sent = 64 * 1024;
      req.write(zipped.subarray(0, sent));
      setTimeout(() => {
        if (answered) return;
        sent = zipped.length;
        req.end(zipped.subarray(64 * 1024));
      }, 20_000).unref();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT', fields: [{ field: 'body' }] } }] });
    expect(answer.sent).toBe(64 * 1024);
    expect(zipped.length).toBeGreaterThan(512 * 1024);

    // A gzip body within the limit is read as any other.
    const small = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${adminToken}` },
      body: gzipSync(JSON.stringify({ query: '{ viewer { role } }' })),
    });
    expect(await small.json()).toEqual({ data: { viewer: { role: 'ADMIN' } } });
  }, 60_000);
});

describe("a key's own rate limit", () => {
  const DEFAULT_PER_WINDOW = 10;
  const WINDOW = 60;
  const CEILING = 5;
  let t: TestApp;
  let second: RunningApp;
  let secondUrl: string;
  let admin: string;

  const CREATE = `mutation($name: String!, $role: Role!, $env: Environment, $rate: Int) {
    createApiKey(name: $name, role: $role, environment: $env, rateLimitPerSecond: $rate) { token apiKey { id rateLimitPerSecond } } }`;
  const SET = 'mutation($id: ID!, $rate: Int) { setApiKeyRateLimit(id: $id, rateLimitPerSecond: $rate) { id rateLimitPerSecond } }';

  beforeAll(async () => {
    const env = {
      HOOKLINE_RATE_LIMIT_PER_KEY: String(DEFAULT_PER_WINDOW),
      HOOKLINE_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
      HOOKLINE_RATE_LIMIT_PER_KEY_CEILING: String(CEILING),
    };
    t = await startTestApp({ role: 'api', env: { ...env, HOOKLINE_RATE_LIMIT_PER_KEY: '1000000' } });
    // Counting the setup against a default of 10 would starve it; a second process with the real default serves the bursts.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: t.database.url,
      PORT: '0',
      HOOKLINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      ...env,
    });
    second = await startApp({ config, logger: createLogger('silent'), role: 'api', migrate: false });
    secondUrl = `http://127.0.0.1:${second.port}/graphql`;
    ({ adminToken: admin } = await createAccount(t, 'Budgets'));
  });
  afterAll(async () => {
    await second?.stop();
    await t?.stop();
  });

  const create = async (rate: number | null, role = 'PUBLISHER', env?: string, token = admin) =>
    t.gql<{ createApiKey: { token: string; apiKey: { id: string; rateLimitPerSecond: number | null } } }>(token, CREATE, {
      name: 'budgeted',
      role,
      env,
      rate,
    });

  /** How many of n requests in a row the second process lets through. */
  const burst = async (token: string, n: number) => {
    let ok = 0;
    for (const answer of await Promise.all(Array.from({ length: n }, () => post(secondUrl, token)))) {
      if (answer.status === 200) ok += 1;
      else expectLimited(answer);
    }
    return ok;
  };

  it('lets an ADMIN give a key its own budget on creation, and counts that key against it', async () => {
    const own = await create(2);
    expect(own.errors).toBeUndefined();
    expect(own.data!.createApiKey.apiKey.rateLimitPerSecond).toBe(2);
    const plain = await create(null);
    expect(plain.data!.createApiKey.apiKey.rateLimitPerSecond).toBeNull();
    // 2 per second over a 60 s window: 120 requests; the default key gets 10.
    expect(await burst(own.data!.createApiKey.token, 130)).toBe(2 * WINDOW);
    expect(await burst(plain.data!.createApiKey.token, 20)).toBe(DEFAULT_PER_WINDOW);
    const listed = await t.ok<{ apiKeys: Array<{ id: string; rateLimitPerSecond: number | null }> }>(admin, '{ apiKeys { id rateLimitPerSecond } }');
    expect(listed.apiKeys.find((k) => k.id === own.data!.createApiKey.apiKey.id)?.rateLimitPerSecond).toBe(2);
  });

  it("changes a key's budget from its next request in every API process, and returns it to the default with null", async () => {
    const { data } = await create(null);
    const { token, apiKey } = data!.createApiKey;
    expect(await burst(token, DEFAULT_PER_WINDOW + 5)).toBe(DEFAULT_PER_WINDOW);
    const raised = await t.ok<{ setApiKeyRateLimit: { rateLimitPerSecond: number } }>(admin, SET, { id: apiKey.id, rate: 1 });
    expect(raised.setApiKeyRateLimit.rateLimitPerSecond).toBe(1);
    // The second process cached the key; the change reaches it through the database's notification.
    await expect.poll(async () => (await post(secondUrl, token)).status, { timeout: 10_000, interval: 100 }).toBe(200);
    const back = await t.ok<{ setApiKeyRateLimit: { rateLimitPerSecond: number | null } }>(admin, SET, { id: apiKey.id, rate: null });
    expect(back.setApiKeyRateLimit.rateLimitPerSecond).toBeNull();
    await expect.poll(async () => (await post(secondUrl, token)).status, { timeout: 10_000, interval: 100 }).toBe(429);
    // Both changes are in the account's audit log, with the budget before and after.
    const { auditLog } = await t.ok<{ auditLog: { nodes: Array<{ action: string; targetId: string; changes: Record<string, unknown> }> } }>(
      admin,
      '{ auditLog(first: 50) { nodes { action targetId changes } } }',
    );
    const changes = auditLog.nodes
      .filter((e) => e.action === 'api_key.rate_limit_set' && e.targetId === apiKey.id)
      .map((e) => e.changes.rateLimitPerSecond);
    expect(changes).toEqual([
      { before: 1, after: null },
      { before: null, after: 1 },
    ]);
  });

  it("refuses a budget above the operator's ceiling or below one, naming rateLimitPerSecond", async () => {
    for (const rate of [CEILING + 1, 0, -3]) {
      const created = await create(rate);
      expect(created.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'rateLimitPerSecond' }] });
      expect(created.errors?.[0]?.message).toContain(String(CEILING));
    }
    const { data } = await create(CEILING);
    const id = data!.createApiKey.apiKey.id;
    const set = await t.gql(admin, SET, { id, rate: CEILING + 1 });
    expect(set.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'rateLimitPerSecond' }] });
  });

  it('is set only by an ADMIN, on keys it manages', async () => {
    const { data } = await create(null);
    const id = data!.createApiKey.apiKey.id;
    for (const role of ['VIEWER', 'PUBLISHER']) {
      const token = await createKey(t, admin, role);
      expect((await t.gql(token, SET, { id, rate: 1 })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const stranger = (await createAccount(t, 'Stranger')).adminToken;
    expect((await t.gql(stranger, SET, { id, rate: 1 })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const stagingAdmin = await createKey(t, admin, 'ADMIN', 'STAGING');
    expect((await t.gql(stagingAdmin, SET, { id, rate: 1 })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await t.gql(stagingAdmin, CREATE, { name: 'x', role: 'PUBLISHER', env: 'PRODUCTION', rate: 1 })).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );
    const { url } = (await t.ok<{ createPortalSession: { url: string } }>(admin, 'mutation { createPortalSession { url } }')).createPortalSession;
    const page = await fetch(url, { method: 'POST', redirect: 'manual' });
    const session = /#session=(hkc_[\w-]+)/.exec(page.headers.get('location')!)![1]!;
    expect((await t.gql(session, SET, { id, rate: 1 })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
