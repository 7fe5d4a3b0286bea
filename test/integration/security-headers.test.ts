import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestApp, type TestApp } from '../support/app.js';

const ERP = 'https://erp.example.com';

describe('security headers and listening addresses', () => {
  let t: TestApp;
  let base: string;
  let link: string;
  beforeAll(async () => {
    // One proxy in front, whose X-Forwarded-Proto is believed; an ERP that embeds the portal; loopback only.
    t = await startTestApp({
      role: 'api',
      env: { HOOKLINE_TRUST_PROXY_HOPS: '1', HOOKLINE_FRAME_ANCESTORS: `'self' ${ERP}`, HOOKLINE_BIND_ADDRESS: '127.0.0.1' },
    });
    base = t.url.replace(/\/graphql$/, '');
    const { adminToken } = await createAccount(t, 'Headers Co');
    link = (await t.ok<{ createPortalSession: { url: string } }>(adminToken, 'mutation { createPortalSession { url } }')).createPortalSession.url;
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Every kind of answer the API gives: pages, GraphQL JSON (good, refused, malformed), health, metrics, assets, misses. */
  const answers = () =>
    [
      ['console', fetch(`${base}/console/`)],
      ['console redirect', fetch(`${base}/console`, { redirect: 'manual' })],
      ['portal link page', fetch(link)],
      ['refused portal link', fetch(`${base}/console/portal/x.y`)],
      ['IDE', fetch(t.url, { headers: { accept: 'text/html' } })],
      ['GraphQL', fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })],
      ['GraphQL error', fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { role } }"}' })],
      ['malformed body', fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })],
      ['healthz', fetch(`${base}/healthz`)],
      ['readyz', fetch(`${base}/readyz`)],
      ['metrics', fetch(`${base}/metrics`)],
      ['not found', fetch(`${base}/nowhere`)],
    ] as const;

  it('marks every HTML and JSON answer nosniff, and sends no HSTS over plain http', async () => {
    for (const [what, pending] of answers()) {
      const response = await pending;
      expect(response.headers.get('x-content-type-options'), what).toBe('nosniff');
      expect(response.headers.get('strict-transport-security'), what).toBeNull();
      expect(response.headers.get('x-powered-by'), what).toBeNull();
    }
  });

  it("lets the pages be framed only by this origin and the ones the operator names (default 'self')", async () => {
    for (const [what, url] of [
      ['console', `${base}/console/`],
      ['portal link page', link],
      ['refused portal link', `${base}/console/portal/x.y`],
      ['IDE', t.url],
    ] as const) {
      const response = await fetch(url, { headers: { accept: 'text/html' } });
      expect(response.headers.get('content-type'), what).toMatch(/text\/html/);
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy, what).toMatch(new RegExp(`(^|; )frame-ancestors 'self' ${ERP}(;|$)`));
      // X-Frame-Options cannot name the ERP, and would overrule the policy in old browsers.
      expect(response.headers.get('x-frame-options'), what).toBeNull();
    }
  });

  it('sends HSTS when the request came over https, as the trusted proxy says', async () => {
    const response = await fetch(`${base}/console/`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
    const graphql = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: '{"query":"{ __typename }"}',
    });
    expect(graphql.headers.get('strict-transport-security')).toBe('max-age=31536000');
  });

  it('listens on the address it is told, not on every interface', async () => {
    expect((await fetch(`http://127.0.0.1:${t.app.port}/healthz`)).status).toBe(200);
    // 127.0.0.2 is loopback too, but another address.
    await expect(fetch(`http://127.0.0.2:${t.app.port}/healthz`)).rejects.toThrow();
  });
});

describe('security headers by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("frames the console from its own origin only, trusts no proxy's word for https, and listens on every address", async () => {
    const base = t.url.replace(/\/graphql$/, '');
    const page = await fetch(`${base}/console/`);
    expect(page.headers.get('content-security-policy')).toMatch(/(^|; )frame-ancestors 'self'(;|$)/);
    const proxied = await fetch(`${base}/healthz`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(proxied.headers.get('strict-transport-security')).toBeNull();
    expect((await fetch(`http://127.0.0.2:${t.app.port}/healthz`)).status).toBe(200);
  });
});
