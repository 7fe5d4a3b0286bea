/**
 * The scenarios. Each runs on fresh databases and processes of its own (so
 * that one scenario's rows and warm caches do not flatter or burden the
 * next) and returns one RunResult per measured configuration.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  RETRY_SCHEDULE,
  createSubscription,
  createSubscriptions,
  createTenant,
  publish,
  type CreatedSubscription,
  type ReceiverSubscriptionOptions,
  type Tenant,
} from './graphql.js';
import { ROOT, forkBench, sleep, waitFor, type Postgres, type Proc } from './harness.js';
import { insertBacklog, insertHistory, scopeOf } from './bulk.js';
import type { RawConfig, RawMode, RawResult } from './raw-worker.js';
import type { ReceiverSnapshot } from './receiver.js';
import {
  ActivitySampler,
  Hookline,
  UsageWindow,
  publishClosedLoop,
  publishOpenLoop,
  postgresFor,
  type ActivityRow,
  type StatementStats,
  type Context,
  type PublishStats,
  type TrackedProc,
  type WindowResult,
} from './stack.js';
import { Samples, round, type LatencySummary, type LatencyWindow } from './stats.js';
import { receiptWindowsText } from './report.js';
import { BATCHES_IN_FLIGHT, PUBLISH_SCENARIOS, publishInBatches } from './publish.js';
import { pull } from './pull.js';

export interface RunResult {
  scenario: string;
  /** Scenario and configuration, e.g. "steady 500/s" or "workers 2": repeats of one label are summarised by their median. */
  label: string;
  params: Record<string, number | string>;
  expected: number;
  delivered: number;
  duplicates: number;
  missing: number;
  /** From the first publish (or the workers' start, for a backlog) to the last receipt. */
  elapsedSeconds: number;
  deliveriesPerSecond: number;
  publish: { count: number; errors: number; firstError: string | null; perSecond: number; skipped: number; latencyMs: LatencySummary | null } | null;
  receiptLatencyMs: LatencySummary | null;
  /** The receipt latency by stretches of publish time (the receiver's windows), where the run measured it. */
  receiptWindows: LatencyWindow[] | null;
  signatures: { checked: number; ok: number; failed: number };
  database: { statuses: Record<string, number>; attempts: number; succeededAttempts: number } | null;
  usage: WindowResult;
  pgActivity: ActivityRow[];
  /** pg_stat_statements of the run (--pg-stat-statements), with calls per delivery. */
  pgStatements: (StatementStats & { callsPerDelivery: number | null }) | null;
  extra: Record<string, unknown>;
  notes: string[];
}

export type Scenario = (ctx: Context) => Promise<RunResult[]>;

const log = (message: string) => console.log(`  ${message}`);

export function sizes(ctx: Context) {
  const s = ctx.options.scale;
  return {
    baseline: Math.max(500, Math.round(50_000 * s)),
    steadySeconds: Math.max(5, Math.round(ctx.options.steadySeconds * s)),
    burst: Math.max(500, Math.round(50_000 * s)),
    fanoutEvents: Math.max(3, Math.round(100 * s)),
    backlog: Math.max(1_000, Math.round(1_000_000 * s)),
    // Full size from --scale 0.02 up: the busy tenant's backlog only has to outlast the other's publishes.
    fairnessBacklog: Math.max(100, Math.round(600 * Math.min(1, s * 50))),
    fairnessEvents: Math.max(20, Math.round(40 * Math.min(1, s * 50))),
    ledgerEvents: Math.max(2_000, Math.round(100_000 * s)),
    historyRows: Math.max(10_000, Math.round(1_000_000 * s)),
    historyBurst: Math.max(500, Math.round(20_000 * s)),
  };
}

function phaseName(label: string): string {
  return `${label.replace(/\W+/g, '-')}-${randomBytes(3).toString('hex')}`;
}

function driverProc(): TrackedProc {
  return { role: 'driver', name: 'driver', pid: process.pid };
}

function receiverProc(ctx: Context): TrackedProc {
  return { role: 'receiver', name: 'receiver', pid: ctx.receiver.proc.pid, proc: ctx.receiver.proc };
}

/** Subscriptions of `tenant` to the receiver, whose secrets the receiver is told. */
async function receiverSubscriptions(
  ctx: Context,
  hookline: Hookline,
  tenant: Tenant,
  count: number,
  prefix: string,
  options: ReceiverSubscriptionOptions = {},
): Promise<CreatedSubscription[]> {
  const subs = await createSubscriptions(hookline.graphql, tenant.adminToken, ctx.receiver.port, count, prefix, options);
  for (const s of subs) ctx.receiver.setSecret(s.key, s.secret);
  return subs;
}

async function setupTenant(
  ctx: Context,
  hookline: Hookline,
  subscriptions: number,
  prefix: string,
  options: ReceiverSubscriptionOptions = {},
): Promise<{ tenant: Tenant; subs: CreatedSubscription[] }> {
  const tenant = await createTenant(hookline.graphql, ctx.bootstrapToken, `bench ${prefix}`);
  const subs = await receiverSubscriptions(ctx, hookline, tenant, subscriptions, prefix, options);
  return { tenant, subs };
}

function publishSummary(stats: PublishStats): RunResult['publish'] {
  return {
    count: stats.count,
    errors: stats.errors,
    firstError: stats.firstError,
    perSecond: round(stats.achievedPerSecond),
    skipped: stats.skipped,
    latencyMs: stats.latency.summary(),
  };
}

/** Epoch ms of a performance.now() reading of this process. */
function epochOf(performanceNow: number): number {
  return performance.timeOrigin + performanceNow;
}

