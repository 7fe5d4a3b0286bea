import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Environment } from '../../src/domain.js';
import { RetentionPurge } from '../../src/delivery-engine/retention.js';
import { createLogger } from '../../src/logger.js';
import { portalSigningKey, signLink } from '../../src/portal/link-token.js';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { createSubscription, errorOf, expectBadInput } from '../support/subscriptions.js';

const CREATE_LINK = 'mutation($s: Int, $ro: Boolean) { createPortalSession(expiresInSeconds: $s, readOnly: $ro) { url expiresAt } }';

describe('portal links and console sessions', () => {
  let t: TestApp;
  let base: string;
  let admin: string;
  let sql: pg.Client;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    base = t.url.replace(/\/graphql$/, '');
    ({ adminToken: admin } = await createAccount(t, 'Portal Co'));
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await t?.stop();
  });

  const link = async (token = admin, variables: Record<string, unknown> = {}) =>
    (await t.ok<{ createPortalSession: { url: string; expiresAt: string } }>(token, CREATE_LINK, variables)).createPortalSession;

  /** Fetches a link as a mail scanner, a link preview or a person's browser does first. */
  const open = (url: string) => fetch(url, { redirect: 'manual' });

  /** Presses the page's button: the form posts back to the link, from this site. */
  const press = (url: string, headers: Record<string, string> = { origin: base, 'sec-fetch-site': 'same-origin' }) =>
    fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

  const sessionOf = async (url: string): Promise<string> => {
    const page = await open(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    const response = await press(url);
    expect(response.status).toBe(303);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const location = response.headers.get('location')!;
    const match = /^\/console\/#session=(hkc_[A-Za-z0-9_-]{43})$/.exec(location);
    expect(match, location).not.toBeNull();
    return match![1]!;
  };

  it('serves the console page and its assets from this server', async () => {
    const moved = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe('/console/');
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${base}/console/assets/missing.js`)).status).toBe(404);
  });

  describe('createPortalSession', () => {
    it('gives an ADMIN a link into this server for an hour by default', async () => {
      const before = Date.now();
      const { url, expiresAt } = await link();
      const after = Date.now();
      expect(url.startsWith(`${base}/console/portal/`)).toBe(true);
      // The server counts the hour from its own clock while it serves the request (between
      // before and after), rounded down to the whole second that the signed link carries.
      const expires = new Date(expiresAt).getTime();
      expect(expires % 1000).toBe(0);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
      expect(expires).toBeLessThanOrEqual(after + 3600_000);
    });

    it('takes a lifetime between 60 seconds and a day', async () => {
      const { expiresAt } = await link(admin, { s: 60 });
      expect(new Date(expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
      for (const s of [59, 86_401, 0, -5]) expectBadInput(await t.gql(admin, CREATE_LINK, { s }), 'expiresInSeconds');
      await link(admin, { s: 86_400 });
    });

    it('is refused to every role but ADMIN', async () => {
      for (const role of ['VIEWER', 'PUBLISHER']) {
        const token = await createKey(t, admin, role);
        expect(errorOf(await t.gql(token, CREATE_LINK)).code).toBe('FORBIDDEN');
      }
      expect(errorOf(await t.gql(t.operatorToken, CREATE_LINK)).code).toBe('FORBIDDEN');
      expect(errorOf(await t.gql(undefined, CREATE_LINK)).code).toBe('UNAUTHENTICATED');
    });
  });

  describe('opening a link', () => {
    it('signs a browser in as ADMIN of the account and environment, once', async () => {
      const { url } = await link();
      const session = await sessionOf(url);
      const viewer = await t.ok<{ viewer: { role: string; environment: string; account: { name: string } } }>(
        session,
        '{ viewer { role environment account { name } } }',
      );
      expect(viewer.viewer).toEqual({ role: 'ADMIN', environment: 'PRODUCTION', account: { name: 'Portal Co' } });
      const { subscription } = await createSubscription(t, session, { url: 'http://127.0.0.1:9/portal' });
      expect(subscription.environment).toBe('PRODUCTION');

      for (const again of [await open(url), await press(url)]) {
        expect(again.status).toBe(410);
        expect(again.headers.get('content-type')).toMatch(/text\/html/);
        expect(again.headers.get('location')).toBeNull();
        expect(await again.text()).toContain('This link was already used');
      }
    });

    it('is neither used up nor opened by fetching it, as scanners and link previews do', async () => {
      const { url } = await link();
      const linkId = JSON.parse(Buffer.from(url.slice(url.lastIndexOf('/') + 1).split('.')[0]!, 'base64url').toString('utf8')).id as string;
      for (let i = 0; i < 3; i++) {
        const page = await open(url);
        expect(page.status).toBe(200);
        expect(page.headers.get('location')).toBeNull();
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.headers.get('referrer-policy')).toBe('no-referrer');
        // No script may run on the page, so a scanner that runs scripts presses nothing.
        expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
        const html = await page.text();
        expect(html).toContain('Open the Hookline console');
        expect(html).toMatch(/<button type="submit">Open the console<\/button>/);
        expect(html).not.toMatch(/hkc_|<script/);
      }
      expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
      const { rows } = await sql.query(
        `SELECT l.used_at, (SELECT count(*)::int FROM console_sessions s WHERE s.portal_link_id = l.id) AS sessions FROM portal_links l WHERE l.id = $1`,
        [linkId],
      );
      expect(rows).toEqual([{ used_at: null, sessions: 0 }]);
      await sessionOf(url);
    });

    it("refuses a press that another site's page made the browser send, and keeps the link", async () => {
      const { url } = await link();
      const attempts: Array<Record<string, string>> = [
        { 'sec-fetch-site': 'cross-site', origin: 'https://attacker.example' },
        { origin: 'https://attacker.example' },
      ];
      for (const headers of attempts) {
        const response = await press(url, headers);
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
      }
      await sessionOf(url);
    });

    it('ends a session on the server when the console signs out', async () => {
      const session = await sessionOf((await link()).url);
      const other = await sessionOf((await link()).url);
      await t.ok(session, '{ viewer { role } }');
      const out = await fetch(`${base}/console/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session}` } });
      expect(out.status).toBe(204);
      expect(errorOf(await t.gql(session, '{ viewer { role } }')).code).toBe('UNAUTHENTICATED');
      // Only that session: another browser's stays signed in, and signing out twice is harmless.
      await t.ok(other, '{ viewer { role } }');
      expect((await fetch(`${base}/console/sign-out`, { method: 'POST', headers: { authorization: `Bearer ${session}` } })).status).toBe(204);
      expect((await fetch(`${base}/console/sign-out`, { method: 'POST' })).status).toBe(204);
      // The account's audit log says that the session signed out, once.
      const { auditLog } = await t.ok<{ auditLog: { nodes: Array<{ action: string; actor: { kind: string } }> } }>(
        admin,
        '{ auditLog(first: 20) { nodes { action actor { kind } } } }',
      );
      expect(auditLog.nodes.filter((e) => e.action === 'console.signed_out')).toEqual([
        { action: 'console.signed_out', actor: { kind: 'CONSOLE_SESSION' } },
      ]);
    });

    it('deletes expired sessions and links in the background, keeping what a live session needs', async () => {
      await sql.query('DELETE FROM console_sessions');
      await sql.query('DELETE FROM portal_links');
      const expiredSession = await sessionOf((await link()).url);
      const liveSession = await sessionOf((await link()).url);
      const unused = (await link()).url;
      const live = (await link()).url;
      const ids = async () => (await sql.query(`SELECT id FROM portal_links ORDER BY id`)).rows.map((r: { id: string }) => r.id) as string[];
      const [expiredSessionLink, liveSessionLink, unusedLink, liveLink] = await ids();
      await sql.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE portal_link_id = $1`, [expiredSessionLink]);
      // Every link has expired but one; a session outlives its link.
      await sql.query(`UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE id <> $1`, [liveLink]);

      // The maintenance job's purge, as a worker runs it every minute.
      const purge = new RetentionPurge(t.app.db, createLogger('silent'), 30);
      await purge.run(5_000);
      expect(await ids()).toEqual([liveSessionLink, liveLink]);
      expect((await sql.query(`SELECT count(*)::int AS n FROM console_sessions`)).rows[0].n).toBe(1);
      expect(unusedLink).toBeDefined();
      await t.ok(liveSession, '{ viewer { role } }');
      expect(errorOf(await t.gql(expiredSession, '{ viewer { role } }')).code).toBe('UNAUTHENTICATED');
      // A link whose row is gone opens nothing (a real one's signed expiry has passed, and its page says so); the live one opens.
      for (const response of [await open(unused), await press(unused)]) expect(response.status).toBe(400);
      await sessionOf(live);
    });

    it('gives a read-only link a VIEWER session', async () => {
      const { url } = await link(admin, { ro: true });
      const session = await sessionOf(url);
      expect((await t.ok<{ viewer: { role: string } }>(session, '{ viewer { role } }')).viewer.role).toBe('VIEWER');
      await t.ok(session, '{ webhookSubscriptions { id } }');
      const create = await t.gql(
        session,
        'mutation { createWebhookSubscription(input: { url: "http://127.0.0.1:9/x", channels: ["invoices"] }) { secret } }',
      );
      expect(errorOf(create).code).toBe('FORBIDDEN');
    });

    it('never lets a session manage API keys or make links, even as ADMIN', async () => {
      const session = await sessionOf((await link()).url);
      for (const query of [
        '{ apiKeys { id } }',
        'mutation { createApiKey(name: "x", role: ADMIN) { token } }',
        'mutation { revokeApiKey(id: "00000000-0000-7000-8000-000000000000") { id } }',
        CREATE_LINK,
      ]) {
        expect(errorOf(await t.gql(session, query)).code, query).toBe('FORBIDDEN');
      }
    });

    it('refuses an altered link with a page that says so', async () => {
      const { url } = await link();
      const [payload, signature] = url.slice(url.lastIndexOf('/') + 1).split('.') as [string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...claims, r: !claims.r }), 'utf8').toString('base64url');
      for (const token of [`${forged}.${signature}`, `${payload}.${signature.slice(0, -2)}AA`, payload, 'x.y.z']) {
        for (const response of [await open(`${base}/console/portal/${token}`), await press(`${base}/console/portal/${token}`)]) {
          expect(response.status, token).toBe(400);
          expect(await response.text()).toContain('This link is not valid');
        }
      }
      // The genuine link was not used up by the attempts.
      await sessionOf(url);
    });

    it('refuses an expired link', async () => {
      const { url } = await link(admin, { s: 60 });
      const token = url.slice(url.lastIndexOf('/') + 1);
      const claims = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { id: string; a: string; e: Environment };
      // Signed with the server's key but already past its expiry.
      const key = portalSigningKey(t.config.masterKey!);
      const expired = signLink(key, {
        linkId: claims.id,
        accountId: claims.a,
        environment: claims.e,
        readOnly: false,
        expiresAt: Math.floor(Date.now() / 1000) - 1,
      });
      for (const response of [await open(`${base}/console/portal/${expired}`), await press(`${base}/console/portal/${expired}`)]) {
        expect(response.status).toBe(410);
        expect(await response.text()).toContain('This link has expired');
      }
      // And the stored expiry holds even for a token that claims more time.
      await sql.query(`UPDATE portal_links SET expires_at = now() - interval '1 second' WHERE id = $1`, [claims.id]);
      for (const stale of [await open(url), await press(url)]) {
        expect(stale.status).toBe(410);
        expect(await stale.text()).toContain('This link has expired');
      }
    });

    it('keeps a session to its own account and environment', async () => {
      const other = await createAccount(t, 'Other Co');
      const { subscription: theirs } = await createSubscription(t, other.adminToken, { url: 'http://127.0.0.1:9/theirs' });
      const stagingAdmin = await createKey(t, admin, 'ADMIN', 'STAGING');
      const { subscription: production } = await createSubscription(t, admin, { url: 'http://127.0.0.1:9/production' });
      const staging = await sessionOf((await link(stagingAdmin)).url);
      expect((await t.ok<{ viewer: { environment: string } }>(staging, '{ viewer { environment } }')).viewer.environment).toBe('STAGING');
      for (const id of [theirs.id, production.id]) {
        const result = await t.gql(staging, 'query($id: ID!) { webhookSubscription(id: $id) { id } }', { id });
        expect(errorOf(result).code).toBe('NOT_FOUND');
      }
      const list = await t.ok<{ webhookSubscriptions: unknown[] }>(staging, '{ webhookSubscriptions { id } }');
      expect(list.webhookSubscriptions).toEqual([]);
    });

    it('ends with the key that made it, and when it expires', async () => {
      const maker = await createKey(t, admin, 'ADMIN');
      const session = await sessionOf((await link(maker)).url);
      const unused = (await link(maker)).url;
      await t.ok(session, '{ viewer { role } }');
      const keyId = (await t.ok<{ viewer: { apiKey: { id: string } } }>(maker, '{ viewer { apiKey { id } } }')).viewer.apiKey.id;
      await t.ok(admin, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: keyId });
      expect(errorOf(await t.gql(session, '{ viewer { role } }')).code).toBe('UNAUTHENTICATED');
      expect((await open(unused)).status).toBe(400);
      expect((await press(unused)).status).toBe(400);

      const later = await sessionOf((await link()).url);
      await sql.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second'`);
      expect(errorOf(await t.gql(later, '{ viewer { role } }')).code).toBe('UNAUTHENTICATED');
      expect(errorOf(await t.gql('hkc_notasession', '{ viewer { role } }')).code).toBe('UNAUTHENTICATED');
    });

    it('stores only hashes of session tokens', async () => {
      const session = await sessionOf((await link()).url);
      const { rows } = await sql.query(`SELECT encode(token_hash, 'hex') AS h FROM console_sessions`);
      expect(rows.length).toBeGreaterThan(0);
      const all = JSON.stringify((await sql.query('SELECT * FROM console_sessions')).rows);
      expect(all).not.toContain(session);
    });
  });
});
