/**
 * The pieces a scenario is built from: the receiver process, a Hookline
 * installation on a fresh database (migrate, one API process, N worker
 * processes), publishers, and the measurement window (CPU and peak RSS per
 * process from /proc, PostgreSQL CPU, sampled pg_stat_activity).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type pg from 'pg';
import { PooledGraphQLClient, failureText, publish, type GraphQLClient } from './graphql.js';
import {
  forkBench,
  freePort,
  openPostgres,
  machineCpu,
  postgresCpuSeconds,
  quietPool,
  readProc,
  sleep,
  spawnHookline,
  waitFor,
  type HooklineEnv,
  type Postgres,
  type Proc,
} from './harness.js';
import type { FromReceiver, ReceiverSnapshot, ToReceiver } from './receiver.js';
import { Samples, round } from './stats.js';

export interface Options {
  scale: number;
  scenarios: string[];
  workers: number;
  concurrency: number;
  fanout: number;
  steadyRates: number[];
  steadySeconds: number;
  steadyFanout: number;
  publishConcurrency: number;
  sampleEvery: number;
  repeat: number;
  pgUrl: string;
  pg: 'auto' | 'server' | 'embedded';
  pgStatStatements: boolean;
  deliveryTimeoutMs: number;
  stallSeconds: number;
  maxWaitSeconds: number;
  cpuProf: boolean;
  allocProf: boolean;
  nodeFlags: string;
}

export interface Context {
  options: Options;
  postgres: Postgres;
  /** Started on first need, when a run needs more connections than the server allows. */
  embeddedPostgres?: Postgres;
  receiver: Receiver;
  logDir: string;
  masterKey: string;
  bootstrapToken: string;
}

// ------------------------------------------------------------------ receiver

export class Receiver {
  /** The longest a run waits for its deliveries, progress or not (--max-wait-seconds). */
  static maxWaitSeconds = 3600;
  private nextId = 1;
  private readonly pending = new Map<number, (snapshot: ReceiverSnapshot) => void>();

  private constructor(
    readonly proc: Proc,
    readonly port: number,
  ) {
    proc.child.on('message', (message: FromReceiver) => {
      if (message.type !== 'snapshot') return;
      this.pending.get(message.id)?.(message);
      this.pending.delete(message.id);
    });
  }

  static async start(logDir: string, sampleEvery: number): Promise<Receiver> {
    const proc = forkBench('receiver.js', 'receiver', [String(sampleEvery)], logDir);
    let port = 0;
    proc.child.on('message', (message: FromReceiver) => {
      if (message.type === 'ready') port = message.port;
    });
    await waitFor(proc, 'its port', () => port > 0, 15_000);
    return new Receiver(proc, port);
  }

  private send(message: ToReceiver): void {
    this.proc.child.send(message);
  }

  setSecret(key: string, secret: string): void {
    this.send({ type: 'secret', key, secret });
  }

  /**
   * Starts counting afresh for deliveries tagged with this phase, and with
   * each of `alongside`, each phase on its own (two streams of one run);
   * resolves once the receiver has switched. Snapshots are of `phase`
   * unless they name another.
   */
  async phase(phase: string, ...alongside: string[]): Promise<void> {
    this.send({ type: 'phase', phases: [phase, ...alongside] });
    await this.snapshot();
  }

  snapshot(latency = false, phase?: string): Promise<ReceiverSnapshot> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('the receiver did not answer'));
      }, 30_000);
      this.pending.set(id, (snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
      this.send({ type: 'snapshot', id, latency, ...(phase === undefined ? {} : { phase }) });
    });
  }

  /**
   * Waits until `expected` distinct deliveries of the current phase (or of
   * `options.phase`, one counted alongside it) arrived, or until nothing of
   * it arrived for `stallSeconds`; returns the final snapshot.
   */
  async awaitDeliveries(
    expected: number,
    stallSeconds: number,
    onTick?: (s: ReceiverSnapshot) => void,
    options: { maxSeconds?: number; phase?: string } = {},
  ): Promise<ReceiverSnapshot> {
    let last = -1;
    let lastProgress = Date.now();
    const deadline = Date.now() + (options.maxSeconds ?? Receiver.maxWaitSeconds) * 1000;
    for (;;) {
      const s = await this.snapshot(false, options.phase);
      onTick?.(s);
      if (s.unique >= expected || Date.now() > deadline) break;
      if (s.received !== last) {
        last = s.received;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > stallSeconds * 1000) break;
      await sleep(expected - s.unique < 50 ? 20 : 200);
    }
    return this.snapshot(true, options.phase);
  }
}

