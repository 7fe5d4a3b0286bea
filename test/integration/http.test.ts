import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';

describe('HTTP routes', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    base = t.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves /healthz and /readyz', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('serves Prometheus metrics with GraphQL counts and latency by root field', async () => {
    await t.gql(t.operatorToken, 'query WhoAmI { viewer { role } }');
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/hookline_graphql_requests_total\{operation="viewer",type="query",outcome="ok"\} 1/);
    expect(text).toMatch(/hookline_graphql_request_duration_seconds_bucket\{le="[^"]+",operation="viewer",type="query"\}/);
    expect(text).toContain('hookline_process_resident_memory_bytes');
  });

  it('serves a GraphQL IDE whose assets come from this server', async () => {
    const page = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<base href="/graphql/ide/">');
    // Every script and stylesheet is relative to the base, so served here, not from a CDN.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.filter((a) => /^(https?:)?\/\//.test(a))).toEqual([]);
    const script = assets.find((a) => a.endsWith('.js'));
    expect(script).toBeDefined();
    expect((await fetch(`${base}/graphql/ide/${script}`)).status).toBe(200);
  });

  it('answers a GraphQL query sent by GET, in the query string, and refuses one without a CSRF preflight header', async () => {
    const search = new URLSearchParams({ query: 'query Who { viewer { role } __typename t: __typename }', operationName: 'Who' });
    const headers = { authorization: `Bearer ${t.operatorToken}`, accept: 'application/json' };
    const answered = await fetch(`${t.url}?${search.toString()}#ignored`, { headers: { ...headers, 'apollo-require-preflight': 'true' } });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answered.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await answered.json()).toEqual({ data: { viewer: { role: 'OPERATOR' }, __typename: 'Query', t: 'Query' } });

    const refused = await fetch(`${t.url}?${search.toString()}`, { headers });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/CSRF/);
  });

  it('answers a POST to /graphql with its length and security headers, a query string beside the body changing nothing', async () => {
    const response = await fetch(`${t.url}?unused=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const body = await response.text();
    expect(response.status).toBe(200);
    expect(JSON.parse(body)).toEqual({ data: { __typename: 'Query' } });
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers 503 on /readyz while the database is unreachable, and 200 when it returns', async () => {
    const admin = new pg.Client({ connectionString: t.database.url.replace(`/${t.database.name}`, '/postgres') });
    await admin.connect();
    try {
      // Refuse new connections to this database and end the open ones, as an outage would.
      await admin.query(`ALTER DATABASE ${t.database.name} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [t.database.name]);
      const down = await fetch(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { problems: string[] }).problems).toContain('database unreachable');
    } finally {
      await admin.query(`ALTER DATABASE ${t.database.name} WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await expect.poll(async () => (await fetch(`${base}/readyz`)).status, { timeout: 15_000, interval: 250 }).toBe(200);
  });
});
