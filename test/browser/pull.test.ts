/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import type { Receiver } from '../support/receiver.js';
import type { Tenant } from '../support/scenario.js';
import { BROWSER_AVAILABLE, BROWSER_REQUIRED, startConsoleFixture, type Browser, type ConsoleFixture } from './chromium.js';

const CREATE_PULL = `mutation($input: CreatePullSubscriptionInput!) {
  createPullSubscription(input: $input) { subscription { id url } secret } }`;
const PULL = `query($id: ID!) { pullDeliveries(subscriptionId: $id, first: 1) { delivery { id } leaseToken } }`;
const ACK = `mutation($id: ID!, $results: [PullResultInput!]!) { acknowledgeDeliveries(subscriptionId: $id, results: $results) }`;

const INVOICE_PAID = { invoiceId: 'INV-1', customerId: 'C-1', amount: 10, currency: 'EUR', paidAt: '2026-11-23T10:00:00.000Z' };

describe.skipIf(!BROWSER_AVAILABLE && !BROWSER_REQUIRED)('pull subscriptions in the console', () => {
  let t: TestApp;
  let receiver: Receiver;
  let acme: Tenant;
  let browser: Browser;
  let publisherKey: string;

  let fixture: ConsoleFixture | undefined;

  beforeAll(async () => {
    fixture = await startConsoleFixture('PUBLISHER');
    ({ t, receiver, acme, browser, key: publisherKey } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const facts = (page: Page) => page.locator('dl.facts');
  const fact = async (page: Page, term: string) =>
    (await facts(page).locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]').textContent())!;

  it('shows a pull subscription: kind, waiting deliveries, last pulled, how to pull, and no endpoint health', async () => {
    const pushUrl = `${receiver.url}/push`;
    await acme.subscribe({ url: pushUrl, channels: ['invoices'] });
    const { createPullSubscription } = await t.ok<{ createPullSubscription: { subscription: { id: string; url: string } } }>(
      acme.adminToken,
      CREATE_PULL,
      { input: { channels: ['invoices'], events: ['invoices.paid'], description: 'reconciliation job', expireAfterIdleSeconds: 7200 } },
    );
    const { id, url } = createPullSubscription.subscription;
    expect(url).toBe(`urn:hookline:pull:${id}`);

    const first = await acme.publish('invoices.paid', INVOICE_PAID);
    await acme.publish('invoices.paid', { ...INVOICE_PAID, invoiceId: 'INV-2' });
    await acme.waitForDeliveries(first.event.id, 2);

    const page = await browser.newPage();
    await browser.signIn(page, acme.adminToken);

    // The list: a kind badge on each row; the pull one shows its urn, what waits and when it was last pulled, not endpoint health.
    const pullRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: url }) });
    await pullRow.waitFor();
    expect(await pullRow.getByText('Pull', { exact: true }).count()).toBe(1);
    expect(await pullRow.textContent()).toContain('2 waiting · last pulled Never');
    expect(await pullRow.getByText('Healthy').count()).toBe(0);
    const pushRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: pushUrl }) });
    expect(await pushRow.getByText('Push', { exact: true }).count()).toBe(1);
    expect(await pushRow.getByText('Healthy').count()).toBe(1);
    await browser.screenshot(page, 'pull-01-list');

    await pullRow.getByRole('link', { name: url }).click();
    await page.getByRole('heading', { name: 'Performance' }).waitFor();
    expect(await fact(page, 'Kind')).toContain('Pull');
    expect(await fact(page, 'Waiting deliveries')).toMatch(/^2 pending or retrying/);
    expect(await fact(page, 'Last pulled')).toBe('Never');
    expect(await fact(page, 'Idle expiry')).toBe('After 2 hours without a pull');
    const terms = await facts(page).locator('dt').allTextContents();
    expect(terms).not.toContain('Endpoint health');
    expect(terms).not.toContain('Rate limit');
    expect(terms).not.toContain('Custom headers');

    const howTo = page.getByRole('region', { name: 'How to pull' });
    expect(await howTo.getByLabel('Pull deliveries').textContent()).toContain(`pullDeliveries(subscriptionId: "${id}", first: 100, waitSeconds: 20)`);
    expect(await howTo.getByLabel('Acknowledge deliveries').textContent()).toContain(`acknowledgeDeliveries(subscriptionId: "${id}"`);
    expect(await howTo.getByLabel('hookline listen').textContent()).toBe(
      'npx hookline listen --forward-to http://localhost:3000/webhooks --channels invoices --events invoices.paid',
    );
    await browser.screenshot(page, 'pull-02-waiting');

    // A consumer pulls one and acknowledges it: the page shows it delivered, like a push.
    const { pullDeliveries } = await t.ok<{ pullDeliveries: Array<{ delivery: { id: string }; leaseToken: string }> }>(publisherKey, PULL, { id });
    expect(pullDeliveries).toHaveLength(1);
    const [pulled] = pullDeliveries;
    const acked = await t.ok<{ acknowledgeDeliveries: number }>(publisherKey, ACK, {
      id,
      results: [{ deliveryId: pulled!.delivery.id, leaseToken: pulled!.leaseToken, status: 200, body: 'ok', durationMs: 12 }],
    });
    expect(acked.acknowledgeDeliveries).toBe(1);
    await acme.waitForStatus(pulled!.delivery.id, 'SUCCEEDED');

    await page.reload();
    await page.getByRole('heading', { name: 'Performance' }).waitFor();
    expect(await fact(page, 'Waiting deliveries')).toMatch(/^1 pending or retrying/);
    expect(await fact(page, 'Last pulled')).toMatch(/\d{4}/);
    const tile = (label: string) => page.locator('.tile', { hasText: label }).locator('.tile-value').textContent();
    expect(await tile('Succeeded')).toBe('1');
    expect(await tile('Pending')).toBe('1');
    expect(await tile('Success rate')).toBe('100.0%');
    expect(await tile('Latency p50')).toBe('12 ms');
    const deliveries = page.getByRole('region', { name: 'Recent deliveries' });
    await deliveries.getByRole('row').getByText('Succeeded').waitFor();
    await deliveries.getByRole('row').getByText('Pending').waitFor();
    await browser.screenshot(page, 'pull-03-after-pull');

    // Disabling it ends what waits, as nobody will pull it: the console says so first.
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    expect(dialogs).toEqual(['Disable it? Its 1 waiting delivery is cancelled.']);
    await expect.poll(() => fact(page, 'Waiting deliveries')).toMatch(/^0 pending or retrying/);
    await page.close();
  });

  it('creates a pull subscription with the form, without a URL', async () => {
    const page = await browser.newPage();
    await browser.signIn(page, acme.adminToken);
    await page.getByRole('button', { name: 'New subscription' }).click();
    expect(await page.getByRole('radio', { name: /^Push: Hookline POSTs each delivery/ }).isChecked()).toBe(true);
    await page.getByRole('radio', { name: /^Pull, without an endpoint/ }).check();
    // Nothing of an endpoint to fill in.
    expect(await page.getByLabel('URL', { exact: true }).count()).toBe(0);
    expect(await page.getByLabel('Custom headers').count()).toBe(0);
    await page.getByLabel('Description').fill('made in the console');
    await page.getByRole('checkbox', { name: 'disputes', exact: true }).check();
    await browser.screenshot(page, 'pull-04-form');
    await page.getByRole('button', { name: 'Create' }).click();
    expect(await page.getByTestId('shown-once-value').textContent()).toMatch(/^whsec_/);

    const { webhookSubscriptions } = await t.ok<{ webhookSubscriptions: Array<{ id: string; url: string; kind: string; description: string }> }>(
      acme.adminToken,
      '{ webhookSubscriptions { id url kind description } }',
    );
    const made = webhookSubscriptions.find((s) => s.description === 'made in the console')!;
    expect(made).toMatchObject({ kind: 'PULL', url: `urn:hookline:pull:${made.id}` });
    await page.getByRole('link', { name: made.url }).waitFor();
    await page.close();
  });
});