// ------------------------------------------------------------------ Hookline

export type ProcRole = 'api' | 'worker' | 'receiver' | 'driver' | 'raw';

export interface TrackedProc {
  role: ProcRole;
  name: string;
  pid: number;
  proc?: Proc;
}

export class Hookline {
  readonly workers: Proc[] = [];
  private workerSeq = 0;

  /** Set when the run is not on the main PostgreSQL, or may not fit in its connections. */
  note: string | null = null;
  postgresName = '';
  /** pg_stat_statements is available in this database. */
  statements = false;
  postmasterPid = 0;

  private constructor(
    private readonly ctx: Context,
    readonly label: string,
    readonly env: HooklineEnv,
    readonly api: Proc,
    readonly graphql: PooledGraphQLClient,
    readonly db: pg.Pool,
    private readonly dropDatabase: () => Promise<void>,
  ) {}

  /** A fresh database, `hookline migrate`, the API, and `workers` worker processes. */
  static async start(ctx: Context, label: string, workers: number, postgres?: Postgres, extra: Partial<HooklineEnv> = {}): Promise<Hookline> {
    let note: string | null = null;
    if (!postgres) ({ postgres, note } = await postgresFor(ctx, Math.max(workers, ctx.options.workers)));
    const database = await postgres.createDatabase(label);
    const env: HooklineEnv = {
      databaseUrl: database.url,
      port: await freePort(),
      masterKey: ctx.masterKey,
      bootstrapToken: ctx.bootstrapToken,
      workerConcurrency: ctx.options.concurrency,
      deliveryTimeoutMs: ctx.options.deliveryTimeoutMs,
      ...extra,
    };
    const migrate = spawnHookline('migrate', `${label}-migrate`, env, ctx.logDir);
    const code = await migrate.exited;
    if (code !== 0) throw new Error(`hookline migrate exited with ${code}; see ${migrate.logFile}:\n${migrate.output().slice(-2000)}`);

    const api = spawnHookline('api', `${label}-api`, env, ctx.logDir, nodeArgs(ctx, `${label}-api`));
    const base = `http://127.0.0.1:${env.port}`;
    await waitFor(api, 'readiness (/readyz)', async () => {
      try {
        const response = await fetch(`${base}/readyz`);
        await response.arrayBuffer();
        return response.status === 200;
      } catch {
        return false;
      }
    });
    const graphql = new PooledGraphQLClient(base, Math.max(8, ctx.options.publishConcurrency));
    const db = quietPool({ connectionString: database.url, max: 3, application_name: 'hookline-bench' });
    const hookline = new Hookline(ctx, label, env, api, graphql, db, database.drop);
    hookline.note = note;
    hookline.postgresName = `${postgres.kind} ${postgres.version}`;
    hookline.statements = postgres.statements;
    hookline.postmasterPid = postgres.postmasterPid;
    if (workers > 0) await hookline.startWorkers(workers);
    return hookline;
  }