function finishRun(
  partial: Pick<RunResult, 'scenario' | 'label' | 'params' | 'expected'> & Partial<RunResult>,
  snapshot: ReceiverSnapshot,
  startedAtEpoch: number,
  usage: WindowResult,
): RunResult {
  const elapsedSeconds = snapshot.lastAt !== null ? (snapshot.lastAt - startedAtEpoch) / 1000 : 0;
  const notes = partial.notes ?? [];
  const missing = Math.max(0, partial.expected - snapshot.unique);
  if (partial.publish?.errors) notes.push(`${partial.publish.errors} publishes failed, e.g. ${partial.publish.firstError ?? '?'}`);
  if (missing) notes.push(`${missing} of ${partial.expected} deliveries had not arrived when the wait ended (--stall-seconds / --max-wait-seconds)`);
  if (snapshot.verifyFailed) notes.push(`${snapshot.verifyFailed} sampled signatures failed verification`);
  if (snapshot.duplicates) notes.push(`${snapshot.duplicates} duplicate deliveries (same webhook-id) received`);
  return {
    publish: null,
    database: null,
    pgActivity: [],
    pgStatements: null,
    extra: {},
    ...partial,
    delivered: snapshot.unique,
    duplicates: snapshot.duplicates,
    missing,
    elapsedSeconds: round(elapsedSeconds),
    deliveriesPerSecond: elapsedSeconds > 0 ? round(snapshot.unique / elapsedSeconds) : 0,
    receiptLatencyMs: partial.receiptLatencyMs === undefined ? snapshot.latency : partial.receiptLatencyMs,
    receiptWindows: partial.receiptLatencyMs === undefined ? snapshot.latencyWindows : (partial.receiptWindows ?? null),
    signatures: { checked: snapshot.verified + snapshot.verifyFailed, ok: snapshot.verified, failed: snapshot.verifyFailed },
    usage,
    notes,
  };
}

/** Stops the sampler; its findings go into the run. */
async function collect(run: RunResult, sampler: ActivitySampler): Promise<void> {
  const statements = await sampler.statementStats();
  run.pgActivity = await sampler.stop();
  run.pgStatements = statements ? { ...statements, callsPerDelivery: run.delivered ? round(statements.calls / run.delivered, 1) : null } : null;
}

/** The PostgreSQL the run used, and why when it is not the main one. */
function annotate(run: RunResult, hookline: Hookline): RunResult {
  run.params.postgres = hookline.postgresName;
  if (hookline.note && !run.notes.includes(hookline.note)) run.notes.push(hookline.note);
  return run;
}

function progress(label: string, expected: number) {
  let lastLog = Date.now();
  return (s: ReceiverSnapshot) => {
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`${label}: ${s.unique}/${expected} delivered`);
    }
  };
}

// ------------------------------------------------------------------ raw stack

async function rawRun(
  ctx: Context,
  databaseUrl: string,
  mode: RawMode,
  count: number,
): Promise<{ result: RawResult; proc: Proc; usage: WindowResult; snapshot: ReceiverSnapshot }> {
  const phase = phaseName(`raw-${mode}`);
  await ctx.receiver.phase(phase);
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  ctx.receiver.setSecret('raw', secret);
  const config: RawConfig = {
    mode,
    databaseUrl,
    receiverUrl: `http://127.0.0.1:${ctx.receiver.port}/raw/raw`,
    secret,
    count,
    concurrency: ctx.options.concurrency,
    phase,
    queue: `bench_raw_${mode}`,
  };
  const proc = forkBench('raw-worker.js', `raw-${mode}`, [JSON.stringify(config)], ctx.logDir);
  const procs: TrackedProc[] = [{ role: 'raw', name: `raw-${mode}`, pid: proc.pid, proc }, receiverProc(ctx), driverProc()];
  let window: UsageWindow | undefined;
  let result: RawResult | undefined;
  let failure: string | undefined;
  proc.child.on('message', (message: RawResult | { type: 'error'; message: string } | { type: 'ready' }) => {
    if (message.type === 'ready') {
      // The timed part starts: jobs queued and connections made before it are not counted.
      window = new UsageWindow(procs, ctx.postgres.postmasterPid);
      proc.child.send({ type: 'go' });
    } else if (message.type === 'result') result = message;
    else failure = message.message;
  });
  try {
    await waitFor(proc, 'its result', () => result !== undefined || failure !== undefined, 30 * 60_000);
    if (failure || !window) throw new Error(`raw ${mode}: ${failure ?? 'no result'}`);
    const usage = window.finish(procs);
    const snapshot = mode === 'pgboss' ? await ctx.receiver.snapshot(true) : await ctx.receiver.awaitDeliveries(count, 10);
    proc.child.send({ type: 'exit' });
    return { result: result!, proc, usage, snapshot };
  } finally {
    await proc.stop();
  }
}

/** pg-boss alone, undici alone, and the two together: the rate a hand-rolled worker reaches on this machine. */
export const baseline: Scenario = async (ctx) => {
  const count = sizes(ctx).baseline;
  const database = await ctx.postgres.createDatabase('raw');
  const results: RunResult[] = [];
  try {
    for (const mode of ['pgboss', 'undici', 'stack'] as const) {
      log(`raw ${mode}: ${count} jobs, ${ctx.options.concurrency} in flight`);
      const { result, usage, snapshot } = await rawRun(ctx, database.url, mode, count);
      const label = { pgboss: 'raw pg-boss fetch/complete', undici: 'raw undici POST', stack: 'raw stack (pg-boss + undici)' }[mode];
      const run: RunResult = {
        scenario: 'baseline',
        label,
        params: { count, concurrency: ctx.options.concurrency },
        expected: count,
        delivered: mode === 'pgboss' ? count : snapshot.unique,
        duplicates: snapshot.duplicates,
        missing: mode === 'pgboss' ? 0 : Math.max(0, count - snapshot.unique),
        elapsedSeconds: round(result.elapsedMs / 1000),
        deliveriesPerSecond: round(result.perSecond),
        publish: null,
        receiptLatencyMs: mode === 'pgboss' ? null : snapshot.latency,
        receiptWindows: mode === 'pgboss' ? null : snapshot.latencyWindows,
        signatures: { checked: snapshot.verified + snapshot.verifyFailed, ok: snapshot.verified, failed: snapshot.verifyFailed },
        database: null,
        usage,
        pgActivity: [],
        pgStatements: null,
        extra: { errors: result.errors, ...(result.sendPerSecond !== undefined ? { sendPerSecond: round(result.sendPerSecond) } : {}) },
        notes: result.errors ? [`${result.errors} requests failed`] : [],
      };
      log(`${label}: ${run.deliveriesPerSecond}/s${result.sendPerSecond ? ` (send ${round(result.sendPerSecond)}/s)` : ''}`);
      results.push(run);
    }
  } finally {
    await database.drop();
  }
  return results;
};

