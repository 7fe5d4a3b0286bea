import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

// The README's pull consumer, run as a reader would run it: if the README's
// code stops working against the API, this fails.

const root = new URL('../..', import.meta.url).pathname;
const CONSUMER_HEADING = '## A consumer without a public URL';

/** The first js code block under the heading of a markdown page. */
function codeUnder(markdown: string, heading: string): string {
  const at = markdown.indexOf(`${heading}\n`);
  const match = at < 0 ? null : /```js\n([\s\S]*?)```/.exec(markdown.slice(at));
  if (!match) throw new Error(`no js block under "${heading}"`);
  return match[1]!;
}

const readDoc = (name: string) => readFile(path.join(root, name), 'utf8');

const CREATE_PULL = `mutation($input: CreatePullSubscriptionInput!) {
  createPullSubscription(input: $input) { subscription { id url kind } secret } }`;

const INVOICE_PAID = { invoiceId: 'INV-7', customerId: 'C-7', amount: 99.5, currency: 'EUR', paidAt: '2026-11-23T10:00:00.000Z' };

interface Consumer {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<number | null>;
}

describe('the README', () => {
  let t: TestApp;
  let acme: Tenant;
  let publisherKey: string;
  let dir: string;
  let file: string;
  const running: Consumer[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t);
    publisherKey = await createKey(t, acme.adminToken, 'PUBLISHER');
    // Inside the repository, so that `import 'standardwebhooks'` resolves from its node_modules as from a reader's project.
    dir = await mkdtemp(path.join(root, 'node_modules', '.readme-consumer-'));
    file = path.join(dir, 'consumer.mjs');
    await writeFile(file, codeUnder(await readDoc('README.md'), CONSUMER_HEADING));
  });
  afterEach(async () => {
    for (const consumer of running.splice(0)) {
      consumer.child.kill('SIGKILL');
      await consumer.exited;
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    await t?.stop();
  });

  function startConsumer(env: Record<string, string>): Consumer {
    const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const consumer: Consumer = {
      child,
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    running.push(consumer);
    return consumer;
  }

  async function pullSubscription(): Promise<{ id: string; secret: string }> {
    const data = await t.ok<{ createPullSubscription: { subscription: { id: string; url: string; kind: string }; secret: string } }>(
      acme.adminToken,
      CREATE_PULL,
      { input: { channels: ['invoices'] } },
    );
    const { subscription, secret } = data.createPullSubscription;
    expect(subscription.kind).toBe('PULL');
    expect(subscription.url).toBe(`urn:hookline:pull:${subscription.id}`);
    return { id: subscription.id, secret };
  }

  it('has the same consumer as the pull subscriptions page', async () => {
    expect(codeUnder(await readDoc('docs/pull.md'), '## A consumer in full')).toBe(codeUnder(await readDoc('README.md'), CONSUMER_HEADING));
  });

  it('has a consumer loop that pulls, verifies, handles and acknowledges a delivery', async () => {
    const subscription = await pullSubscription();
    const consumer = startConsumer({
      HOOKLINE_API_URL: t.url,
      HOOKLINE_API_KEY: publisherKey,
      HOOKLINE_SUBSCRIPTION_ID: subscription.id,
      HOOKLINE_SECRET: subscription.secret,
    });

    const { event } = await acme.publish('invoices.paid', INVOICE_PAID);
    const [delivery] = await acme.waitForDeliveries(event.id, 1);
    const settled = await acme.waitForStatus(delivery!.id, 'SUCCEEDED');

    expect(settled.subscription.id).toBe(subscription.id);
    expect(settled.attempts.at(-1)).toMatchObject({ succeeded: true, responseStatus: 200 });
    // What the handler printed: the delivery, its event type and the data it verified.
    expect(consumer.stdout).toContain(delivery!.id);
    expect(consumer.stdout).toContain('invoices.paid');
    expect(consumer.stdout).toContain('"invoiceId":"INV-7"');
    expect(consumer.child.exitCode).toBeNull();
  });

  it('has a consumer loop that stops at a signature it cannot verify, acknowledging nothing', async () => {
    const subscription = await pullSubscription();
    const other = await pullSubscription();
    const consumer = startConsumer({
      HOOKLINE_API_URL: t.url,
      HOOKLINE_API_KEY: publisherKey,
      HOOKLINE_SUBSCRIPTION_ID: subscription.id,
      // Another subscription's secret: every signature fails.
      HOOKLINE_SECRET: other.secret,
    });

    const { event } = await acme.publish('invoices.paid', INVOICE_PAID);
    const code = await Promise.race([consumer.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 20_000))]);
    expect(code, consumer.stderr).not.toBe('running');
    expect(code).not.toBe(0);
    expect(consumer.stderr).toMatch(/signature/i);

    const deliveries = await acme.deliveriesOfEvent(event.id);
    const mine = deliveries.find((d) => d.subscription.id === subscription.id)!;
    expect(mine.status).not.toBe('SUCCEEDED');
    expect(mine.attempts.filter((a) => a.succeeded)).toEqual([]);
  });
});