  /** Starts `count` more worker processes; resolves when each has logged that its workers started. */
  async startWorkers(count: number): Promise<void> {
    const started = Array.from({ length: count }, () => {
      const name = `${this.label}-worker${++this.workerSeq}`;
      const proc = spawnHookline('worker', name, this.env, this.ctx.logDir, nodeArgs(this.ctx, name));
      this.workers.push(proc);
      return proc;
    });
    await Promise.all(started.map((proc) => waitFor(proc, '"workers started"', () => proc.output().includes('workers started'))));
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.stop()));
  }

  tracked(): TrackedProc[] {
    return [
      { role: 'api', name: 'api', pid: this.api.pid, proc: this.api },
      ...this.workers.map((w, i) => ({ role: 'worker' as const, name: `worker${i + 1}`, pid: w.pid, proc: w })),
    ];
  }

  async stop(): Promise<void> {
    await this.stopWorkers();
    await this.api.stop();
    await this.graphql.close();
    await this.db.end();
    await this.dropDatabase();
  }

  /**
   * The deliveries of a phase (their events carry it in data.phase) by
   * status, and their recorded attempts. The receiver sees a delivery before
   * its attempt is committed, so this waits up to 10 s for the last ones.
   */
  async databaseCheck(phase: string): Promise<{ statuses: Record<string, number>; attempts: number; succeededAttempts: number }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await this.db.query<{ statuses: Record<string, number> | null; attempts: number; ok: number }>(
        `WITH d AS (SELECT d.id, d.status FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.data->>'phase' = $1)
         SELECT (SELECT json_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM d GROUP BY status) s) AS statuses,
                count(a.id)::int AS attempts, count(a.id) FILTER (WHERE a.succeeded)::int AS ok
         FROM d LEFT JOIN delivery_attempts a ON a.delivery_id = d.id`,
        [phase],
      );
      const statuses = rows[0]?.statuses ?? {};
      if ((!statuses.PENDING && !statuses.RETRYING) || Date.now() > deadline) {
        return { statuses, attempts: rows[0]?.attempts ?? 0, succeededAttempts: rows[0]?.ok ?? 0 };
      }
      await sleep(250);
    }
  }
}

/**
 * PostgreSQL connections that Hookline may open under load: per worker
 * process a TypeORM pool of 10, pg-boss's 10, the wake-up listener and
 * sender and the claiming connection (src/app.ts, src/queue/,
 * src/delivery-engine/workers.ts); the API (pools of 20 + 3 + 8 for
 * publishing, its wake-up sender and key listener) and the bench's own 4
 * counted as 38. The worker's pools no longer grow with
 * HOOKLINE_WORKER_CONCURRENCY.
 */
export function connectionBudget(workers: number): number {
  return 38 + workers * 23;
}

/**
 * The server when `workers` worker processes fit in its max_connections
 * (less the 3 reserved for superusers and what other clients use now), else,
 * for two workers or more that could never fit, an embedded PostgreSQL
 * (max_connections 200), started once. Running out of connections fails
 * jobs, which pg-boss retries seconds later: that would measure the
 * connection limit, not the workers.
 */
export async function postgresFor(ctx: Context, workers: number): Promise<{ postgres: Postgres; note: string | null }> {
  const needed = connectionBudget(workers);
  const free = ctx.postgres.maxConnections - 3 - (await ctx.postgres.connectionsInUse());
  // One worker stays on the main server whatever other clients hold: moving it would compare runs
  // on different servers.
  if (needed <= free || ctx.options.pg !== 'auto' || workers < 2 || needed <= ctx.postgres.maxConnections - 3 - 10) {
    return { postgres: ctx.postgres, note: needed > free ? `up to ${needed} connections needed, ${free} free on the server` : null };
  }
  if (!ctx.embeddedPostgres) {
    console.log(`  ${workers} workers may need ${needed} connections; the server has ${free} free: using an embedded PostgreSQL for this run`);
    ctx.embeddedPostgres = await openPostgres('postgres://postgres@127.0.0.1:5432/postgres', 'embedded', {
      statements: ctx.options.pgStatStatements,
    });
  }
  return {
    postgres: ctx.embeddedPostgres,
    note: `on an embedded PostgreSQL ${ctx.embeddedPostgres.version}: up to ${needed} connections needed, ${free} free on the server`,
  };
}

/** Node flags of a Hookline process: the heap settings docs/operations.md recommends (--node-flags), and profiling when asked. */
function nodeArgs(ctx: Context, name: string): string[] {
  const flags = ctx.options.nodeFlags.split(/\s+/).filter(Boolean);
  const profiles = path.join(ctx.logDir, 'profiles');
  if (ctx.options.cpuProf) flags.push('--cpu-prof', `--cpu-prof-dir=${profiles}`, `--cpu-prof-name=${name}.cpuprofile`);
  if (ctx.options.allocProf) {
    mkdirSync(profiles, { recursive: true });
    const sampler = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'alloc-sampler.js'));
    sampler.searchParams.set('out', path.join(profiles, `${name}.heapprofile`));
    flags.push(`--import=${sampler.href}`);
  }
  return flags;
}

export function newSecrets(): { masterKey: string; bootstrapToken: string } {
  return { masterKey: randomBytes(32).toString('base64'), bootstrapToken: `hkl_bench_${randomBytes(24).toString('hex')}` };
}