// ------------------------------------------------------------------ Hookline scenarios

/** Publishes `events` with `concurrency` in flight (or in publishEvents calls of `batchSize`) and waits for every delivery. */
async function burstRun(
  ctx: Context,
  hookline: Hookline,
  tenant: Tenant,
  scenario: string,
  label: string,
  events: number,
  fanout: number,
  batchSize?: number,
): Promise<RunResult> {
  const expected = events * fanout;
  const phase = phaseName(label);
  await ctx.receiver.phase(phase);
  const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
  const window = new UsageWindow(procs(), hookline.postmasterPid);
  const sampler = new ActivitySampler(hookline.db, hookline.statements);
  const stats =
    batchSize === undefined
      ? await publishClosedLoop(hookline.graphql, tenant.publisherToken, phase, events, ctx.options.publishConcurrency)
      : await publishInBatches(hookline.graphql, tenant.publisherToken, phase, events, batchSize, BATCHES_IN_FLIGHT);
  if (stats.count === 0) throw new Error(`every publishEvent failed: ${stats.firstError ?? '?'}`);
  const snapshot = await ctx.receiver.awaitDeliveries(expected - stats.errors * fanout, ctx.options.stallSeconds, progress(label, expected));
  const usage = window.finish(procs());
  const run = finishRun(
    {
      scenario,
      label,
      params: {
        events,
        fanout,
        workers: hookline.workers.length,
        concurrency: ctx.options.concurrency,
        ...(batchSize === undefined ? { publishConcurrency: ctx.options.publishConcurrency } : { batchSize, batchesInFlight: BATCHES_IN_FLIGHT }),
      },
      expected,
      publish: publishSummary(stats),
    },
    snapshot,
    epochOf(stats.startedAt),
    usage,
  );
  await collect(run, sampler);
  run.database = await hookline.databaseCheck(phase);
  return annotate(run, hookline);
}

function logRun(run: RunResult): void {
  const p = run.publish?.latencyMs;
  const r = run.receiptLatencyMs;
  log(
    `${run.label}: ${run.delivered}/${run.expected} in ${run.elapsedSeconds} s = ${run.deliveriesPerSecond}/s` +
      (p ? `; publish p50 ${p.p50} p99 ${p.p99} ms` : '') +
      (r ? `; receipt p50 ${r.p50} p95 ${r.p95} p99 ${r.p99} ms` : ''),
  );
  if (run.scenario === 'steady' && run.receiptWindows?.length) log(`  ${receiptWindowsText(run.receiptWindows)}`);
}

export const burst: Scenario = async (ctx) => {
  const { burst: total } = sizes(ctx);
  const fanout = ctx.options.fanout;
  const hookline = await Hookline.start(ctx, 'burst', ctx.options.workers);
  try {
    const { tenant } = await setupTenant(ctx, hookline, fanout, 'b');
    const run = await burstRun(ctx, hookline, tenant, 'burst', `burst ${ctx.options.workers}w`, Math.ceil(total / fanout), fanout);
    logRun(run);
    return [run];
  } finally {
    await hookline.stop();
  }
};

export const steady: Scenario = async (ctx) => {
  const { steadySeconds } = sizes(ctx);
  const results: RunResult[] = [];
  const fan = ctx.options.steadyFanout;
  for (const rate of ctx.options.steadyRates) {
    const label = fan === 1 ? `steady ${rate}/s` : `steady ${rate}/s, fan-out ${fan}`;
    const hookline = await Hookline.start(ctx, `steady${rate}`, ctx.options.workers);
    try {
      const { tenant } = await setupTenant(ctx, hookline, fan, `s${rate}-`);
      const phase = phaseName(label);
      await ctx.receiver.phase(phase);
      const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
      const window = new UsageWindow(procs(), hookline.postmasterPid);
      const sampler = new ActivitySampler(hookline.db, hookline.statements);
      log(`steady ${rate}/s for ${steadySeconds} s, fan-out ${fan}`);
      const stats = await publishOpenLoop(hookline.graphql, tenant.publisherToken, phase, rate, steadySeconds * 1000);
      if (stats.count === 0) throw new Error(`every publishEvent failed: ${stats.firstError ?? '?'}`);
      const snapshot = await ctx.receiver.awaitDeliveries(stats.count * fan, ctx.options.stallSeconds, progress(label, stats.count * fan));
      const usage = window.finish(procs());
      const run = finishRun(
        {
          scenario: 'steady',
          label,
          params: { rate, seconds: steadySeconds, fanout: fan, workers: hookline.workers.length, concurrency: ctx.options.concurrency },
          expected: stats.count * fan,
          publish: publishSummary(stats),
        },
        snapshot,
        epochOf(stats.startedAt),
        usage,
      );
      if (stats.skipped) run.notes.push(`${stats.skipped} publishes skipped: more than 512 were in flight`);
      if (stats.achievedPerSecond < rate * 0.95) run.notes.push(`the publisher reached ${round(stats.achievedPerSecond)}/s of the ${rate}/s asked`);
      await collect(run, sampler);
      run.database = await hookline.databaseCheck(phase);
      annotate(run, hookline);
      logRun(run);
      results.push(run);
    } finally {
      await hookline.stop();
    }
  }
  return results;
};

