import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { tenant, type Tenant } from '../support/scenario.js';

const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(condition)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The value of a metric line such as `name{labels} 12`, summed over its label sets. */
function metricSum(text: string, name: string, labels = ''): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes(labels) && !line.startsWith('#'))
    .filter((line) => line.slice(name.length).match(/^[{ ]/))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('worker processes', () => {
  let t: TestApp;
  let acme: Tenant;
  let receiver: Receiver;
  const children: ChildProcess[] = [];

  function startWorker(port: number, env: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [cli, 'worker'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        DATABASE_URL: t.database.url,
        HOOKLINE_MASTER_KEY: t.config.masterKey!.toString('base64'),
        // The receiver is plain http on loopback, which a worker on an external database refuses unless told.
        HOOKLINE_ALLOW_PRIVATE_URLS: 'true',
        HOOKLINE_WORKER_CONCURRENCY: '4',
        HOOKLINE_WORKER_PORT: String(port),
        LOG_LEVEL: 'error',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  }

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.stop();
  });

  it('serve /healthz, /readyz and /metrics on their own port, and share one database without sending anything twice', async () => {
    const sub = await acme.subscribe({ url: `${receiver.url}/two`, channels: ['invoices'], maxInFlight: 50 });
    receiver.setSecrets([sub.secret]);
    // Answers that take a while keep both workers busy, so that both take a share.
    receiver.respondWith(() => ({ status: 200, delayMs: 50 }));
    const ports = [await freePort(), await freePort()];
    for (const port of ports) startWorker(port);
    for (const port of ports) {
      await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, `worker on ${port} to be ready`);
    }
    const health = await fetch(`http://127.0.0.1:${ports[0]}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${ports[0]}/nowhere`)).status).toBe(404);

    for (let i = 0; i < 40; i++) await acme.publish('invoices.created', { n: i });
    await receiver.waitFor(40, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const ids = receiver.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(40);
    expect(ids).toHaveLength(40);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);

    const metrics = await Promise.all(ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
    const attempts = metrics.map((text) => metricSum(text, 'hookline_delivery_attempts_total', 'outcome="success"'));
    expect(attempts.reduce((x, y) => x + y, 0)).toBe(40);
    expect(attempts.every((n) => n > 0)).toBe(true);
    for (const text of metrics) {
      expect(text).toContain('hookline_delivery_attempt_duration_seconds_bucket');
      expect(text).toContain('hookline_deliveries_in_flight');
      expect(text).toContain('hookline_delivery_queue_depth');
      expect(text).toContain('hookline_endpoints_held');
    }
  }, 120_000);

  it('answer /metrics only with the metrics token when one is set, on the address they are told to listen on', async () => {
    const token = 'worker-metrics-token-0123456789';
    const port = await freePort();
    // 127.0.0.2 is loopback too, but another address than 127.0.0.1.
    startWorker(port, { HOOKLINE_METRICS_TOKEN: token, HOOKLINE_BIND_ADDRESS: '127.0.0.2' });
    const base = `http://127.0.0.2:${port}`;
    await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 30_000, 'the worker to be ready');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${token}`, token]) {
      const refused = await fetch(`${base}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(refused.status, authorization).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(await refused.text()).not.toContain('hookline_');
    }
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('hookline_delivery_queue_depth');
    // Health checks need no token; every answer is marked nosniff.
    for (const path of ['/healthz', '/readyz', '/metrics', '/nowhere']) {
      const response = await fetch(`${base}${path}`);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  }, 60_000);
});
