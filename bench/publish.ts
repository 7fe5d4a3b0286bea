/**
 * Publishing scenarios: how fast events are accepted, with the workers
 * delivering them (fan-out 1) meanwhile.
 *
 * - publish: concurrent single publishEvent calls against batches of 500
 *   (publishEvents), side by side on one stack; then batches of 100, 500
 *   and 1,000, whose rate per event should stay flat.
 * - publish-latency: single publishEvent calls at a fixed 50, 100 and 200
 *   requests/s (open loop): p50 and p99 of the mutation.
 * - publish-api: what one publishEvent costs the API process: its CPU per
 *   call, counted over the publishing alone, at a fixed 200 requests/s
 *   (open loop, with p50 and p99 of the mutation), one call at a time, and
 *   16 at a time; fan-out 1, the worker delivering meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { createSubscriptions, createTenant, eventData, failureText, type GraphQLClient, type Tenant } from './graphql.js';
import type { RunResult, Scenario } from './scenarios.js';
import {
  ActivitySampler,
  Hookline,
  UsageWindow,
  newPublishStats,
  publishClosedLoop,
  publishOpenLoop,
  type Context,
  type PublishStats,
  type TrackedProc,
  type WindowResult,
} from './stack.js';
import { round } from './stats.js';

const BATCH_SIZES = [100, 500, 1000];
const LATENCY_RATES = [50, 100, 200];
/** publishEvents calls in flight: a few publishers each sending their batches one after the other. */
export const BATCHES_IN_FLIGHT = 2;