// ------------------------------------------------------------------ publishers

export interface PublishStats {
  count: number;
  errors: number;
  firstError: string | null;
  /** performance.now() of the first request. */
  startedAt: number;
  elapsedMs: number;
  achievedPerSecond: number;
  /** Open loop only: publishes not sent because too many were in flight. */
  skipped: number;
  latency: Samples;
}

export function newPublishStats(): PublishStats {
  return {
    count: 0,
    errors: 0,
    firstError: null,
    startedAt: performance.now(),
    elapsedMs: 0,
    achievedPerSecond: 0,
    skipped: 0,
    latency: new Samples(),
  };
}

async function publishOne(client: GraphQLClient, token: string, phase: string, seq: number, stats: PublishStats, type?: string): Promise<void> {
  try {
    stats.latency.add(await publish(client, token, phase, seq, type));
    stats.count++;
  } catch (error) {
    stats.errors++;
    stats.firstError ??= failureText(error);
  }
}

/** `count` publishes, `concurrency` in flight, as fast as the API answers. */
export async function publishClosedLoop(
  client: GraphQLClient,
  token: string,
  phase: string,
  count: number,
  concurrency: number,
): Promise<PublishStats> {
  const stats = newPublishStats();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await publishOne(client, token, phase, next++, stats);
    }),
  );
  stats.elapsedMs = performance.now() - stats.startedAt;
  stats.achievedPerSecond = (stats.count / stats.elapsedMs) * 1000;
  return stats;
}

/**
 * An open loop: publish i is due at i/rate seconds whatever the API's
 * latency (so a slow API shows as latency, not as a lower rate), with at
 * most `maxInFlight` outstanding; for `duration` ms, or until `duration()`
 * is true (while something else goes on beside it).
 */
