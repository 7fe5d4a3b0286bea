/**
 * The pull scenario: how soon a waiting long poll of a PULL subscription
 * answers after a publish. Consumers keep `pullDeliveries(waitSeconds: 20)`
 * open (as `hookline listen` does) and acknowledge what they get; one event
 * at a time is published, each when the previous one has been pulled, so
 * that every event finds the consumers waiting. The latency is from the
 * publish's answer (the event committed) to the pull's answer, both seen by
 * the driver; signatures are verified with the Standard Webhooks library.
 */
import { randomBytes } from 'node:crypto';
import { verifySignature } from '../test/support/receiver.js';
import { createTenant, eventData, failureText } from './graphql.js';
import type { RunResult, Scenario } from './scenarios.js';
import { Hookline, UsageWindow, type Context, type TrackedProc } from './stack.js';
import { Samples, round } from './stats.js';

const CONSUMERS = 4;
const WAIT_SECONDS = 20;
/** The pause between one event's pull and the next publish: the consumers are back in their long polls by then. */
const PAUSE_MS = 30;

const CREATE_PULL = `mutation { createPullSubscription(input: { channels: ["invoices"], events: ["invoices.created"] }) { subscription { id } secret } }`;
const PULL = `query($id: ID!) { pullDeliveries(subscriptionId: $id, first: 100, waitSeconds: ${WAIT_SECONDS}) { delivery { id } leaseToken headers body } }`;
const ACK = `mutation($id: ID!, $results: [PullResultInput!]!) { acknowledgeDeliveries(subscriptionId: $id, results: $results) }`;
const PUBLISH = `mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }`;

interface Pulled {
  delivery: { id: string };
  leaseToken: string;
  headers: Record<string, string>;
  body: string;
}

const log = (message: string) => console.log(`  ${message}`);

export const pull: Scenario = async (ctx: Context) => {
  const events = Math.max(50, Math.round(1_000 * ctx.options.scale));
  const hookline = await Hookline.start(ctx, 'pull', ctx.options.workers);
  try {
    const tenant = await createTenant(hookline.graphql, ctx.bootstrapToken, 'bench pull');
    const created = await hookline.graphql.ok<{ createPullSubscription: { subscription: { id: string }; secret: string } }>(
      tenant.adminToken,
      CREATE_PULL,
    );
    const { id } = created.createPullSubscription.subscription;
    const secret = created.createPullSubscription.secret;
    const phase = `pull-${randomBytes(3).toString('hex')}`;

    const committedAt = new Map<number, number>();
    const arrived = new Map<number, () => void>();
    const fromCommit = new Samples();
    const fromPublishStart = new Samples();
    const publishStartedAt = new Map<number, number>();
    let verified = 0;
    let verifyFailed = 0;
    let duplicates = 0;
    let acknowledged = 0;
    let consumerErrors = 0;
    let firstError: string | null = null;
    let stopping = false;
    const seen = new Set<string>();

    const consume = async () => {
      while (!stopping) {
        let pulled: Pulled[];
        try {
          pulled = (await hookline.graphql.ok<{ pullDeliveries: Pulled[] }>(tenant.publisherToken, PULL, { id })).pullDeliveries;
        } catch (error) {
          if (stopping) return;
          consumerErrors += 1;
          firstError ??= failureText(error);
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const at = performance.now();
        for (const p of pulled) {
          if (seen.has(p.delivery.id)) duplicates += 1;
          seen.add(p.delivery.id);
          if (verifySignature([secret], Buffer.from(p.body), p.headers) === null) verified += 1;
          else verifyFailed += 1;
          const seq = (JSON.parse(p.body) as { data: { seq: number } }).data.seq;
          const committed = committedAt.get(seq);
          if (committed !== undefined) fromCommit.add(at - committed);
          const started = publishStartedAt.get(seq);
          if (started !== undefined) fromPublishStart.add(at - started);
          arrived.get(seq)?.();
        }
        if (pulled.length > 0) {
          const results = pulled.map((p) => ({ deliveryId: p.delivery.id, leaseToken: p.leaseToken, status: 200, durationMs: 0 }));
          acknowledged += (await hookline.graphql.ok<{ acknowledgeDeliveries: number }>(tenant.publisherToken, ACK, { id, results }))
            .acknowledgeDeliveries;
        }
      }
    };

    const procs = (): TrackedProc[] => [...hookline.tracked(), { role: 'driver', name: 'driver', pid: process.pid }];
    const consumers = Array.from({ length: CONSUMERS }, () => consume());
    // The consumers' first polls are waiting before the first publish.
    await new Promise((r) => setTimeout(r, 500));
    const window = new UsageWindow(procs(), hookline.postmasterPid);
    const startedAt = performance.now();
    let publishErrors = 0;
    for (let seq = 0; seq < events; seq++) {
      const got = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        arrived.set(seq, () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      publishStartedAt.set(seq, performance.now());
      try {
        await hookline.graphql.ok(tenant.publisherToken, PUBLISH, { input: { type: 'invoices.created', data: eventData(phase, seq) } });
        committedAt.set(seq, performance.now());
      } catch (error) {
        publishErrors += 1;
        firstError ??= failureText(error);
      }
      await got;
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    const elapsedSeconds = (performance.now() - startedAt) / 1000;
    const usage = window.finish(procs());
    stopping = true;
    // The consumers' last polls end when their wait runs out.
    await Promise.all(consumers);

    const latency = fromCommit.summary();
    const notes: string[] = [];
    if (publishErrors) notes.push(`${publishErrors} publishes failed, e.g. ${firstError ?? '?'}`);
    if (consumerErrors) notes.push(`${consumerErrors} pulls failed, e.g. ${firstError ?? '?'}`);
    if (verifyFailed) notes.push(`${verifyFailed} pulled deliveries failed signature verification`);
    if (duplicates) notes.push(`${duplicates} deliveries were pulled twice (a lease lapsed)`);
    const result: RunResult = {
      scenario: 'pull',
      label: `pull: ${CONSUMERS} long polls, one event at a time`,
      params: {
        scenario: 'pull',
        events,
        consumers: CONSUMERS,
        waitSeconds: WAIT_SECONDS,
        workers: hookline.workers.length,
        postgres: hookline.postgresName,
      },
      expected: events - publishErrors,
      delivered: seen.size,
      duplicates,
      missing: Math.max(0, events - publishErrors - seen.size),
      elapsedSeconds: round(elapsedSeconds),
      deliveriesPerSecond: round(seen.size / elapsedSeconds),
      publish: null,
      // From the publish's answer to the long poll's: the wake-up path (fan-out, NOTIFY, lease).
      receiptLatencyMs: latency,
      receiptWindows: null,
      signatures: { checked: verified + verifyFailed, ok: verified, failed: verifyFailed },
      database: null,
      usage,
      pgActivity: [],
      pgStatements: null,
      extra: { acknowledged, fromPublishStartMs: fromPublishStart.summary() },
      notes: hookline.note ? [...notes, hookline.note] : notes,
    };
    log(
      `pull: ${seen.size}/${events} pulled, ${acknowledged} acknowledged; publish answer → pull answer p50 ${latency?.p50 ?? '?'} ms, p99 ${latency?.p99 ?? '?'} ms`,
    );
    return [result];
  } finally {
    await hookline.stop();
  }
};
