/// <reference lib="dom" />
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, type TestApp } from '../support/app.js';
import type { Receiver } from '../support/receiver.js';
import type { Tenant } from '../support/scenario.js';
import { BROWSER_AVAILABLE, BROWSER_REQUIRED, CHROMIUM, startConsoleFixture, type Browser, type ConsoleFixture } from './chromium.js';

if (!BROWSER_AVAILABLE && !BROWSER_REQUIRED) {
  process.stderr.write(
    [
      '',
      '!!! The console browser tests did NOT run: no Chromium at ' + CHROMIUM + '.',
      '!!! Install it with `apt-get install -y chromium` (or set HOOKLINE_CHROMIUM to a Chromium binary),',
      '!!! then run `npm run test:browser`. CI sets HOOKLINE_BROWSER_TESTS=required and fails without it.',
      '',
      '',
    ].join('\n'),
  );
}

const CREATE_LINK = 'mutation($s: Int, $ro: Boolean) { createPortalSession(expiresInSeconds: $s, readOnly: $ro) { url } }';

describe.skipIf(!BROWSER_AVAILABLE && !BROWSER_REQUIRED)('the console in Chromium', () => {
  let t: TestApp;
  let origin: string;
  let receiver: Receiver;
  let acme: Tenant;
  let browser: Browser;
  let viewerKey: string;
  let subscriptionUrl: string;

  let fixture: ConsoleFixture | undefined;

  beforeAll(async () => {
    fixture = await startConsoleFixture('VIEWER');
    ({ t, origin, receiver, acme, browser, key: viewerKey } = fixture);
    subscriptionUrl = `${receiver.url}/erp/hooks`;
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const signIn = (page: Page, key: string) => browser.signIn(page, key);

  const banner = (page: Page) => page.getByRole('status', { name: 'Signed in as' });

  it('signs in with an ADMIN key, keeps it in the tab only, and forgets it on sign-out', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/console`);
    await browser.screenshot(page, '01-sign-in');
    // Keyboard only: the field, then the button.
    await page.getByLabel('API key').focus();
    await page.keyboard.type(acme.adminToken);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Webhooks' }).waitFor();
    expect(await banner(page).textContent()).toContain('Acme Receivables');
    expect(await banner(page).textContent()).toContain('Production');
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([acme.adminToken]);
    expect(await page.evaluate(() => Object.values(localStorage))).toEqual([]);
    const cookies = await browser.context.cookies();
    expect(cookies).toEqual([]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.getByLabel('API key').waitFor();
    await page.close();
  });

  it('says when it shows the staging environment', async () => {
    const page = await browser.newPage();
    await signIn(page, await createKey(t, acme.adminToken, 'VIEWER', 'STAGING'));
    expect(await banner(page).textContent()).toContain('Staging');
    expect(await banner(page).textContent()).not.toContain('Production');
    await page.getByText('No subscriptions yet.').waitFor();
    await page.close();
  });

  it('refuses a wrong key with a message', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/console`);
    await page.getByLabel('API key').fill('hkl_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('unknown');
    await page.close();
  });

  it('creates a subscription, explains the ledgers rule, and shows the secret once', async () => {
    const page = await browser.newPage();
    await signIn(page, acme.adminToken);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('button', { name: 'New subscription' }).click();
    await page.getByLabel('URL').fill(subscriptionUrl);
    await page.getByLabel('Description').fill('ERP receivables sync');
    await page.getByRole('checkbox', { name: 'invoices', exact: true }).check();
    // The events of the chosen channel appear as choices.
    await page.getByRole('checkbox', { name: 'invoices.paid', exact: true }).waitFor();
    expect(await page.getByText('is exclusive').count()).toBe(0);

    await page.getByRole('checkbox', { name: 'ledgers', exact: true }).check();
    const rule = page.getByText('ledgers is exclusive: a subscription that has it has no other channel');
    await rule.waitFor();
    await browser.screenshot(page, '02-ledgers-rule');
    // The server's own refusal is shown too, beside the form's explanation (both are alerts, both say to unsubscribe).
    await page.getByRole('button', { name: 'Create' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'The channel ledgers is exclusive' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('Unsubscribe from the other channels first (invoices)');

    await page.getByRole('checkbox', { name: 'ledgers', exact: true }).uncheck();
    await rule.waitFor({ state: 'detached' });
    await page.getByRole('radio', { name: /Custom waits/ }).check();
    await page.getByLabel('Waits in seconds, before each retry').fill('1, 2');
    await page.getByLabel('Custom headers').fill('X-Tenant: acme');
    await page.getByLabel('Rate limit (deliveries per second)').fill('20');
    await page.getByLabel('Most deliveries in flight at once').fill('4');
    await page.getByRole('button', { name: 'Create' }).click();
    const secret = await page.getByTestId('shown-once-value').textContent();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    receiver.setSecrets(secret!);
    const listed = page.getByRole('row').filter({ has: page.getByRole('link', { name: subscriptionUrl }) });
    await listed.getByText('Healthy').waitFor();
    expect(await listed.textContent()).toContain('Enabled');
    await browser.screenshot(page, '03-created-with-secret');

    const { webhookSubscriptions } = await t.ok<{ webhookSubscriptions: Array<Record<string, unknown>> }>(
      acme.adminToken,
      '{ webhookSubscriptions { url channels retrySchedule headers rateLimitPerSecond maxInFlight description } }',
    );
    expect(webhookSubscriptions).toEqual([
      {
        url: subscriptionUrl,
        channels: ['invoices'],
        retrySchedule: [1, 2],
        headers: { 'X-Tenant': 'acme' },
        rateLimitPerSecond: 20,
        maxInFlight: 4,
        description: 'ERP receivables sync',
      },
    ]);
    // Shown once: after a reload the secret is gone from the page.
    await page.reload();
    await page.getByRole('link', { name: subscriptionUrl }).waitFor();
    expect(await page.getByText(secret!).count()).toBe(0);
    await page.close();
  });

  it('sends a test event and shows its result without a reload', async () => {
    const page = await browser.newPage();
    await signIn(page, acme.adminToken);
    await page.getByRole('link', { name: subscriptionUrl }).click();
    await page.getByRole('button', { name: 'Send test event' }).waitFor();
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await page.getByRole('button', { name: 'Send test event' }).click();
    const result = page.getByRole('status', { name: 'Test event result' });
    await result.getByText('Succeeded').waitFor();
    expect(await result.textContent()).toContain('HTTP 200');
    expect(navigations).toBe(0);
    const [request] = await receiver.waitFor(1);
    expect(request!.verified).toBe(true);
    expect(JSON.parse(request!.body).event).toBe('webhook.test');

    // The delivery, its attempt and the recorded response body are listed.
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.getByRole('row').filter({ hasText: 'webhook.test' });
    await row.getByText('Succeeded').waitFor();
    await row.getByRole('button', { name: 'Attempts' }).click();
    const attempts = page.getByRole('table', { name: /Attempts of delivery/ });
    await attempts.waitFor();
    expect(await attempts.textContent()).toContain('200');
    expect(await attempts.textContent()).toContain('ok');
    await page.getByText('Succeeded', { exact: true }).first().waitFor();
    await browser.screenshot(page, '04-subscription-detail');

    // A failing endpoint: the result says Failed, and Redeliver sends it again.
    receiver.respondWith(() => ({ status: 503, body: 'maintenance' }));
    await page.getByRole('button', { name: 'Send test event' }).click();
    await result.getByText(/Retrying|Failed/).waitFor();
    expect(await result.textContent()).toContain('HTTP 503');
    // The page reloads as the delivery settles: the endpoint's health shows the failure.
    await page.getByText('Failing', { exact: true }).waitFor();
    await page
      .getByText(/^ [1-3] failed attempts? in a row$/)
      .first()
      .waitFor();
    await browser.screenshot(page, '04b-failing');
    receiver.reset();
    await page.close();
  });

  it('shows a VIEWER the data without the controls it may not use', async () => {
    const page = await browser.newPage();
    await signIn(page, viewerKey);
    expect(await banner(page).textContent()).toContain('Read only');
    await page.getByRole('link', { name: subscriptionUrl }).waitFor();
    expect(await page.getByRole('button', { name: 'New subscription' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await page.getByRole('link', { name: subscriptionUrl }).click();
    await page.getByRole('heading', { name: 'Performance' }).waitFor();
    for (const name of ['Send test event', 'Edit', 'Disable', 'Delete', 'Rotate secret', 'Redeliver', 'Replay failed deliveries']) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }
    await page.getByRole('row').filter({ hasText: 'webhook.test' }).first().waitFor();
    await browser.screenshot(page, '05-viewer-detail');
    await page.close();
  });

  it('browses events, the catalog and API keys', async () => {
    const page = await browser.newPage();
    await signIn(page, acme.adminToken);
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByRole('link', { name: 'webhook.test' }).first().waitFor();
    const total = () => page.getByText(/^\d+ events, newest first$/).textContent();
    await page.getByLabel('Event type').selectOption('invoices.paid');
    await expect.poll(total).toBe('0 events, newest first');
    await page.getByLabel('Event type').selectOption('webhook.test');
    await expect.poll(total).toBe('2 events, newest first');
    await page.getByLabel('From').fill('2099-01-01T00:00');
    await expect.poll(total).toBe('0 events, newest first');
    await page.getByLabel('From').fill('');
    await page.getByRole('link', { name: 'webhook.test' }).first().click();
    await page.getByRole('heading', { name: 'Data' }).waitFor();
    expect(await page.locator('pre').first().textContent()).toContain('This is a test event from Hookline.');
    await browser.screenshot(page, '06-event');

    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('heading', { name: /^ledgers/ }).waitFor();
    await page.getByText('invoices.paid', { exact: true }).click();
    await page.getByRole('heading', { name: 'JSON Schema' }).first().waitFor();
    await browser.screenshot(page, '07-catalog');

    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('Reporting');
    await page.getByRole('button', { name: 'Create key' }).click();
    const token = await page.getByTestId('shown-once-value').textContent();
    expect(token).toMatch(/^hkl_/);
    expect((await t.ok<{ viewer: { role: string } }>(token!, '{ viewer { role } }')).viewer.role).toBe('VIEWER');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke Reporting' }).click();
    await page.getByText(/^Revoked/).waitFor();
    expect((await t.gql(token!, '{ viewer { role } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await browser.screenshot(page, '08-api-keys');
    await page.close();
  });

  /** Opens a portal link as a person does: the page, then its button. */
  async function openLink(page: Page, url: string): Promise<void> {
    await page.goto(url);
    await page.getByRole('button', { name: 'Open the console' }).click();
  }

  it('signs in through a portal link once, when its button is pressed, and refuses used, altered and expired links', async () => {
    const { createPortalSession } = await t.ok<{ createPortalSession: { url: string } }>(acme.adminToken, CREATE_LINK, { ro: true });
    // A scanner that runs scripts: it loads the page, runs what it can and leaves. Nothing is used up.
    const scanner = await browser.newPage();
    const shown = await scanner.goto(createPortalSession.url, { waitUntil: 'networkidle' });
    expect(shown!.status()).toBe(200);
    await scanner.getByRole('heading', { name: 'Open the Hookline console' }).waitFor();
    await new Promise((r) => setTimeout(r, 500));
    expect(scanner.url()).toBe(createPortalSession.url);
    expect(await scanner.evaluate(() => sessionStorage.length)).toBe(0);
    await browser.screenshot(scanner, '09-portal-link-page');
    await scanner.close();
    expect((await t.app.db.query(`SELECT count(*)::int AS n FROM console_sessions`))[0].n).toBe(0);

    const page = await browser.newPage();
    await openLink(page, createPortalSession.url);
    await page.getByRole('link', { name: subscriptionUrl }).waitFor();
    expect(await banner(page).textContent()).toContain('Acme Receivables');
    expect(await banner(page).textContent()).toContain('Read only');
    // The session token left the address bar and lives in this tab only.
    expect(page.url()).toBe(`${origin}/console/#/webhooks`);
    const session = (await page.evaluate(() => Object.values(sessionStorage)))[0];
    expect(session).toMatch(/^hkc_/);
    expect(await page.getByRole('button', { name: 'New subscription' }).count()).toBe(0);
    await browser.screenshot(page, '10-portal-read-only');

    const reused = await browser.newPage();
    const again = await reused.goto(createPortalSession.url);
    expect(again!.status()).toBe(410);
    await reused.getByRole('heading', { name: 'This link was already used' }).waitFor();
    expect(await reused.getByRole('button').count()).toBe(0);
    await browser.screenshot(reused, '11-portal-reused');

    const altered = createPortalSession.url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await reused.goto(altered))!.status()).toBe(400);
    await reused.getByRole('heading', { name: 'This link is not valid' }).waitFor();

    // A page left open while the link expires: pressing its button says so.
    const { createPortalSession: short } = await t.ok<{ createPortalSession: { url: string } }>(acme.adminToken, CREATE_LINK, { s: 60 });
    await reused.goto(short.url);
    await t.app.db.query(`UPDATE portal_links SET expires_at = now() - interval '1 second'`);
    await reused.getByRole('button', { name: 'Open the console' }).click();
    await reused.getByRole('heading', { name: 'This link has expired' }).waitFor();
    expect((await reused.goto(short.url))!.status()).toBe(410);
    await reused.close();

    // Signing out ends the session on the server, not only in the tab.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    await expect
      .poll(async () => (await t.gql(session, '{ viewer { role } }')).errors?.[0]?.extensions?.code, { timeout: 5_000 })
      .toBe('UNAUTHENTICATED');

    // A link that is not read-only gives the ERP's customer the controls, but no API keys.
    const { createPortalSession: full } = await t.ok<{ createPortalSession: { url: string } }>(acme.adminToken, CREATE_LINK, {});
    const admin = await browser.newPage();
    await openLink(admin, full.url);
    await admin.getByRole('button', { name: 'New subscription' }).waitFor();
    expect(await admin.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await admin.close();
    await page.close();
  });

  it('lets its own pages frame the console, and no other site', async () => {
    const framingPage = `<!doctype html><iframe name="console" src="${origin}/console/"></iframe>`;
    /** A page at `at` that frames the console: whether the console came up inside the frame, and why not. */
    const framed = async (at: string, serve: (route: Route) => Promise<void>): Promise<{ shown: boolean; refused: string | undefined }> => {
      const page = await browser.newPage();
      let refused: string | undefined;
      page.on('requestfailed', (request) => {
        if (request.url() === `${origin}/console/`) refused = request.failure()?.errorText;
      });
      await page.route(at, serve);
      await page.goto(at);
      const shown = await page
        .frameLocator('iframe[name="console"]')
        .getByLabel('API key')
        .waitFor({ timeout: 5_000 })
        .then(() => true)
        .catch(() => false);
      await page.close();
      return { shown, refused };
    };
    const own = await framed(`${origin}/framing-page`, (route) => route.fulfill({ contentType: 'text/html', body: framingPage }));
    expect(own).toEqual({ shown: true, refused: undefined });
    // A page of another origin on this machine (another port), as a clickjacking page would be: the server
    // answers the frame's request, and the browser refuses to show the answer in the frame.
    const elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(framingPage));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = elsewhere.address() as AddressInfo;
      const other = await framed(`http://127.0.0.1:${port}/framing-page`, (route) => route.continue());
      expect(other).toEqual({ shown: false, refused: 'net::ERR_BLOCKED_BY_RESPONSE' });
    } finally {
      elsewhere.closeAllConnections();
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });

  it('edits, disables, enables, rotates, filters, replays and deletes', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signIn(page, acme.adminToken);
    await page.getByRole('link', { name: subscriptionUrl }).click();

    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Description').fill('Receivables, edited');
    await page.getByRole('checkbox', { name: 'disputes', exact: true }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Receivables, edited').waitFor();
    await page.getByText('invoices, disputes').waitFor();

    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    await page.getByText('Disabled', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = await page.getByTestId('shown-once-value').textContent();
    expect(rotated).toMatch(/^whsec_/);
    const secrets = await t.ok<{ webhookSecrets: string[] }>(acme.adminToken, 'query($id: ID!) { webhookSecrets(subscriptionId: $id) }', {
      id: page.url().split('/').pop(),
    });
    expect(secrets.webhookSecrets[0]).toBe(rotated);

    // The 503 test delivery has used its two retries by now, or soon will.
    // Rows of the deliveries table, not of the charts' legends.
    const deliveries = page.getByRole('region', { name: 'Recent deliveries' });
    await page.getByLabel('Status').selectOption('FAILED');
    const failed = deliveries.getByRole('row').filter({ hasText: 'Failed' });
    const succeeded = deliveries.getByRole('row').filter({ hasText: 'Succeeded' });
    // Until the filtered answer arrives the unfiltered rows are still shown: wait for the list to hold failures only.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return [(await failed.count()) > 0, await succeeded.count()];
        },
        { timeout: 15_000 },
      )
      .toEqual([true, 0]);
    await failed.first().getByRole('button', { name: 'Attempts' }).click();
    await page.getByText('maintenance').first().waitFor();

    receiver.setSecrets([rotated!]);
    await page.getByRole('button', { name: 'Replay failed deliveries' }).click();
    await page.getByText(/^1 failed delivery queued again\.$/).waitFor();
    await page.getByLabel('Status').selectOption('SUCCEEDED');
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return succeeded.count();
        },
        { timeout: 15_000 },
      )
      .toBe(2);
    await page.getByText('Healthy', { exact: true }).waitFor();
    await browser.screenshot(page, '12-after-replay');

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'New subscription' }).waitFor();
    await page.getByText('No subscriptions yet.').waitFor();
    await page.close();
  });

  it('shows the audit log in Activity: who did what and what changed, filters, and whether the log verifies', async () => {
    const page = await browser.newPage();
    await signIn(page, acme.adminToken);
    // The subscription form offers the operations channel like any other.
    await page.getByRole('button', { name: 'New subscription' }).click();
    await page.getByRole('checkbox', { name: 'operations', exact: true }).check();
    await page.getByRole('checkbox', { name: 'operations.endpoint_held', exact: true }).waitFor();

    await page.getByRole('link', { name: 'Activity' }).click();
    const status = page.getByRole('status', { name: 'Audit log verification' });
    await status.getByText('The log verifies').waitFor();
    const log = page.getByRole('table', { name: 'Audit log' });
    await log.getByText('subscription.deleted').first().waitFor();
    for (const action of ['subscription.created', 'secret.rotated', 'console.signed_in', 'portal_session.created', 'deliveries.replayed']) {
      expect(await log.getByText(action, { exact: true }).count(), action).toBeGreaterThan(0);
    }
    const created = log.getByRole('row').filter({ hasText: 'subscription.created' }).last();
    expect(await created.textContent()).toContain('API key');
    expect(await created.textContent()).toContain('ERP receivables sync');
    // Header names are shown, their values never.
    expect(await created.textContent()).toContain('X-Tenant');
    expect(await log.textContent()).not.toContain('acme');
    expect(await log.getByRole('row').filter({ hasText: 'Console session, link made by' }).count()).toBeGreaterThan(0);
    await browser.screenshot(page, '12-activity');

    await page.getByLabel('Action').selectOption('secret.rotated');
    await expect.poll(async () => (await log.getByRole('row').allTextContents()).slice(1).every((r) => r.includes('secret.rotated'))).toBe(true);
    expect(await log.getByRole('row').count()).toBeGreaterThan(1);

    // A row changed in the database is found.
    const [row] = (await t.app.db.query(`SELECT id, target_id FROM audit_log WHERE action = 'secret.rotated' LIMIT 1`)) as Array<{
      id: string;
      target_id: string;
    }>;
    await t.app.db.query(`UPDATE audit_log SET target_id = 'elsewhere' WHERE id = $1`, [row!.id]);
    await status.getByRole('button', { name: 'Check again' }).click();
    await status.getByText('The log does not verify').waitFor();
    expect(await status.textContent()).toContain(row!.id);
    await browser.screenshot(page, '13-activity-broken');
    await t.app.db.query(`UPDATE audit_log SET target_id = $2 WHERE id = $1`, [row!.id, row!.target_id]);
    await page.close();

    // A VIEWER reads it too.
    const viewer = await browser.newPage();
    await signIn(viewer, viewerKey);
    await viewer.getByRole('link', { name: 'Activity' }).click();
    await viewer.getByRole('status', { name: 'Audit log verification' }).getByText('The log verifies').waitFor();
    await viewer.getByRole('table', { name: 'Audit log' }).waitFor();
    await viewer.close();
  });
});