/** One event to 100 subscriptions, one after the other: how long until the last of them arrives. */
export const fanout: Scenario = async (ctx) => {
  const { fanoutEvents } = sizes(ctx);
  const subscriptions = 100;
  const label = `fan-out 1→${subscriptions}`;
  const hookline = await Hookline.start(ctx, 'fanout', ctx.options.workers);
  try {
    const { tenant } = await setupTenant(ctx, hookline, subscriptions, 'f');
    const phase = phaseName(label);
    await ctx.receiver.phase(phase);
    const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
    const window = new UsageWindow(procs(), hookline.postmasterPid);
    const sampler = new ActivitySampler(hookline.db, hookline.statements);
    const completion = new Samples();
    const publishLatency = new Samples();
    let errors = 0;
    let delivered = 0;
    let snapshot: ReceiverSnapshot | undefined;
    const started = performance.now();
    log(`${label}: ${fanoutEvents} events, one at a time`);
    for (let i = 0; i < fanoutEvents; i++) {
      const t0 = performance.now();
      const stats = await publishClosedLoop(hookline.graphql, tenant.publisherToken, phase, 1, 1);
      if (stats.errors) {
        errors++;
        continue;
      }
      publishLatency.add(stats.latency.summary()!.max);
      snapshot = await ctx.receiver.awaitDeliveries(delivered + subscriptions, ctx.options.stallSeconds);
      delivered = snapshot.unique;
      if (snapshot.lastAt !== null) completion.add(snapshot.lastAt - epochOf(t0));
    }
    snapshot = await ctx.receiver.snapshot(true);
    const usage = window.finish(procs());
    const run = finishRun(
      {
        scenario: 'fanout',
        label,
        params: { events: fanoutEvents, subscriptions, workers: hookline.workers.length, concurrency: ctx.options.concurrency },
        expected: (fanoutEvents - errors) * subscriptions,
        publish: { count: fanoutEvents - errors, errors, firstError: null, perSecond: 0, skipped: 0, latencyMs: publishLatency.summary() },
        extra: { eventToLastReceiptMs: completion.summary() },
      },
      snapshot,
      epochOf(started),
      usage,
    );
    await collect(run, sampler);
    run.database = await hookline.databaseCheck(phase);
    annotate(run, hookline);
    logRun(run);
    const c = completion.summary();
    if (c) log(`${label}: publish to the 100th receipt p50 ${c.p50} ms, p99 ${c.p99} ms`);
    return [run];
  } finally {
    await hookline.stop();
  }
};

/** Pending deliveries written with the workers stopped, then drained. */
export const backlog: Scenario = async (ctx) => {
  const { backlog: total } = sizes(ctx);
  const fan = ctx.options.fanout;
  const label = `backlog ${total}`;
  const hookline = await Hookline.start(ctx, 'backlog', 0);
  try {
    const { subs } = await setupTenant(ctx, hookline, fan, 'k');
    const phase = phaseName(label);
    await ctx.receiver.phase(phase);
    const scope = await scopeOf(hookline.db, subs[0]!.id);
    const insertStarted = performance.now();
    let lastLog = Date.now();
    log(`${label}: inserting ${total} pending deliveries (${Math.ceil(total / fan)} events × ${fan} subscriptions) with the workers stopped`);
    const inserted = await insertBacklog(
      hookline.db,
      scope,
      subs.map((s) => s.id),
      total,
      phase,
      (done) => {
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log(`${label}: ${done} inserted`);
        }
      },
    );
    const insertSeconds = (performance.now() - insertStarted) / 1000;
    // What autovacuum would have done while a real backlog built up over minutes.
    await hookline.db.query('VACUUM ANALYZE deliveries');
    await hookline.db.query('VACUUM ANALYZE events');
    log(`${label}: ${inserted} inserted in ${round(insertSeconds)} s; starting ${ctx.options.workers} worker(s)`);

    const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
    const window = new UsageWindow(procs(), hookline.postmasterPid);
    const sampler = new ActivitySampler(hookline.db, hookline.statements);
    const spawned = performance.now();
    await hookline.startWorkers(ctx.options.workers);
    const ready = performance.now();
    const snapshot = await ctx.receiver.awaitDeliveries(inserted, ctx.options.stallSeconds, progress(label, inserted));
    const usage = window.finish(procs());
    const run = finishRun(
      {
        scenario: 'backlog',
        label,
        params: { deliveries: inserted, fanout: fan, workers: ctx.options.workers, concurrency: ctx.options.concurrency },
        expected: inserted,
        // sentAt is the insert time: a latency from it would measure the wait in the backlog.
        receiptLatencyMs: null,
        extra: { insertSeconds: round(insertSeconds), workerStartSeconds: round((ready - spawned) / 1000) },
      },
      snapshot,
      epochOf(ready),
      usage,
    );
    await collect(run, sampler);
    run.database = await hookline.databaseCheck(phase);
    annotate(run, hookline);
    logRun(run);
    return [run];
  } finally {
    await hookline.stop();
  }
};

/** The burst with one worker process and with two, each on a fresh installation. */
export const workers: Scenario = async (ctx) => {
  const { burst: total } = sizes(ctx);
  const fan = ctx.options.fanout;
  const results: RunResult[] = [];
  // Both runs on the same PostgreSQL: the one that two workers' connections fit in.
  const { postgres, note } = await postgresFor(ctx, 2);
  for (const n of [1, 2]) {
    const hookline = await Hookline.start(ctx, `workers${n}`, n, postgres);
    try {
      const { tenant } = await setupTenant(ctx, hookline, fan, `w${n}-`);
      const run = await burstRun(ctx, hookline, tenant, 'workers', `workers ${n}`, Math.ceil(total / fan), fan);
      if (note && !run.notes.includes(note)) run.notes.push(note);
      logRun(run);
      results.push(run);
    } finally {
      await hookline.stop();
    }
  }
  return results;
};