export async function publishOpenLoop(
  client: GraphQLClient,
  token: string,
  phase: string,
  rate: number,
  duration: number | (() => boolean),
  options: { maxInFlight?: number; type?: string } = {},
): Promise<PublishStats> {
  const stats = newPublishStats();
  const maxInFlight = options.maxInFlight ?? 512;
  const total = typeof duration === 'number' ? Math.round((rate * duration) / 1000) : Infinity;
  const done = typeof duration === 'number' ? () => false : duration;
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  while (seq < total && !done()) {
    const due = Math.min(total, Math.floor(((performance.now() - stats.startedAt) * rate) / 1000) + 1);
    while (seq < due) {
      if (inFlight.size >= maxInFlight) {
        stats.skipped++;
        seq++;
        continue;
      }
      const p = publishOne(client, token, phase, seq++, stats, options.type).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  stats.elapsedMs = performance.now() - stats.startedAt;
  stats.achievedPerSecond = (stats.count / stats.elapsedMs) * 1000;
  return stats;
}

// ------------------------------------------------------------------ measurement window

export interface ProcessUsage {
  role: ProcRole | 'postgres';
  name: string;
  /** CPU seconds within the window. */
  cpuSeconds: number;
  /** cpuSeconds / window seconds: 1.0 is one core busy. */
  cores: number;
  /** Peak resident set since the process started (VmHWM). Null for postgres. */
  peakRssMb: number | null;
}

export interface WindowResult {
  seconds: number;
  processes: ProcessUsage[];
  /** Every core of the machine: busy seconds / window seconds (2.0 = both cores busy). */
  machineBusyCores: number;
  /** machineBusyCores minus what the processes above used: other work on the machine. */
  otherCores: number;
}

export class UsageWindow {
  private readonly startedAt = performance.now();
  private readonly cpu0 = new Map<number, number>();
  private readonly pg0: number;
  private readonly machine0 = machineCpu();

  constructor(
    procs: TrackedProc[],
    private readonly postmasterPid: number,
  ) {
    this.pg0 = postgresCpuSeconds(postmasterPid);
    for (const p of procs) this.cpu0.set(p.pid, readProc(p.pid)?.cpuSeconds ?? 0);
  }

  /** Reads every process (processes started during the window count from zero). */
  finish(procs: TrackedProc[]): WindowResult {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const processes: ProcessUsage[] = [];
    for (const p of procs) {
      const reading = readProc(p.pid) ?? p.proc?.lastReading ?? null;
      if (p.proc && reading) p.proc.lastReading = reading;
      const cpuSeconds = reading ? reading.cpuSeconds - (this.cpu0.get(p.pid) ?? 0) : 0;
      processes.push({
        role: p.role,
        name: p.name,
        cpuSeconds: round(cpuSeconds),
        cores: round(cpuSeconds / seconds),
        peakRssMb: reading ? round(reading.peakRssMb, 1) : null,
      });
    }
    const pgSeconds = postgresCpuSeconds(this.postmasterPid) - this.pg0;
    processes.push({ role: 'postgres', name: 'postgres', cpuSeconds: round(pgSeconds), cores: round(pgSeconds / seconds), peakRssMb: null });
    const machine = machineCpu();
    const busyCores = (machine.busy - this.machine0.busy) / seconds;
    const ours = processes.reduce((sum, p) => sum + p.cpuSeconds, 0) / seconds;
    return { seconds: round(seconds), processes, machineBusyCores: round(busyCores), otherCores: round(Math.max(0, busyCores - ours)) };
  }
}

// ------------------------------------------------------------------ pg_stat_activity sampling

export interface ActivityRow {
  query: string;
  wait: string;
  share: number;
}

export interface StatementRow {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  /** Time spent planning it, when pg_stat_statements.track_planning is on (0 otherwise). */
  planMs: number;
  rows: number;
  /** WAL written by it: full-page images and bytes. */
  walFpi: number;
  walBytes: number;
}

export interface StatementStats {
  calls: number;
  totalMs: number;
  /** Planning time of all statements (see StatementRow.planMs). */
  planMs: number;
  /** Top statements by total execution time. */
  top: StatementRow[];
}

/**
 * Samples the database's active statements every 100 ms: a poor man's
 * pg_stat_statements (which needs shared_preload_libraries, i.e. a server
 * restart) that shows where the database's time goes.
 */
export class ActivitySampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private running = true;
  private readonly loop: Promise<void>;

  /** With `statements`, pg_stat_statements of this database is reset now and read at stop(). */
  constructor(
    private readonly db: pg.Pool,
    private readonly statements = false,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    if (this.statements) {
      await this.db.query('SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)');
    }
    while (this.running) {
      try {
        const { rows } = await this.db.query<{ q: string; w: string }>(
          `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q,
                  coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w
           FROM pg_stat_activity
           WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
        );
        this.samples++;
        for (const r of rows) {
          const key = `${r.w}\u0000${r.q}`;
          this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        }
      } catch {
        // the database went away at the end of the scenario
      }
      await sleep(100);
    }
  }

  /** Statement statistics since the start (pg_stat_statements), when enabled. */
  async statementStats(top = 15): Promise<StatementStats | null> {
    if (!this.statements) return null;
    const { rows } = await this.db.query<{
      query: string;
      calls: string;
      total_ms: number;
      mean_ms: number;
      plan_ms: number;
      rows: string;
      wal_fpi: string;
      wal_bytes: string;
    }>(
      `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms,
              total_plan_time AS plan_ms, rows, wal_fpi, wal_bytes
       FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_%'
       ORDER BY total_exec_time DESC`,
    );
    const all = rows.map((r) => ({
      query: r.query,
      calls: Number(r.calls),
      totalMs: round(r.total_ms),
      meanMs: round(r.mean_ms, 3),
      planMs: round(r.plan_ms),
      rows: Number(r.rows),
      walFpi: Number(r.wal_fpi),
      walBytes: Number(r.wal_bytes),
    }));
    return {
      calls: all.reduce((sum, r) => sum + r.calls, 0),
      totalMs: round(all.reduce((sum, r) => sum + r.totalMs, 0)),
      planMs: round(all.reduce((sum, r) => sum + r.planMs, 0)),
      top: all.slice(0, top),
    };
  }

  /** The most frequent (statement, wait) pairs; share = average number of backends in that state. */
  async stop(top = 10): Promise<ActivityRow[]> {
    this.running = false;
    await this.loop;
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, n]) => {
        const [wait, query] = key.split('\u0000') as [string, string];
        return { query, wait, share: round(n / Math.max(1, this.samples)) };
      });
  }
}
