import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { cli, runCli, STACK_LINE, type CliResult } from '../support/cli.js';
import { GraphQLClient } from '../support/graphql.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Delivery, type Tenant } from '../support/scenario.js';

/**
 * `hookline listen` and `hookline trigger` as a developer runs them: the
 * compiled CLI (`npm run build` first) in its own process, without
 * DATABASE_URL (they are API clients only), against a running Hookline and a
 * local receiver that verifies signatures with the `standardwebhooks` package.
 */

interface Listening {
  readonly stdout: string;
  readonly stderr: string;
  secret: string;
  subscriptionId: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGINT, as Ctrl-C sends; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no chance to clean up. */
  kill(): Promise<void>;
  /** Resolves once stderr contains the text. */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** The environment of a CLI run: no database at hand, the state files in their own folder. */
function cliEnv(stateHome: string, key: string, api: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: stateHome, HOOKLINE_API_KEY: key, HOOKLINE_API_URL: api };
  delete env.DATABASE_URL;
  delete env.HOOKLINE_MASTER_KEY;
  return env;
}

const children = new Set<ChildProcessWithoutNullStreams>();

async function until(check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `hookline listen …`, resolved once it printed its secret. */
async function startListen(args: string[], env: NodeJS.ProcessEnv): Promise<Listening> {
  const child = spawn(process.execPath, [cli, 'listen', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const describe = () => `listen output so far:\nstdout: ${stdout}\nstderr: ${stderr}`;
  await until(
    () => /Ready! .*whsec_/.test(stderr) || child.exitCode !== null,
    () => `listen did not get ready; ${describe()}`,
    30_000,
  );
  const secret = /Your webhook signing secret is (whsec_\S+)/.exec(stderr)?.[1];
  const subscriptionId = /\(subscription (\S+)\)\./.exec(stderr)?.[1];
  if (!secret || !subscriptionId) throw new Error(`listen exited before it was ready (${child.exitCode}); ${describe()}`);
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    secret,
    subscriptionId,
    exited,
    async stop() {
      child.kill('SIGINT');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    waitForStderr(text, timeoutMs = 30_000) {
      const found = () => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
      return until(found, () => `stderr never showed ${String(text)}; ${describe()}`, timeoutMs);
    },
  };
}

function runHookline(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  // runCli lays env over process.env: undefined takes the database settings away again.
  return runCli(args, { ...env, DATABASE_URL: undefined, HOOKLINE_MASTER_KEY: undefined });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** The JSON lines listen printed with --print-json. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const INVOICE_PAID_EXAMPLE = { invoiceId: 'INV12345', customerId: 'CUS789', amount: 1250.5, currency: 'USD', paidAt: '2026-11-23T10:00:00.000Z' };

describe('hookline listen and trigger', () => {
  let t: TestApp;
  let acme: Tenant;
  let stagingAdmin: string;
  let stagingPublisher: string;
  let receiver: Receiver;
  let stateHome: string;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await tenant(t, 'Acme Listen');
    stagingAdmin = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    stagingPublisher = await createKey(t, acme.adminToken, 'PUBLISHER', 'STAGING');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await receiver?.close();
    await t?.stop();
  });

  beforeEach(async () => {
    stateHome = await mkdtemp(path.join(tmpdir(), 'hookline-listen-'));
    receiver.reset();
  });

  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(stateHome, { recursive: true, force: true });
  });

  const stateFile = (name = 'default') => path.join(stateHome, 'hookline', `listen-${name}.json`);

  async function subscriptionIds(): Promise<string[]> {
    const data = await t.ok<{ webhookSubscriptions: Array<{ id: string }> }>(stagingAdmin, '{ webhookSubscriptions { id } }');
    return data.webhookSubscriptions.map((s) => s.id);
  }

  /**
   * The delivery once its first attempt is recorded (the acknowledgement follows the forward). Its
   * status and its attempts are read apart within one query, so both must show the attempt.
   */
  async function deliveryOnceAttempted(id: string): Promise<Delivery> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const delivery = await acme.delivery(id, stagingAdmin);
      if ((delivery.attempts.length > 0 && delivery.status !== 'PENDING') || Date.now() > deadline) return delivery;
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function publish(type: string, data: unknown): Promise<string> {
    const result = await t.ok<{ publishEvent: { event: { id: string } } }>(
      stagingPublisher,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { type, data } },
    );
    return result.publishEvent.event.id;
  }

  /** The markers of the invoices.created events the receiver got, from their bodies. */
  function receivedMarkers(): string[] {
    return receiver.requests.map((r) => (JSON.parse(r.body) as { data: { marker: string } }).data.marker);
  }

  it('forwards triggered events unchanged, signed with the secret it printed; Ctrl-C deletes the subscription and the state file', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    const listening = await startListen(['--forward-to', `${receiver.url}/hooks?via=listen`, '--channels', 'invoices', '--print-json'], env);
    receiver.setSecrets(listening.secret);
    expect(await subscriptionIds()).toContain(listening.subscriptionId);
    expect(await exists(stateFile())).toBe(true);

    const triggered = await runHookline(['trigger', 'invoices.paid'], cliEnv(stateHome, stagingPublisher, t.url));
    expect(triggered.code, triggered.stderr).toBe(0);
    const eventId = triggered.stdout.trim();
    expect(triggered.stderr).toContain(`as event ${eventId}`);

    const [request] = await receiver.waitFor(1, 30_000);
    expect(request!.verified, request!.verificationError ?? '').toBe(true);
    expect(request!.path).toBe('/hooks?via=listen');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toMatch(/^Hookline\//);
    const body = JSON.parse(request!.body) as { event: string; data: unknown; environment: string };
    expect(body).toMatchObject({ event: 'invoices.paid', environment: 'staging', data: INVOICE_PAID_EXAMPLE });

    // The local answer is the attempt: the delivery succeeds with the receiver's status and body.
    const delivered = await deliveryOnceAttempted(request!.headers['webhook-id']!);
    expect(delivered, listening.stderr).toMatchObject({ status: 'SUCCEEDED', event: { id: eventId } });
    expect(delivered.attempts[0]).toMatchObject({ responseStatus: 200, responseBody: 'ok', succeeded: true });

    await until(
      () => listening.stdout.includes('\n'),
      () => `no JSON line: ${listening.stdout}`,
      10_000,
    );
    const [line] = jsonLines(listening.stdout);
    expect(line).toMatchObject({ eventType: 'invoices.paid', eventId, deliveryId: request!.headers['webhook-id'], status: 200, error: null });
    expect(line!.body).toBe(request!.body);
    expect((line!.headers as Record<string, string>)['webhook-signature']).toBe(request!.headers['webhook-signature']);
    expect(typeof line!.durationMs).toBe('number');

    expect(await listening.stop()).toBe(0);
    expect(listening.stderr).toContain(`subscription ${listening.subscriptionId} deleted`);
    expect(listening.stderr).not.toMatch(STACK_LINE);
    expect(await subscriptionIds()).not.toContain(listening.subscriptionId);
    expect(await exists(stateFile())).toBe(false);
  }, 90_000);

  it('records the attempt as its local result', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    receiver.respondWith(() => ({ status: 503, body: 'local app is down' }));
    const listening = await startListen(['--forward-to', `${receiver.url}/hooks`, '--events', 'invoices.sent'], env);
    receiver.setSecrets(listening.secret);
    const eventId = await publish('invoices.sent', { invoiceId: 'INV-503' });
    const [request] = await receiver.waitFor(1, 30_000);
    expect(request!.verified).toBe(true);
    await until(
      () => listening.stdout.includes(' 503 '),
      () => `no 503 line: ${listening.stdout}`,
      10_000,
    );
    expect(listening.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  invoices\\.sent  ${request!.headers['webhook-id']}  503  \\d+ ms$`, 'm'));

    const delivery = await deliveryOnceAttempted(request!.headers['webhook-id']!);
    expect(delivery.event.id).toBe(eventId);
    expect(delivery.status).toBe('RETRYING');
    expect(delivery.attempts[0]).toMatchObject({ responseStatus: 503, responseBody: 'local app is down', succeeded: false });
    expect(await listening.stop()).toBe(0);
  }, 90_000);

  it('reports no local answer as status 0 with the error', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    // Nothing listens on the discard port.
    const listening = await startListen(['--forward-to', 'http://127.0.0.1:9/hooks', '--events', 'invoices.deleted'], env);
    const eventId = await publish('invoices.deleted', { invoiceId: 'INV-0' });
    await until(
      () => listening.stdout.includes('ERR '),
      () => `no ERR line: ${listening.stdout}`,
      30_000,
    );
    expect(listening.stdout).toMatch(/^\d\d:\d\d:\d\d {2}invoices\.deleted {2}\S+ {2}ERR connection refused {2}\d+ ms$/m);
    const delivery = (await acme.deliveriesOfEvent(eventId, stagingAdmin)).find((d) => d.subscription.id === listening.subscriptionId);
    const attempted = await deliveryOnceAttempted(delivery!.id);
    expect(attempted.attempts[0], listening.stderr).toMatchObject({ responseStatus: null, error: 'connection refused', succeeded: false });
    expect(await listening.stop()).toBe(0);
  }, 60_000);

  it('killed mid-stream, resumes the same subscription with the same secret and delivers every event that waited', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    const args = ['--forward-to', `${receiver.url}/hooks`, '--events', 'invoices.created', '--name', 'resume-me'];
    const first = await startListen(args, env);
    receiver.setSecrets(first.secret);

    const eventIds: string[] = [];
    const publishMarked = async (markers: string[]) => {
      for (const marker of markers) eventIds.push(await publish('invoices.created', { marker }));
    };
    await publishMarked(['a1', 'a2', 'a3']);
    await receiver.waitFor(3, 30_000);
    // Killed while the local app is still answering a forward: that delivery was pulled and never
    // reported, so it comes back when its lease lapses (60 s), to the listen that resumes.
    receiver.respondWith(() => ({ status: 200, delayMs: 5_000 }));
    await publishMarked(['b1', 'b2', 'b3']);
    const [cutShort] = (await receiver.waitFor(4, 30_000)).slice(3);
    await first.kill();
    receiver.respondWith(() => ({ status: 200 }));
    expect(await exists(stateFile('resume-me'))).toBe(true);
    await publishMarked(['c1', 'c2', 'c3']);

    const second = await startListen(args, env);
    expect(second.stderr).toContain(`Resuming subscription ${first.subscriptionId}`);
    expect(second.subscriptionId).toBe(first.subscriptionId);
    expect(second.secret).toBe(first.secret);

    // Every event delivered and acknowledged, the one cut short included once its lease lapsed.
    const ofListen = async (eventId: string) =>
      (await acme.deliveriesOfEvent(eventId, stagingAdmin)).find((d) => d.subscription.id === first.subscriptionId);
    const deliveries = async () => Promise.all(eventIds.map(ofListen));
    const deadline = Date.now() + 100_000;
    let last = await deliveries();
    while (!last.every((d) => d?.status === 'SUCCEEDED') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      last = await deliveries();
    }
    expect(
      last.map((d) => d?.status),
      second.stderr,
    ).toEqual(eventIds.map(() => 'SUCCEEDED'));
    const everyMarker = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'c1', 'c2', 'c3'];
    expect([...new Set(receivedMarkers())].sort()).toEqual(everyMarker);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    // At least once: the forward cut short by the kill came again, as the same delivery.
    const again = receiver.requests.filter((r) => r.headers['webhook-id'] === cutShort!.headers['webhook-id']);
    expect(again.length).toBeGreaterThanOrEqual(2);
    expect(await subscriptionIds()).toEqual(expect.arrayContaining([first.subscriptionId]));

    expect(await second.stop()).toBe(0);
    expect(await subscriptionIds()).not.toContain(first.subscriptionId);
    expect(await exists(stateFile('resume-me'))).toBe(false);
  }, 180_000);

  it('with other channels than the subscription it would resume, replaces it', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    const first = await startListen(['--forward-to', `${receiver.url}/hooks`, '--channels', 'bills', '--name', 'switch'], env);
    await first.kill();
    const second = await startListen(['--forward-to', `${receiver.url}/hooks`, '--channels', 'bills,suppliers', '--name', 'switch'], env);
    expect(second.subscriptionId).not.toBe(first.subscriptionId);
    expect(second.secret).not.toBe(first.secret);
    expect(second.stderr).toContain(`subscription ${first.subscriptionId} deleted`);
    expect(await subscriptionIds()).not.toContain(first.subscriptionId);
    expect(await second.stop()).toBe(0);
    expect(await subscriptionIds()).not.toContain(second.subscriptionId);
  }, 90_000);

  it('refuses a second listen of the same name while the first runs', async () => {
    const env = cliEnv(stateHome, stagingAdmin, t.url);
    const args = ['--forward-to', `${receiver.url}/hooks`, '--channels', 'bills', '--name', 'once'];
    const first = await startListen(args, env);
    const second = await runHookline(['listen', ...args], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('Another hookline listen --name once is running');
    expect(await first.stop()).toBe(0);
  }, 60_000);

  it('refuses a PRODUCTION key without --live, a key that is not ADMIN, and an unknown key, each with one line and no subscription', async () => {
    const before = await t.ok<{ webhookSubscriptions: unknown[] }>(acme.adminToken, '{ webhookSubscriptions { id } }');
    const stagingBefore = await subscriptionIds();
    const args = ['listen', '--forward-to', `${receiver.url}/hooks`, '--channels', 'invoices'];

    const production = await runHookline(args, cliEnv(stateHome, acme.adminToken, t.url));
    expect(production.code).toBe(2);
    expect(production.stderr).toContain('PRODUCTION key');
    expect(production.stderr).toContain('--live');
    expect(production.stderr.trim().split('\n')).toHaveLength(1);

    const publisher = await runHookline(args, cliEnv(stateHome, stagingPublisher, t.url));
    expect(publisher.code).toBe(3);
    expect(publisher.stderr).toContain('needs an ADMIN key');

    const unknown = await runHookline(args, cliEnv(stateHome, 'hk_not_a_key_of_anyone_0123456789abcdef', t.url));
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('The API key was refused');

    for (const result of [production, publisher, unknown]) expect(result.stderr).not.toMatch(STACK_LINE);
    const after = await t.ok<{ webhookSubscriptions: unknown[] }>(acme.adminToken, '{ webhookSubscriptions { id } }');
    expect(after.webhookSubscriptions).toEqual(before.webhookSubscriptions);
    expect(await subscriptionIds()).toEqual(stagingBefore);
    expect(await exists(stateFile())).toBe(false);
  }, 60_000);

  it('fails fast with one line when the API cannot be reached at start', async () => {
    const started = Date.now();
    const result = await runHookline(
      ['listen', '--forward-to', `${receiver.url}/hooks`, '--channels', 'invoices'],
      cliEnv(stateHome, stagingAdmin, 'http://127.0.0.1:9/graphql'),
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('Cannot reach the Hookline API at http://127.0.0.1:9/graphql: connection refused');
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it('trigger publishes the catalog example, or the data given, and prints the event id', async () => {
    const env = cliEnv(stateHome, stagingPublisher, t.url);
    const example = await runHookline(['trigger', 'invoices.paid', '--ordering-key', 'INV12345'], env);
    expect(example.code, example.stderr).toBe(0);
    const given = await runHookline(['trigger', 'invoices.created', '--data', '{"invoiceId":"INV-9","total":12}'], env);
    expect(given.code, given.stderr).toBe(0);

    const read = async (id: string) =>
      (
        await t.ok<{ event: { type: string; data: unknown; orderingKey: string | null } }>(
          stagingAdmin,
          'query($id: ID!) { event(id: $id) { type data orderingKey } }',
          { id },
        )
      ).event;
    expect(await read(example.stdout.trim())).toEqual({ type: 'invoices.paid', data: INVOICE_PAID_EXAMPLE, orderingKey: 'INV12345' });
    expect(await read(given.stdout.trim())).toEqual({ type: 'invoices.created', data: { invoiceId: 'INV-9', total: 12 }, orderingKey: null });

    const again = await runHookline(['trigger', 'invoices.created', '--data', '{}', '--idempotency-key', 'once-only'], env);
    const duplicate = await runHookline(['trigger', 'invoices.created', '--data', '{}', '--idempotency-key', 'once-only'], env);
    expect(duplicate.stdout).toBe(again.stdout);
    expect(duplicate.stderr).toContain('duplicate');
  }, 60_000);

  it('trigger fails clearly: a type without an example and no --data, bad JSON, an unknown type, a PRODUCTION key without --live', async () => {
    const env = cliEnv(stateHome, stagingPublisher, t.url);
    const noExample = await runHookline(['trigger', 'invoices.created'], env);
    expect(noExample.code).toBe(2);
    expect(noExample.stderr.trim()).toBe("The event type invoices.created has no example in the catalog: pass its data with --data '{…}'.");

    const badJson = await runHookline(['trigger', 'invoices.created', '--data', '{invoiceId: 1}'], env);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--data is not valid JSON');

    const unknown = await runHookline(['trigger', 'invoices.teleported'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UNKNOWN_EVENT_TYPE');
    expect(unknown.stderr).toContain('invoices.teleported');

    const production = await runHookline(['trigger', 'invoices.paid'], cliEnv(stateHome, acme.adminToken, t.url));
    expect(production.code).toBe(2);
    expect(production.stderr).toContain('--live');
    const live = await runHookline(['trigger', 'invoices.paid', '--live'], cliEnv(stateHome, acme.adminToken, t.url));
    expect(live.code, live.stderr).toBe(0);

    for (const result of [noExample, badJson, unknown, production]) {
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toMatch(STACK_LINE);
    }
  }, 60_000);
});

describe('hookline listen when the API goes away', () => {
  let t: TestApp;
  let api: RunningApp | undefined;
  let receiver: Receiver;
  let stateHome: string;

  beforeAll(async () => {
    // The workers and a first API on one database; the API that listen talks to is a second one, stopped and started again.
    t = await startTestApp();
    receiver = await startReceiver();
    stateHome = await mkdtemp(path.join(tmpdir(), 'hookline-listen-'));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await api?.stop();
    await receiver?.close();
    await t?.stop();
    await rm(stateHome, { recursive: true, force: true });
  });

  async function startApi(port: number): Promise<RunningApp> {
    return startApp({ config: { ...t.config, port }, logger: createLogger('silent'), role: 'api', migrate: false });
  }

  it('says so once, reconnects when it is back, and delivers what was published meanwhile', async () => {
    const acme = await tenant(t, 'Acme Away');
    const stagingAdmin = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    api = await startApi(0);
    const port = api.port!;
    const listening = await startListen(
      ['--forward-to', `${receiver.url}/hooks`, '--channels', 'invoices'],
      cliEnv(stateHome, stagingAdmin, `http://127.0.0.1:${port}/graphql`),
    );
    receiver.setSecrets(listening.secret);

    await api.stop();
    api = undefined;
    await listening.waitForStderr('Lost the connection to', 40_000);
    // Published through the other API while listen's is away: it waits on the server.
    const publish = (marker: string) =>
      t.ok(stagingAdmin, 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }', {
        input: { type: 'invoices.created', data: { marker } },
      });
    await publish('while-away');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(receiver.requests).toHaveLength(0);

    api = await startApi(port);
    await listening.waitForStderr('Reconnected to', 40_000);
    const [request] = await receiver.waitFor(1, 30_000);
    expect(JSON.parse(request!.body)).toMatchObject({ data: { marker: 'while-away' } });
    expect(request!.verified).toBe(true);
    expect(listening.stderr.match(/Lost the connection/g)).toHaveLength(1);
    expect(listening.stderr.match(/Reconnected/g)).toHaveLength(1);

    expect(await listening.stop()).toBe(0);
    const left = await new GraphQLClient(t.url).ok<{ webhookSubscriptions: Array<{ id: string }> }>(stagingAdmin, '{ webhookSubscriptions { id } }');
    expect(left.webhookSubscriptions.map((s) => s.id)).not.toContain(listening.subscriptionId);
  }, 150_000);
});