/** The same burst on an empty installation and after 1,000,000 rows of attempt history. */
export const history: Scenario = async (ctx) => {
  const { historyRows, historyBurst } = sizes(ctx);
  const fan = ctx.options.fanout;
  const hookline = await Hookline.start(ctx, 'history', ctx.options.workers);
  try {
    const { tenant, subs } = await setupTenant(ctx, hookline, fan, 'h');
    const events = Math.ceil(historyBurst / fan);
    // Warm-up, not measured: JIT, connection pools and caches, so that the two runs differ only in the history.
    await burstRun(ctx, hookline, tenant, 'history', 'warm-up', Math.max(10, Math.ceil(events / 5)), fan);
    const empty = await burstRun(ctx, hookline, tenant, 'history', 'history: empty', events, fan);
    logRun(empty);

    const scope = await scopeOf(hookline.db, subs[0]!.id);
    const started = performance.now();
    log(`history: inserting ${historyRows} attempts of history`);
    const inserted = await insertHistory(
      hookline.db,
      scope,
      subs.map((s) => s.id),
      historyRows,
    );
    log(`history: ${inserted} attempts inserted in ${round((performance.now() - started) / 1000)} s`);
    const full = await burstRun(ctx, hookline, tenant, 'history', `history: ${inserted} attempts`, events, fan);
    full.extra.historyAttempts = inserted;
    full.extra.rateVsEmpty = empty.deliveriesPerSecond ? round(full.deliveriesPerSecond / empty.deliveriesPerSecond, 3) : null;
    logRun(full);
    return [empty, full];
  } finally {
    await hookline.stop();
  }
};

// ------------------------------------------------------------------ delivery engine

/** Events per publishEvents call in the throughput scenario's batched run. */
const THROUGHPUT_BATCH = 100;

/**
 * The headline figure: GraphQL publishing (16 publishers, fan-out 10) into
 * one API and one worker process, then the same in publishEvents calls of
 * 100 (where the delivery path alone is the limit), against the raw undici
 * POST rate to the same receiver measured in the same run.
 */
export const throughput: Scenario = async (ctx) => {
  const { burst: total, baseline: rawCount } = sizes(ctx);
  const fan = ctx.options.fanout;
  const rawDatabase = await ctx.postgres.createDatabase('rawundici');
  let raw: RunResult;
  try {
    const { result, usage, snapshot } = await rawRun(ctx, rawDatabase.url, 'undici', rawCount);
    raw = finishRun(
      { scenario: 'throughput', label: 'raw undici POST', params: { count: rawCount, concurrency: ctx.options.concurrency }, expected: rawCount },
      snapshot,
      0,
      usage,
    );
    raw.elapsedSeconds = round(result.elapsedMs / 1000);
    raw.deliveriesPerSecond = round(result.perSecond);
    log(`raw undici POST: ${raw.deliveriesPerSecond}/s`);
  } finally {
    await rawDatabase.drop();
  }
  const hookline = await Hookline.start(ctx, 'throughput', ctx.options.workers);
  try {
    const { tenant } = await setupTenant(ctx, hookline, fan, 't');
    const run = await burstRun(ctx, hookline, tenant, 'throughput', `GraphQL publishing, fan-out ${fan}`, Math.ceil(total / fan), fan);
    // The same number of deliveries from publishEvents calls of 100: the delivery path with the API's cost per event lowest.
    const batched = await burstRun(
      ctx,
      hookline,
      tenant,
      'throughput',
      `GraphQL publishEvents of ${THROUGHPUT_BATCH}, fan-out ${fan}`,
      Math.ceil(total / fan),
      fan,
      THROUGHPUT_BATCH,
    );
    for (const r of [run, batched]) {
      r.extra.rawUndiciPerSecond = raw.deliveriesPerSecond;
      r.extra.ratioToRawUndici = raw.deliveriesPerSecond ? round(r.deliveriesPerSecond / raw.deliveriesPerSecond, 3) : null;
      logRun(r);
      log(`ratio to the raw undici POST rate: ${String(r.extra.ratioToRawUndici)}`);
    }
    return [raw, run, batched];
  } finally {
    await hookline.stop();
  }
};

/** An endpoint served by the driver itself. */
interface SlowEndpoint {
  url: string;
  /** Requests whose body has arrived so far, answered or not. */
  requests: () => number;
  /** Ends the requests still waiting for their answer, and the server. */
  close: () => Promise<void>;
}

