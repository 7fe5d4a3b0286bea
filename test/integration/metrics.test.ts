import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestApp, type TestApp } from '../support/app.js';

/** The operation label values of the GraphQL request counter. */
function operationLabels(text: string): Set<string> {
  return new Set([...text.matchAll(/^hookline_graphql_requests_total\{operation="([^"]*)"/gm)].map((m) => m[1]!));
}

async function graphql(url: string, query: string, operationName?: string): Promise<void> {
  await (
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, operationName }) })
  ).text();
}

describe('metrics', () => {
  describe('beside the API', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ role: 'api' });
    });
    afterAll(async () => {
      await t?.stop();
    });

    it('cannot be grown from outside: made-up operation names and junk end in a fixed set of labels', async () => {
      const metricsUrl = new URL('/metrics', t.url).toString();
      const kinds = (name: string) => [
        `query ${name} { viewer { role } }`,
        `mutation ${name} { ${name}(x: 1) }`,
        `query ${name} { __typename }`,
        `{ ${name} }`,
        `}{ not graphql ${name}`,
      ];
      const send = async (count: number) => {
        const requests: Array<Promise<void>> = [];
        for (let i = 0; i < count; i++) {
          const name = `Op${randomBytes(8).toString('hex')}`;
          requests.push(graphql(t.url, kinds(name)[i % 5]!, i % 5 === 0 ? name : undefined));
          if (requests.length === 50) await Promise.all(requests.splice(0));
        }
        await Promise.all(requests);
      };
      // Every kind once, so that its series exist before the page is measured.
      await send(5);
      const graphqlSeries = (page: string) => page.split('\n').filter((line) => line.startsWith('hookline_graphql_')).length;
      const before = graphqlSeries(await (await fetch(metricsUrl)).text());
      await send(1000);
      const text = await (await fetch(metricsUrl)).text();
      expect(text).not.toMatch(/Op[0-9a-f]{16}/);
      expect(operationLabels(text)).toEqual(new Set(['viewer', 'unknown', '__typename']));
      // Not one series more than before the thousand names.
      expect(graphqlSeries(text)).toBe(before);
    });

    it('labels by the root field the operation asks for, through fragments', async () => {
      const { adminToken } = await createAccount(t, 'Labelled');
      const post = (query: string) =>
        fetch(t.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
          body: JSON.stringify({ query }),
        }).then((r) => r.text());
      await post('query Anything { ...Root } fragment Root on Query { apiKeys { id } }');
      await post('{ channels { name } eventNames }');
      await post('{ __schema { queryType { name } } }');
      const labels = operationLabels(await (await fetch(new URL('/metrics', t.url))).text());
      for (const label of ['apiKeys', 'multiple', 'introspection']) expect(labels).toContain(label);
    });
  });

  describe('on a port of their own, behind a token', () => {
    const token = randomBytes(24).toString('base64url');
    let t: TestApp;
    beforeAll(async () => {
      // The API on loopback's 127.0.0.1; the metrics port on 127.0.0.2 alone, as a monitoring network's address would be.
      t = await startTestApp({
        role: 'api',
        env: {
          HOOKLINE_METRICS_PORT: '0',
          HOOKLINE_METRICS_TOKEN: token,
          HOOKLINE_BIND_ADDRESS: '127.0.0.1',
          HOOKLINE_METRICS_BIND_ADDRESS: '127.0.0.2',
        },
      });
    });
    afterAll(async () => {
      await t?.stop();
    });

    it('are not served beside the API and answer only the token', async () => {
      expect((await fetch(new URL('/metrics', t.url))).status).toBe(404);
      const port = t.app.http?.metricsPort;
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(t.app.port);
      const url = `http://127.0.0.2:${port}/metrics`;
      await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
      await expect(fetch(`http://127.0.0.2:${t.app.port}/healthz`)).rejects.toThrow();
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('hookline_process_resident_memory_bytes');
      // The API itself is unchanged.
      expect((await fetch(new URL('/healthz', t.url))).status).toBe(200);
    });
  });
});
