/// <reference lib="dom" />
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import type { Receiver } from '../support/receiver.js';
import type { Tenant } from '../support/scenario.js';
import { BROWSER_AVAILABLE, BROWSER_REQUIRED, startConsoleFixture, type Browser, type ConsoleFixture } from './chromium.js';

const PUBLISH_EVENTS = `mutation($inputs: [PublishEventInput!]!) {
  publishEvents(inputs: $inputs) { acceptedCount results { error { code message } event { id orderingKey sequence } } } }`;

const DELIVERIES_OF_SUBSCRIPTION = `query($id: ID!) { webhookSubscription(id: $id) {
  deliveries { nodes { status sequence event { orderingKey } } } } }`;

/** A port on 127.0.0.1 where nothing listens: a connection to it is refused. */
async function refusingPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe.skipIf(!BROWSER_AVAILABLE && !BROWSER_REQUIRED)('ordering per key in the console', () => {
  let t: TestApp;
  let origin: string;
  let receiver: Receiver;
  let acme: Tenant;
  let browser: Browser;
  let viewerKey: string;

  let fixture: ConsoleFixture | undefined;

  beforeAll(async () => {
    fixture = await startConsoleFixture('VIEWER');
    ({ t, origin, receiver, acme, browser, key: viewerKey } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const signIn = (page: Page, key: string) => browser.signIn(page, key);

  const facts = (page: Page) => page.locator('dl.facts');

  it('creates a subscription without ordering through the form and shows it', async () => {
    const url = `${receiver.url}/unordered`;
    const page = await browser.newPage();
    await signIn(page, acme.adminToken);
    await page.getByRole('button', { name: 'New subscription' }).click();
    await page.getByLabel('URL').fill(url);
    await page.getByRole('checkbox', { name: 'invoices', exact: true }).check();
    // Per key is the default, and each choice says what it does.
    const perKey = page.getByRole('radio', {
      name: /^Per key \(the default\): deliveries of events with the same ordering key arrive one at a time/,
    });
    const none = page.getByRole('radio', { name: /^None: every delivery is sent when it is due, in parallel/ });
    expect(await perKey.isChecked()).toBe(true);
    await none.check();
    await browser.screenshot(page, 'ordering-01-form');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('shown-once-value').waitFor();

    await page.getByRole('link', { name: url }).click();
    await page.getByRole('heading', { name: 'Performance' }).waitFor();
    expect(await facts(page).textContent()).toContain('OrderingNone: every delivery is sent when it is due');
    // Nothing waits behind a failure without ordering: there are no blocked keys to show.
    expect(await page.getByRole('heading', { name: 'Blocked ordering keys' }).count()).toBe(0);

    // The edit form starts from the saved setting.
    await page.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByRole('radio', { name: /^None:/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Cancel' }).click();

    const { webhookSubscriptions } = await t.ok<{ webhookSubscriptions: Array<{ url: string; ordering: string }> }>(
      acme.adminToken,
      '{ webhookSubscriptions { url ordering } }',
    );
    expect(webhookSubscriptions).toEqual([{ url, ordering: 'NONE' }]);
    await page.close();
  });

  it('lists a key blocked by a failed delivery, hides Unblock from a VIEWER, and unblocks it', async () => {
    const refusing = `http://127.0.0.1:${await refusingPort()}/ordered`;
    const sub = await acme.subscribe({ url: refusing, channels: ['invoices'], retrySchedule: [] });
    const { publishEvents } = await t.ok<{
      publishEvents: { acceptedCount: number; results: Array<{ event: { id: string; orderingKey: string; sequence: number } }> };
    }>(acme.adminToken, PUBLISH_EVENTS, {
      inputs: [
        { type: 'invoices.created', data: { invoiceId: 'INV-7' }, orderingKey: 'customer-42' },
        { type: 'invoices.created', data: { invoiceId: 'INV-8' }, orderingKey: 'customer-42' },
      ],
    });
    expect(publishEvents.acceptedCount).toBe(2);
    expect(publishEvents.results.map((r) => r.event.sequence)).toEqual([1, 2]);

    // The first is refused and, with no retries, FAILED; the second waits behind it.
    const statuses = async () => {
      const d = await t.ok<{ webhookSubscription: { deliveries: { nodes: Array<{ status: string; sequence: number }> } } }>(
        acme.adminToken,
        DELIVERIES_OF_SUBSCRIPTION,
        { id: sub.id },
      );
      return d.webhookSubscription.deliveries.nodes.map((n) => `${n.sequence} ${n.status}`).sort();
    };
    await expect.poll(statuses, { timeout: 20_000 }).toEqual(['1 FAILED', '2 PENDING']);

    // A VIEWER sees the blocked key, without the button.
    const viewer = await browser.newPage();
    await signIn(viewer, viewerKey);
    await viewer.getByRole('link', { name: refusing }).click();
    const viewerBlocked = viewer.getByRole('region', { name: 'Blocked ordering keys' });
    await viewerBlocked.getByRole('row').filter({ hasText: 'customer-42' }).waitFor();
    expect(await viewer.getByRole('button', { name: /Unblock/ }).count()).toBe(0);
    await viewerBlocked.getByText('until an admin redelivers it or unblocks the key').waitFor();
    await browser.screenshot(viewer, 'ordering-02-viewer-blocked');
    await viewer.close();

    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signIn(page, acme.adminToken);
    await page.getByRole('link', { name: refusing }).click();
    expect(await facts(page).textContent()).toContain('OrderingPer key: deliveries of events with the same ordering key');
    const blocked = page.getByRole('region', { name: 'Blocked ordering keys' });
    const row = blocked.getByRole('row').filter({ hasText: 'customer-42' });
    await row.waitFor();
    const [, since, waiting, failed] = await row.getByRole('cell').allTextContents();
    expect(since).toMatch(/\d{4}/);
    expect(waiting).toBe('1');
    expect(failed).toContain('Failed');
    expect(failed).toContain('invoices.created');
    expect(failed).toContain('#1');
    // The failed delivery's id, and a link to its event.
    const failedId = (await row.locator('td:nth-child(4) code').textContent())!;
    expect(failedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await row.getByRole('link', { name: 'invoices.created' }).getAttribute('href')).toBe(`#/events/${publishEvents.results[0]!.event.id}`);

    // The deliveries show their key and sequence.
    const deliveries = page.getByRole('region', { name: 'Recent deliveries' });
    await deliveries.getByRole('row').filter({ hasText: 'Key customer-42, #2' }).getByText('Pending').waitFor();
    await deliveries.getByRole('row').filter({ hasText: 'Key customer-42, #1' }).getByText('Failed').waitFor();
    await browser.screenshot(page, 'ordering-03-blocked');

    // Point the subscription at a working endpoint first, so that the delivery let go does not fail and block the key again.
    await page.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByRole('radio', { name: /^Per key/ }).isChecked()).toBe(true);
    await page.getByLabel('URL').fill(`${receiver.url}/ordered`);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: `${receiver.url}/ordered` }).waitFor();

    await row.getByRole('button', { name: 'Unblock customer-42' }).click();
    await blocked.getByRole('status').getByText('Unblocked customer-42: 1 delivery goes on.').waitFor();
    await blocked.getByText('No ordering key is blocked.').waitFor();
    expect(await blocked.getByRole('row').count()).toBe(0);

    // The delivery that waited goes on, to the working endpoint.
    await expect.poll(statuses, { timeout: 20_000 }).toEqual(['1 FAILED', '2 SUCCEEDED']);
    // (The subscription without ordering, on the same receiver, got both events too.)
    const ordered = receiver.requests.filter((r) => r.path === '/ordered');
    expect(ordered.map((r) => [r.headers['hookline-ordering-key'], JSON.parse(r.body).data.invoiceId])).toEqual([['customer-42', 'INV-8']]);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await deliveries.getByRole('row').filter({ hasText: 'Key customer-42, #2' }).getByText('Succeeded').waitFor();
    await browser.screenshot(page, 'ordering-04-unblocked');

    // The event page shows the key and each delivery's sequence.
    await page.goto(`${origin}/console/#/events/${publishEvents.results[1]!.event.id}`);
    await page.getByRole('heading', { name: 'Data' }).waitFor();
    expect(await facts(page).textContent()).toContain('Ordering keycustomer-42 #2 of its key');
    const delivered = page.getByRole('row').filter({ has: page.getByRole('link', { name: `${receiver.url}/ordered`, exact: true }) });
    expect(await delivered.getByRole('cell').allTextContents()).toEqual(['Succeeded', `${receiver.url}/ordered`, '1', '2']);
    await browser.screenshot(page, 'ordering-05-event');
    await page.close();
  });
});