/** A local endpoint for a slow tenant: answers after `delayMs`, or never (the connection stays open). */
async function slowEndpoint(delayMs: number | null): Promise<SlowEndpoint> {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      if (delayMs === null) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(200).end('ok');
      }, delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`,
    requests: () => requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Slow-tenant isolation: tenant A's endpoint answers after 6 s (or accepts
 * the connection and never answers), tenant B's at once; 80 events each,
 * published interleaved. B's publish-to-receipt latency is the measure.
 */
export const isolation: Scenario = async (ctx) => {
  const events = Math.max(10, Math.round(80 * Math.min(1, ctx.options.scale * 50)));
  const results: RunResult[] = [];
  for (const mode of [
    { name: 'A answers after 6 s', delayMs: 6_000 },
    { name: 'A never answers', delayMs: null },
  ] as const) {
    const label = `isolation: ${mode.name}`;
    const endpoint = await slowEndpoint(mode.delayMs);
    const hookline = await Hookline.start(ctx, `isolation${mode.delayMs ?? 0}`, ctx.options.workers);
    try {
      const tenantA = await createTenant(hookline.graphql, ctx.bootstrapToken, 'bench slow tenant');
      await createSubscription(hookline.graphql, tenantA.adminToken, { url: endpoint.url, channels: ['invoices'], retrySchedule: RETRY_SCHEDULE });
      const { tenant: tenantB } = await setupTenant(ctx, hookline, 1, `i${mode.delayMs ?? 0}-`);
      const phase = phaseName(label);
      const otherPhase = phaseName(`${label} A`);
      await ctx.receiver.phase(phase);
      const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
      const window = new UsageWindow(procs(), hookline.postmasterPid);
      const started = performance.now();
      log(`${label}: ${events} events each for A and B, interleaved`);
      for (let i = 0; i < events; i++) {
        await publish(hookline.graphql, tenantA.publisherToken, otherPhase, i);
        await publish(hookline.graphql, tenantB.publisherToken, phase, i);
      }
      const snapshot = await ctx.receiver.awaitDeliveries(events, ctx.options.stallSeconds, progress(label, events));
      const usage = window.finish(procs());
      const run = finishRun(
        {
          scenario: 'isolation',
          label,
          params: { events, slowDelayMs: mode.delayMs ?? 'never', workers: hookline.workers.length, concurrency: ctx.options.concurrency },
          expected: events,
          extra: { slowEndpointRequestsWhenBDone: endpoint.requests() },
        },
        snapshot,
        epochOf(started),
        usage,
      );
      annotate(run, hookline);
      logRun(run);
      results.push(run);
    } finally {
      await endpoint.close();
      await hookline.stop();
    }
  }
  return results;
};

/** How long the busy tenant's endpoints take to answer: its slots stay taken while the other tenant publishes. */
const FAIRNESS_DELAY_MS = 5_000;
/** maxInFlight of the busy tenant's subscriptions: far above a worker's slots, so that only the engine's fair shares hold it back. */
const FAIRNESS_MAX_IN_FLIGHT = 500;
/** Events per publishEvents call of the busy tenant's backlog. */
const FAIRNESS_BATCH = 100;

/**
 * Fair shares between accounts: tenant S publishes a backlog to `endpoints`
 * endpoints that answer after 5 s, more than all the slots an account may
 * hold; once S's requests are in, tenant B publishes one event at a time to
 * the receiver. B's publish-to-receipt latency is the measure: B should be
 * served from the headroom each worker keeps for other accounts (a tenth of
 * its slots), not once S's requests are answered.
 */
async function fairnessRun(ctx: Context, postgres: Postgres, endpoints: number, workerCount: number): Promise<RunResult> {
  const { fairnessBacklog: backlog, fairnessEvents: events } = sizes(ctx);
  const label = `fairness: ${endpoints} busy endpoints, ${workerCount} worker${workerCount === 1 ? '' : 's'}`;
  const hookline = await Hookline.start(ctx, `fairness${endpoints}x${workerCount}`, workerCount, postgres);
  const slow: SlowEndpoint[] = [];
  try {
    for (let i = 0; i < endpoints; i++) slow.push(await slowEndpoint(FAIRNESS_DELAY_MS));
    const busyRequests = () => slow.reduce((sum, e) => sum + e.requests(), 0);
    const tenantS = await createTenant(hookline.graphql, ctx.bootstrapToken, 'bench busy tenant');
    for (const endpoint of slow) {
      await createSubscription(hookline.graphql, tenantS.adminToken, {
        url: endpoint.url,
        channels: ['invoices'],
        retrySchedule: RETRY_SCHEDULE,
        maxInFlight: FAIRNESS_MAX_IN_FLIGHT,
      });
    }
    const { tenant: tenantB } = await setupTenant(ctx, hookline, 1, `fair${endpoints}x${workerCount}-`);
    const phase = phaseName(label);
    await ctx.receiver.phase(phase);
    const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
    const window = new UsageWindow(procs(), hookline.postmasterPid);
    const sampler = new ActivitySampler(hookline.db, hookline.statements);
    log(`${label}: S publishes ${backlog} events, ${backlog * endpoints} deliveries to endpoints that answer after ${FAIRNESS_DELAY_MS / 1000} s`);
    const backlogStats = await publishInBatches(
      hookline.graphql,
      tenantS.publisherToken,
      phaseName(`${label} S`),
      backlog,
      FAIRNESS_BATCH,
      BATCHES_IN_FLIGHT,
    );
    if (backlogStats.count === 0) throw new Error(`every publishEvents of S failed: ${backlogStats.firstError ?? '?'}`);

    // S's slots are full once it has as many requests waiting as the workers let one account
    // hold; none is answered before 5 s. A worker busy fanning out may claim late: B starts
    // anyway 1 s before S's first answers, and the run says how full S's slots were.
    // One account may fill a worker's concurrency; the headroom above it is the other accounts'.
    const share = hookline.workers.length * ctx.options.concurrency;
    await waitFor(hookline.api, "S's first requests", () => busyRequests() > 0, 120_000);
    const firstRequestAt = performance.now();
    while (busyRequests() < share && performance.now() - firstRequestAt < FAIRNESS_DELAY_MS - 1_000) await sleep(20);
    const busyWhenBStarted = busyRequests();
    log(`${label}: ${busyWhenBStarted} of S's requests waiting for their answer (it may hold ${share}); B publishes ${events} events one at a time`);
    const stats = await publishClosedLoop(hookline.graphql, tenantB.publisherToken, phase, events, 1);
    if (stats.count === 0) throw new Error(`every publishEvent of B failed: ${stats.firstError ?? '?'}`);
    const snapshot = await ctx.receiver.awaitDeliveries(stats.count, ctx.options.stallSeconds, progress(label, stats.count));
    const usage = window.finish(procs());
    const run = finishRun(
      {
        scenario: 'fairness',
        label,
        params: {
          endpoints,
          backlogEvents: backlog,
          backlogDeliveries: backlog * endpoints,
          events,
          slowDelayMs: FAIRNESS_DELAY_MS,
          maxInFlight: FAIRNESS_MAX_IN_FLIGHT,
          workers: hookline.workers.length,
          concurrency: ctx.options.concurrency,
        },
        expected: events,
        publish: publishSummary(stats),
        extra: {
          busySlotsAllowed: share,
          busyRequestsWhenBStarted: busyWhenBStarted,
          busyRequestsWhenBDone: busyRequests(),
          backlogAcceptedPerSecond: round(backlogStats.achievedPerSecond),
        },
      },
      snapshot,
      epochOf(stats.startedAt),
      usage,
    );
    if (backlogStats.errors) run.notes.push(`${backlogStats.errors} of S's events refused or failed, e.g. ${backlogStats.firstError ?? '?'}`);
    if (busyWhenBStarted < share) run.notes.push(`S held ${busyWhenBStarted} of the ${share} slots it may hold when B started`);
    await collect(run, sampler);
    run.database = await hookline.databaseCheck(phase);
    annotate(run, hookline);
    logRun(run);
    return run;
  } finally {
    // Ends S's requests still waiting, so that the workers stop at once and the next run starts clean.
    await Promise.all(slow.map((e) => e.close()));
    await hookline.stop();
  }
}