const PUBLISH_EVENTS = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }`;

const log = (message: string) => console.log(`  ${message}`);

function publishSizes(ctx: Context) {
  const s = ctx.options.scale;
  return {
    events: Math.max(1_000, Math.round(50_000 * s)),
    seconds: Math.max(5, Math.round(ctx.options.steadySeconds * s)),
  };
}

/**
 * `total` events of `type` in publishEvents calls of `batchSize`, `inFlight`
 * calls at a time, with the data a single publish carries (so that the
 * receiver measures receipt latency alike). Latency is per call.
 */
export async function publishInBatches(
  client: GraphQLClient,
  token: string,
  phase: string,
  total: number,
  batchSize: number,
  inFlight: number,
  type = 'invoices.created',
): Promise<PublishStats> {
  const stats = newPublishStats();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const first = next;
        next = Math.min(total, next + batchSize);
        const inputs = Array.from({ length: next - first }, (_, i) => ({ type, data: eventData(phase, first + i) }));
        const started = performance.now();
        try {
          const result = await client.ok<{ publishEvents: { acceptedCount: number } }>(token, PUBLISH_EVENTS, { inputs });
          stats.latency.add(performance.now() - started);
          stats.count += result.publishEvents.acceptedCount;
          stats.errors += inputs.length - result.publishEvents.acceptedCount;
        } catch (error) {
          stats.errors += inputs.length;
          stats.firstError ??= failureText(error);
        }
      }
    }),
  );
  stats.elapsedMs = performance.now() - stats.startedAt;
  stats.achievedPerSecond = (stats.count / stats.elapsedMs) * 1000;
  return stats;
}

/** CPU ms of one process (by role) in a usage window, per publish. */
function cpuMsPerPublish(usage: WindowResult, role: 'api' | 'postgres', publishes: number): number | null {
  const seconds = usage.processes.filter((p) => p.role === role).reduce((sum, p) => sum + p.cpuSeconds, 0);
  return publishes > 0 ? round((seconds * 1000) / publishes, 3) : null;
}

async function measure(
  ctx: Context,
  hookline: Hookline,
  label: string,
  params: Record<string, number | string>,
  run: (phase: string) => Promise<PublishStats>,
  /** Count CPU over the publishing alone, not also while the last deliveries arrive (publish-api). */
  options: { usageOverPublishing?: boolean; extra?: Record<string, unknown> } = {},
): Promise<RunResult> {
  const phase = `${label.replace(/\W+/g, '-')}-${randomBytes(3).toString('hex')}`;
  await ctx.receiver.phase(phase);
  const procs = (): TrackedProc[] => [
    ...hookline.tracked(),
    { role: 'receiver', name: 'receiver', pid: ctx.receiver.proc.pid, proc: ctx.receiver.proc },
    { role: 'driver', name: 'driver', pid: process.pid },
  ];
  // Statement statistics only when asked for: the sampler's own queries would add to PostgreSQL's CPU per publish.
  const sampler = hookline.statements ? new ActivitySampler(hookline.db, true) : null;
  const window = new UsageWindow(procs(), hookline.postmasterPid);
  const stats = await run(phase);
  const publishing = options.usageOverPublishing ? window.finish(procs()) : null;
  const statements = (await sampler?.statementStats(25)) ?? null;
  const pgActivity = (await sampler?.stop()) ?? [];
  if (stats.count === 0) throw new Error(`${label}: every publish failed: ${stats.firstError ?? '?'}`);
  // Wait for the deliveries too: the publishing above ran while the workers delivered.
  const snapshot = await ctx.receiver.awaitDeliveries(stats.count, ctx.options.stallSeconds);
  const usage = publishing ?? window.finish(procs());
  const startedAt = performance.timeOrigin + stats.startedAt;
  const elapsedSeconds = snapshot.lastAt !== null ? (snapshot.lastAt - startedAt) / 1000 : 0;
  const missing = Math.max(0, stats.count - snapshot.unique);
  const notes: string[] = [];
  if (stats.errors) notes.push(`${stats.errors} events refused or failed, e.g. ${stats.firstError ?? '?'}`);
  if (missing) notes.push(`${missing} of ${stats.count} deliveries had not arrived when the wait ended`);
  const result: RunResult = {
    scenario: params.scenario as string,
    label,
    params: { ...params, workers: hookline.workers.length, postgres: hookline.postgresName },
    expected: stats.count,
    delivered: snapshot.unique,
    duplicates: snapshot.duplicates,
    missing,
    elapsedSeconds: round(elapsedSeconds),
    deliveriesPerSecond: elapsedSeconds > 0 ? round(snapshot.unique / elapsedSeconds) : 0,
    publish: {
      count: stats.count,
      errors: stats.errors,
      firstError: stats.firstError,
      perSecond: round(stats.achievedPerSecond),
      skipped: stats.skipped,
      latencyMs: stats.latency.summary(),
    },
    receiptLatencyMs: snapshot.latency,
    receiptWindows: snapshot.latencyWindows,
    signatures: { checked: snapshot.verified + snapshot.verifyFailed, ok: snapshot.verified, failed: snapshot.verifyFailed },
    database: await hookline.databaseCheck(phase),
    usage,
    pgActivity,
    pgStatements: statements ? { ...statements, callsPerDelivery: stats.count ? round(statements.calls / stats.count, 1) : null } : null,
    extra: {
      eventsAcceptedPerSecond: round(stats.achievedPerSecond),
      // Publishes that failed cost the API too: the CPU is divided by every call answered.
      apiCpuMsPerPublish: cpuMsPerPublish(usage, 'api', stats.count + stats.errors),
      postgresCpuMsPerPublish: cpuMsPerPublish(usage, 'postgres', stats.count + stats.errors),
      cpuWindow: publishing ? 'publishing' : 'publishing and delivering',
      ...options.extra,
    },
    notes: hookline.note ? [...notes, hookline.note] : notes,
  };
  const p = result.publish!.latencyMs;
  log(
    `${label}: ${result.publish!.perSecond} events/s accepted` +
      (p ? `; per call p50 ${p.p50} p99 ${p.p99} ms` : '') +
      `; API CPU ${String(result.extra.apiCpuMsPerPublish)} ms per publish` +
      `; ${result.delivered}/${result.expected} delivered` +
      (usage.otherCores >= 0.2 ? ` (other work on the machine: ${usage.otherCores} cores)` : ''),
  );
  return result;
}

async function withStack<T>(ctx: Context, label: string, work: (hookline: Hookline, tenant: Tenant) => Promise<T>): Promise<T> {
  const hookline = await Hookline.start(ctx, label, ctx.options.workers);
  try {
    const tenant = await createTenant(hookline.graphql, ctx.bootstrapToken, `bench ${label}`);
    const [sub] = await createSubscriptions(hookline.graphql, tenant.adminToken, ctx.receiver.port, 1, `${label}-`);
    ctx.receiver.setSecret(sub!.key, sub!.secret);
    return await work(hookline, tenant);
  } finally {
    await hookline.stop();
  }
}

export const publish: Scenario = async (ctx) => {
  const { events } = publishSizes(ctx);
  return withStack(ctx, 'publish', async (hookline, tenant) => {
    const results: RunResult[] = [];
    log(`${events} events, fan-out 1: ${ctx.options.publishConcurrency} concurrent publishEvent calls, then batches`);
    results.push(
      await measure(
        ctx,
        hookline,
        `publish single ×${ctx.options.publishConcurrency}`,
        { scenario: 'publish', events, concurrency: ctx.options.publishConcurrency },
        (phase) => publishClosedLoop(hookline.graphql, tenant.publisherToken, phase, events, ctx.options.publishConcurrency),
      ),
    );
    for (const batchSize of BATCH_SIZES) {
      results.push(
        await measure(
          ctx,
          hookline,
          `publish batches of ${batchSize}`,
          { scenario: 'publish', events, batchSize, inFlight: BATCHES_IN_FLIGHT },
          (phase) => publishInBatches(hookline.graphql, tenant.publisherToken, phase, events, batchSize, BATCHES_IN_FLIGHT),
        ),
      );
    }
    const single = results[0]!.publish!.perSecond;
    const of500 = results.find((r) => r.params.batchSize === 500)!.publish!.perSecond;
    log(`batches of 500 vs single publishes: ${round(of500 / single)} × (${of500} vs ${single} events/s)`);
    return results;
  });
};

export const publishLatency: Scenario = async (ctx) => {
  const { seconds } = publishSizes(ctx);
  return withStack(ctx, 'publish-latency', async (hookline, tenant) => {
    const results: RunResult[] = [];
    for (const rate of LATENCY_RATES) {
      log(`publishEvent at ${rate}/s for ${seconds} s, fan-out 1`);
      results.push(
        await measure(ctx, hookline, `publish latency ${rate}/s`, { scenario: 'publish-latency', rate, seconds }, (phase) =>
          publishOpenLoop(hookline.graphql, tenant.publisherToken, phase, rate, seconds * 1000),
        ),
      );
    }
    return results;
  });
};

/** The rate of publish-api's open loop, at which its p99 target is set. */
export const PUBLISH_API_RATE = 200;
/** Closed-loop publishes of publish-api before measuring: the API's code is compiled and its caches are warm. */
const PUBLISH_API_WARM_UP = 1_000;
const PUBLISH_API_IDLE_MS = 3_000;

/**
 * The API's own cost of publishEvent: CPU of the API process per call,
 * counted from the first call to the last answer (the worker keeps
 * delivering, fan-out 1, and its CPU is reported beside). Also the API's CPU
 * while idle, which is in every figure above at its rate.
 */
export const publishApi: Scenario = async (ctx) => {
  const { events, seconds } = publishSizes(ctx);
  const closedLoop = Math.max(1_000, Math.round(events / 10));
  return withStack(ctx, 'publish-api', async (hookline, tenant) => {
    const warm = await publishClosedLoop(hookline.graphql, tenant.publisherToken, 'warm-up', PUBLISH_API_WARM_UP, 4);
    if (warm.count === 0) throw new Error(`publish-api: every warm-up publish failed: ${warm.firstError ?? '?'}`);
    // Let the warm-up's deliveries drain, so that the idle figure is idle.
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = new UsageWindow(hookline.tracked(), hookline.postmasterPid);
    await new Promise((r) => setTimeout(r, PUBLISH_API_IDLE_MS));
    const idleUsage = idle.finish(hookline.tracked());
    const apiIdle = idleUsage.processes.find((p) => p.role === 'api')!;
    const apiIdleCpuMsPerSecond = round((apiIdle.cpuSeconds * 1000) / idleUsage.seconds);
    log(`API idle: ${apiIdleCpuMsPerSecond} ms of CPU per second`);
    const options = { usageOverPublishing: true, extra: { apiIdleCpuMsPerSecond } };
    const results: RunResult[] = [];
    log(`publishEvent at ${PUBLISH_API_RATE}/s for ${seconds} s, fan-out 1`);
    results.push(
      await measure(
        ctx,
        hookline,
        `publish api ${PUBLISH_API_RATE}/s`,
        { scenario: 'publish-api', rate: PUBLISH_API_RATE, seconds },
        (phase) => publishOpenLoop(hookline.graphql, tenant.publisherToken, phase, PUBLISH_API_RATE, seconds * 1000),
        options,
      ),
    );
    for (const concurrency of [1, ctx.options.publishConcurrency]) {
      log(`${closedLoop} publishEvent calls, ${concurrency} at a time, fan-out 1`);
      results.push(
        await measure(
          ctx,
          hookline,
          `publish api ×${concurrency}`,
          { scenario: 'publish-api', events: closedLoop, concurrency },
          (phase) => publishClosedLoop(hookline.graphql, tenant.publisherToken, phase, closedLoop, concurrency),
          options,
        ),
      );
    }
    return results;
  });
};

export const PUBLISH_SCENARIOS: Record<string, Scenario> = { publish, 'publish-latency': publishLatency, 'publish-api': publishApi };
