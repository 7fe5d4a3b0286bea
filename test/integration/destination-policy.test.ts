import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestApp, type TestApp } from '../support/app.js';
import { CREATE, UPDATE, createSubscription, errorOf, expectBadInput } from '../support/subscriptions.js';

/** Production's policy (docs/api.md, Destinations): https only, and no private, loopback, link-local or reserved destination. */
describe('subscriptions with HOOKLINE_ALLOW_PRIVATE_URLS=false', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api', env: { HOOKLINE_ALLOW_PRIVATE_URLS: 'false' } });
    ({ adminToken: admin } = await createAccount(t, 'Strict'));
  });
  afterAll(async () => {
    await t?.stop();
  });

  const create = (url: string) => t.gql(admin, CREATE, { input: { url, channels: ['invoices'] } });

  it('refuses plain http', async () => {
    const result = await create('http://8.8.8.8/hook');
    expectBadInput(result, 'input.url');
    expect(errorOf(result).message).toMatch(/https/);
  });

  it.each([
    'https://127.0.0.1/hook',
    'https://10.1.2.3/hook',
    'https://172.16.0.1/hook',
    'https://192.168.1.10/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://[::ffff:a9fe:a9fe]/hook',
    'https://[fd00::1]/hook',
    'https://0.0.0.0/hook',
    'https://224.0.0.1/hook',
    'https://localhost/hook',
  ])('refuses %s', async (url) => {
    const result = await create(url);
    expectBadInput(result, 'input.url');
    expect(errorOf(result).message).toMatch(/private or reserved/);
  });

  it('accepts a public https endpoint, and refuses to move it to a private one', async () => {
    const { subscription } = await createSubscription(t, admin, { url: 'https://8.8.8.8/hook' });
    expect(subscription.url).toBe('https://8.8.8.8/hook');
    expectBadInput(await t.gql(admin, UPDATE, { id: subscription.id, input: { url: 'https://169.254.169.254/' } }), 'input.url');
    expectBadInput(await t.gql(admin, UPDATE, { id: subscription.id, input: { url: 'http://8.8.4.4/' } }), 'input.url');
    const moved = await t.ok<{ updateWebhookSubscription: { url: string } }>(admin, UPDATE, {
      id: subscription.id,
      input: { url: 'https://[2606:4700:4700::1111]/in' },
    });
    expect(moved.updateWebhookSubscription.url).toBe('https://[2606:4700:4700::1111]/in');
  });
});