/** The fairness runs: 2 and 20 busy endpoints, each with 1 worker process and with 2. */
export const fairness: Scenario = async (ctx) => {
  const results: RunResult[] = [];
  // Every run on the same PostgreSQL: the one that two workers' connections fit in.
  const { postgres, note } = await postgresFor(ctx, 2);
  for (const endpoints of [2, 20]) {
    for (const workerCount of [1, 2]) {
      const run = await fairnessRun(ctx, postgres, endpoints, workerCount);
      if (note && !run.notes.includes(note)) run.notes.push(note);
      results.push(run);
    }
  }
  return results;
};

/** Events per second of the stream measured beside a backlog in the ledgers scenario. */
const LEDGERS_MEASURED_RATE = 20;
/** Events per publishEvents call of the ledgers scenario's backlog: the most one call may carry. */
const LEDGERS_BATCH = 1_000;
/**
 * maxInFlight of both of the ledgers scenario's subscriptions: more than the
 * share of a worker's slots one endpoint may take, so that the backlog's rate
 * is the pipeline's, not Hookline's default of 10 in flight per endpoint.
 */
const LEDGERS_MAX_IN_FLIGHT = 100;

/**
 * One stream published at 20/s, one event at a time, for as long as a
 * backlog of another channel takes to be published (publishEvents, batches
 * of 1,000, as fast as the API takes them), fanned out and delivered. One
 * tenant, both subscriptions to the receiver, each stream in a phase of its
 * own: no account's headroom shelters the measured stream, only the queue
 * of its own and the engine's shares between endpoints. The table's
 * deliveries and rate are the backlog's; its publish and receipt latencies
 * the measured stream's.
 */
async function streamBesideBacklog(ctx: Context, run: 'a' | 'b', backlogType: string, measuredType: string): Promise<RunResult> {
  const { ledgerEvents: events } = sizes(ctx);
  const label = `ledgers: ${measuredType} at ${LEDGERS_MEASURED_RATE}/s beside ${events} ${backlogType}`;
  const hookline = await Hookline.start(ctx, `ledgers-${run}`, ctx.options.workers);
  try {
    const options = { maxInFlight: LEDGERS_MAX_IN_FLIGHT };
    // ledgers is an exclusive channel: it needs a subscription of its own.
    const { tenant } = await setupTenant(ctx, hookline, 1, `lg${run}-`, { ...options, channels: ['ledgers'] });
    await receiverSubscriptions(ctx, hookline, tenant, 1, `li${run}-`, { ...options, channels: ['invoices'] });
    const phase = phaseName(label);
    const backlogPhase = phaseName(`${label} backlog`);
    await ctx.receiver.phase(phase, backlogPhase);
    const procs = () => [...hookline.tracked(), receiverProc(ctx), driverProc()];
    const window = new UsageWindow(procs(), hookline.postmasterPid);
    const sampler = new ActivitySampler(hookline.db, hookline.statements);
    log(`${label}: the backlog in batches of ${LEDGERS_BATCH}, ${measuredType} one at a time until it is delivered`);
    let backlogDelivered = false;
    const measured = publishOpenLoop(hookline.graphql, tenant.publisherToken, phase, LEDGERS_MEASURED_RATE, () => backlogDelivered, {
      type: measuredType,
    });
    let backlogStats: PublishStats;
    let backlogSnapshot: ReceiverSnapshot;
    try {
      backlogStats = await publishInBatches(
        hookline.graphql,
        tenant.publisherToken,
        backlogPhase,
        events,
        LEDGERS_BATCH,
        BATCHES_IN_FLIGHT,
        backlogType,
      );
      if (backlogStats.count === 0) throw new Error(`every publishEvents of the backlog failed: ${backlogStats.firstError ?? '?'}`);
      backlogSnapshot = await ctx.receiver.awaitDeliveries(
        backlogStats.count,
        ctx.options.stallSeconds,
        progress(`${label}, backlog`, backlogStats.count),
        {
          phase: backlogPhase,
        },
      );
    } finally {
      // Also when the backlog failed: the measured stream must not outlive the run.
      backlogDelivered = true;
    }
    const stats = await measured;
    const snapshot = await ctx.receiver.awaitDeliveries(stats.count, ctx.options.stallSeconds);
    const usage = window.finish(procs());
    const result = finishRun(
      {
        scenario: 'ledgers',
        label,
        params: {
          backlogType,
          backlogEvents: events,
          batchSize: LEDGERS_BATCH,
          measuredType,
          measuredRate: LEDGERS_MEASURED_RATE,
          maxInFlight: LEDGERS_MAX_IN_FLIGHT,
          workers: hookline.workers.length,
          concurrency: ctx.options.concurrency,
        },
        expected: backlogStats.count,
        publish: publishSummary(stats),
        receiptLatencyMs: snapshot.latency,
        extra: {
          measured: {
            published: stats.count,
            delivered: snapshot.unique,
            missing: Math.max(0, stats.count - snapshot.unique),
            duplicates: snapshot.duplicates,
          },
          backlogAcceptedPerSecond: round(backlogStats.achievedPerSecond),
          backlogPublishCallMs: backlogStats.latency.summary(),
          // From each backlog event's publish to its receipt: how long it waited in the pipeline.
          backlogReceiptLatencyMs: backlogSnapshot.latency,
        },
      },
      backlogSnapshot,
      epochOf(backlogStats.startedAt),
      usage,
    );
    if (backlogStats.errors) result.notes.push(`${backlogStats.errors} backlog events refused or failed, e.g. ${backlogStats.firstError ?? '?'}`);
    if (stats.count > snapshot.unique)
      result.notes.push(
        `${stats.count - snapshot.unique} of the ${stats.count} ${measuredType} events at ${LEDGERS_MEASURED_RATE}/s had not arrived when the wait ended`,
      );
    if (snapshot.duplicates) result.notes.push(`${snapshot.duplicates} duplicate deliveries of the ${measuredType} events`);
    await collect(result, sampler);
    result.database = await hookline.databaseCheck(backlogPhase);
    annotate(result, hookline);
    logRun(result);
    log(`${label}: ${stats.count} ${measuredType} published, ${snapshot.unique} received; the backlog delivered at ${result.deliveriesPerSecond}/s`);
    return result;
  } finally {
    await hookline.stop();
  }
}

