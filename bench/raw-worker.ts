/**
 * The raw-stack baseline, in its own process (forked by the driver): what a
 * hand-rolled pg-boss worker does without Hookline around it.
 *
 * - `pgboss`: pg-boss's own API only: `send` N jobs (C at a time), then drain
 *   them with fetch/complete loops (C in flight, in batches of 10).
 * - `undici`: N signed POSTs to the receiver, C in flight, with an undici
 *   Agent configured like Hookline's (HTTP/1.1, keep-alive, C connections).
 * - `stack`: both together: N jobs inserted beforehand (not timed), then
 *   fetch a batch, sign and POST each job's body, complete the batch; C in
 *   flight as ceil(C/10) loops of 10, the shape of Hookline's delivery worker.
 *
 * The configuration arrives as JSON in argv[2]; the result goes back over IPC,
 * then the process waits for the driver (which reads its CPU and peak RSS
 * from /proc) to say `exit`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { Agent } from 'undici';
import { v7 as uuidv7 } from 'uuid';
import { nowMs } from './stats.js';

export type RawMode = 'pgboss' | 'undici' | 'stack';

export interface RawConfig {
  mode: RawMode;
  databaseUrl: string;
  /** e.g. http://127.0.0.1:PORT/raw/raw */
  receiverUrl: string;
  secret: string;
  count: number;
  concurrency: number;
  phase: string;
  queue: string;
}

export interface RawResult {
  type: 'result';
  mode: RawMode;
  count: number;
  /** pgboss: the send phase, jobs/s. */
  sendPerSecond?: number;
  /** pgboss: fetch/complete jobs/s; undici: requests/s; stack: deliveries/s. */
  perSecond: number;
  elapsedMs: number;
  errors: number;
}

const BATCH = 10;
const config = JSON.parse(process.argv[2] ?? '{}') as RawConfig;

process.on('disconnect', () => process.exit(0));

/** Tells the driver that the timed part starts (so that its CPU window starts too) and waits for its go. */
function timedPartStarts(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string }) => {
      if (message.type !== 'go') return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
    process.send?.({ type: 'ready' });
  });
}

function signer(secret: string) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return (id: string, timestamp: number, body: string) =>
    `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

function makeAgent(connections: number): Agent {
  return new Agent({
    allowH2: false,
    connections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 4_000,
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
}

/** One signed POST with an envelope body like Hookline's; resolves to the status, 0 on a transport error. */
async function post(agent: Agent, sign: ReturnType<typeof signer>, url: URL, id: string, seq: number): Promise<number> {
  const body = JSON.stringify({
    event: 'invoices.created',
    message: 'Invoice created.',
    idempotency_key: id,
    environment: 'production',
    timestamp: new Date().toISOString(),
    data: { sentAt: nowMs(), phase: config.phase, seq, invoiceId: `INV${seq}`, amount: 1234.5, currency: 'EUR' },
  });
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await agent.request({
      origin: url.origin,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'raw-baseline',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(id, timestamp, body),
      },
      body,
    });
    await response.body.text();
    return response.statusCode;
  } catch {
    return 0;
  }
}

/** Runs `count` tasks with `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function startBoss(): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: config.databaseUrl,
    schema: 'pgboss',
    max: Math.ceil(config.concurrency / BATCH) + 5,
    supervise: false,
    schedule: false,
    application_name: 'bench-raw',
  });
  boss.on('error', (error: Error) => console.error('pg-boss error', error.message));
  await boss.start();
  // The same queue policy as Hookline's `deliver` queue (src/queue/boss.ts).
  if (!(await boss.getQueue(config.queue))) {
    await boss.createQueue(config.queue, {
      retryLimit: 20,
      retryDelay: 5,
      retryBackoff: true,
      retryDelayMax: 300,
      heartbeatSeconds: 10,
      expireInSeconds: 300,
    });
  }
  return boss;
}

/** fetch/complete loops until `count` jobs are done; `each` runs per job between them. */
async function drain(
  boss: PgBoss,
  count: number,
  each: (job: { id: string; data: { deliveryId: string; seq: number } }) => Promise<boolean>,
): Promise<number> {
  let done = 0;
  let errors = 0;
  const loops = Math.max(1, Math.ceil(config.concurrency / BATCH));
  const batchSize = Math.min(BATCH, config.concurrency);
  await Promise.all(
    Array.from({ length: loops }, async () => {
      let idle = 0;
      while (done < count) {
        const jobs = await boss.fetch<{ deliveryId: string; seq: number }>(config.queue, { batchSize });
        if (jobs.length === 0) {
          // Another loop holds the last jobs; a stuck queue ends the run after 30 s.
          if (++idle > 300) throw new Error(`queue drained to ${done} of ${count}`);
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        idle = 0;
        const results = await Promise.all(jobs.map(each));
        errors += results.filter((ok) => !ok).length;
        await boss.complete(
          config.queue,
          jobs.map((j) => j.id),
        );
        done += jobs.length;
      }
    }),
  );
  return errors;
}

async function run(): Promise<RawResult> {
  const { count, concurrency } = config;
  const url = new URL(config.receiverUrl);
  const sign = signer(config.secret);

  if (config.mode === 'undici') {
    const agent = makeAgent(concurrency);
    let errors = 0;
    await timedPartStarts();
    const started = performance.now();
    await pool(count, concurrency, async (i) => {
      if ((await post(agent, sign, url, randomUUID(), i)) !== 200) errors++;
    });
    const elapsedMs = performance.now() - started;
    await agent.close();
    return { type: 'result', mode: 'undici', count, perSecond: (count / elapsedMs) * 1000, elapsedMs, errors };
  }

  const boss = await startBoss();
  try {
    if (config.mode === 'pgboss') {
      await timedPartStarts();
      const sendStarted = performance.now();
      await pool(count, concurrency, async (i) => {
        await boss.send(config.queue, { deliveryId: uuidv7(), seq: i }, { id: uuidv7() });
      });
      const sendMs = performance.now() - sendStarted;
      const started = performance.now();
      const errors = await drain(boss, count, () => Promise.resolve(true));
      const elapsedMs = performance.now() - started;
      return {
        type: 'result',
        mode: 'pgboss',
        count,
        sendPerSecond: (count / sendMs) * 1000,
        perSecond: (count / elapsedMs) * 1000,
        elapsedMs,
        errors,
      };
    }

    // stack: the jobs exist first (as the fan-out would have queued them), then the timed drain.
    for (let i = 0; i < count; i += 1000) {
      const jobs = Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({ id: uuidv7(), data: { deliveryId: uuidv7(), seq: i + k } }));
      await boss.insert(config.queue, jobs);
    }
    const agent = makeAgent(concurrency);
    await timedPartStarts();
    const started = performance.now();
    const errors = await drain(boss, count, async (job) => (await post(agent, sign, url, job.data.deliveryId, job.data.seq)) === 200);
    const elapsedMs = performance.now() - started;
    await agent.close();
    return { type: 'result', mode: 'stack', count, perSecond: (count / elapsedMs) * 1000, elapsedMs, errors };
  } finally {
    await boss.stop({ graceful: false });
  }
}

run().then(
  (result) => {
    process.send?.(result);
    process.on('message', (message: { type?: string }) => {
      if (message.type === 'exit') process.exit(0);
    });
  },
  (error: unknown) => {
    process.send?.({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    setTimeout(() => process.exit(1), 100);
  },
);
