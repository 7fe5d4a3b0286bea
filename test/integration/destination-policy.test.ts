import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
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
    // NAT64, 6to4, SIIT and Teredo forms of the metadata address, of 10.0.0.1 and of loopback
    'https://[64:ff9b::a9fe:a9fe]/',
    'https://[64:ff9b::a00:1]/',
    'https://[64:ff9b:1::a00:1]/',
    'https://[2002:a00:1::1]/',
    'https://[::ffff:0:a00:1]/',
    'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
    'https://[2001:db8::1]/',
    'https://[100::1]/',
  ])('refuses %s', async (url) => {
    const result = await create(url);
    expectBadInput(result, 'input.url');
    expect(errorOf(result).message).toMatch(/private or reserved/);
  });

  it('does not say what a refused host name resolved to', async () => {
    const message = errorOf(await create('https://localhost/hook')).message;
    expect(message).toMatch(/localhost resolves to a private or reserved address/);
    expect(message).not.toMatch(/127\.0\.0\.1|::1/);
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

describe('subscriptions on an external database with HOOKLINE_ALLOW_PRIVATE_URLS and NODE_ENV unset', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api', env: { HOOKLINE_ALLOW_PRIVATE_URLS: '', NODE_ENV: '' } });
    ({ adminToken: admin } = await createAccount(t, 'Default'));
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('refuses private endpoints: only HOOKLINE_ALLOW_PRIVATE_URLS=true or the embedded database allow them', async () => {
    expect(t.config.nodeEnv).toBe('development');
    const result = await t.gql(admin, CREATE, { input: { url: 'https://10.0.0.1/hook', channels: ['invoices'] } });
    expectBadInput(result, 'input.url');
  });
});

describe('host names of endpoints under a nameserver that never answers', () => {
  const DNS_TIMEOUT_MS = 4_000;
  let t: TestApp;
  let hanging: string;
  let other: string;
  let queries = 0;
  const dns = createSocket('udp4');

  beforeAll(async () => {
    // A DNS server that reads every query and answers none, made the API's resolver.
    dns.on('message', () => (queries += 1));
    dns.bind(0, '127.0.0.1');
    await once(dns, 'listening');
    t = await startTestApp({
      role: 'api',
      env: {
        HOOKLINE_ALLOW_PRIVATE_URLS: 'false',
        HOOKLINE_DNS_SERVERS: `127.0.0.1:${dns.address().port}`,
        HOOKLINE_DNS_TIMEOUT_MS: String(DNS_TIMEOUT_MS),
      },
    });
    ({ adminToken: hanging } = await createAccount(t, 'Hanging names'));
    ({ adminToken: other } = await createAccount(t, 'Another tenant'));
  });
  afterAll(async () => {
    await t?.stop();
    await new Promise<void>((resolve) => dns.close(() => resolve()));
  });

  it("refuses each save at the lookup's deadline naming url, and holds up nothing else meanwhile", async () => {
    const started = Date.now();
    // More saves than libuv has threads: dns.lookup would hold all four, and every file read behind them.
    const saves = Array.from({ length: 8 }, (_, i) =>
      t
        .gql(hanging, CREATE, { input: { url: `https://hook-${i}.never-answers.example/in`, channels: ['invoices'] } })
        .then((result) => ({ result, at: Date.now() })),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(queries).toBeGreaterThan(0);

    // Meanwhile another tenant works, and the process reads files.
    const meanwhile: number[] = [];
    for (let i = 0; i < 3; i++) {
      await t.ok(other, '{ viewer { role } }');
      await createSubscription(t, other, { url: `https://8.8.8.8/hook-${i}` });
      await readFile(new URL('../../package.json', import.meta.url));
      meanwhile.push(Date.now());
    }
    const answered = await Promise.all(saves);
    // All of that was done long before any hanging save was answered, and no save waited for another's lookup.
    expect(Math.max(...meanwhile)).toBeLessThan(Math.min(...answered.map((a) => a.at)));
    for (const { result, at } of answered) {
      expectBadInput(result, 'input.url');
      expect(errorOf(result).message).toMatch(/DNS lookup of host hook-\d\.never-answers\.example timed out/);
      // It waited for the lookup (c-ares may give up a little before the deadline), and not much longer.
      expect(at - started).toBeGreaterThanOrEqual(DNS_TIMEOUT_MS / 2);
      expect(at - started).toBeLessThan(DNS_TIMEOUT_MS * 3);
    }
    const list = await t.ok<{ webhookSubscriptions: unknown[] }>(hanging, '{ webhookSubscriptions { id } }');
    expect(list.webhookSubscriptions).toEqual([]);
  });
});