/**
 * The ledgers channel's queue of its own, both ways: (a) invoices at 20/s
 * beside a backlog of ledger events, (b) ledger events at 20/s beside a
 * backlog of invoices; each on a fresh installation.
 */
export const ledgers: Scenario = async (ctx) => [
  await streamBesideBacklog(ctx, 'a', 'ledgers.created', 'invoices.created'),
  await streamBesideBacklog(ctx, 'b', 'invoices.created', 'ledgers.created'),
];

/**
 * Delivery rate with and without the retention purge running: a burst on
 * top of old history, then the same burst while 1,000,000 rows of history
 * older than the retention period are deleted in steps beside it. The
 * purge runs in the driver with the engine's own code (what the
 * maintenance job runs, paced the same way), so that the two bursts differ
 * only in it.
 */
export const purge: Scenario = async (ctx) => {
  const { historyRows, historyBurst } = sizes(ctx);
  const fan = ctx.options.fanout;
  // The processes' own maintenance must not purge during the first burst.
  const hookline = await Hookline.start(ctx, 'purge', ctx.options.workers, undefined, { retentionDays: 3650 });
  try {
    const { tenant, subs } = await setupTenant(ctx, hookline, fan, 'p');
    const events = Math.ceil(historyBurst / fan);
    const scope = await scopeOf(hookline.db, subs[0]!.id);
    // Each old event is 1 event + fan-out deliveries + as many attempts.
    const attempts = Math.ceil((historyRows * fan) / (2 * fan + 1));
    log(`purge: inserting ${attempts} attempts of history older than 30 days`);
    const inserted = await insertHistory(
      hookline.db,
      scope,
      subs.map((s) => s.id),
      attempts,
      undefined,
      31,
    );
    await burstRun(ctx, hookline, tenant, 'purge', 'purge warm-up', Math.max(10, Math.ceil(events / 5)), fan);
    const without = await burstRun(ctx, hookline, tenant, 'purge', 'purge: without', events, fan);
    logRun(without);

    // Hookline's own purge step, from its build (npm run bench builds it first).
    const modulePath = pathToFileURL(path.join(ROOT, 'dist', 'src', 'delivery-engine', 'retention.js')).href;
    const { RetentionPurge } = (await import(modulePath)) as {
      RetentionPurge: new (db: unknown, logger: unknown, days: number) => { run(budgetMs: number, shouldStop: () => boolean): Promise<number> };
    };
    // The purge needs only query(), answering a DELETE as TypeORM does: [rows, count].
    const queryable = {
      query: async (sql: string, params: unknown[]) => {
        const r = await hookline.db.query(sql, params);
        return [r.rows, r.rowCount ?? 0];
      },
    };
    const purger = new RetentionPurge(queryable, { info: () => undefined }, 30);
    let purging = true;
    const purgeStarted = performance.now();
    const loop = purger.run(3_600_000, () => !purging);
    const during = await burstRun(ctx, hookline, tenant, 'purge', 'purge: while purging', events, fan);
    purging = false;
    const purgedEvents = await loop;
    const purgeSeconds = (performance.now() - purgeStarted) / 1000;
    during.extra.historyAttempts = inserted;
    during.extra.purgedEventsDuringBurst = purgedEvents;
    during.extra.purgedRowsDuringBurst = purgedEvents * (1 + 2 * fan);
    during.extra.purgeSeconds = round(purgeSeconds);
    during.extra.rateVsWithout = without.deliveriesPerSecond ? round(during.deliveriesPerSecond / without.deliveriesPerSecond, 3) : null;
    logRun(during);
    log(
      `purge: ${purgedEvents} events (${purgedEvents * (1 + 2 * fan)} rows) deleted during the burst; rate ${String(during.extra.rateVsWithout)} of the rate without`,
    );
    return [without, during];
  } finally {
    await hookline.stop();
  }
};

export const SCENARIOS: Record<string, Scenario> = {
  baseline,
  throughput,
  isolation,
  fairness,
  ledgers,
  purge,
  steady,
  burst,
  fanout,
  backlog,
  workers,
  history,
  ...PUBLISH_SCENARIOS,
  pull,
};
