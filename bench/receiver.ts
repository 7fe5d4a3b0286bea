/**
 * The webhook receiver of the benchmark, in its own process (forked by the
 * driver, talking over IPC): the tests' receiver in its hand-off mode, which
 * answers 200 as soon as a request's body has arrived. This records the
 * publish-to-receipt latency from `data.sentAt` (the publisher's clock; same
 * machine), counts unique webhook-ids, and verifies one signature in
 * `sampleEvery` with the `standardwebhooks` package, as an integrator would.
 *
 * URL paths are `/h/<key>` (a Hookline subscription) and `/raw/<key>` (the
 * raw-stack baseline); the driver tells the receiver each key's secret.
 *
 * Deliveries are counted by the phase their data carries: usually one per
 * run, or several side by side when a run measures two streams at once
 * (each phase has its own counts and latencies).
 */
import { startReceiver, verifySignature, type ArrivedRequest } from '../test/support/receiver.js';
import { LatencyTimeline, nowMs, type LatencySummary, type LatencyWindow } from './stats.js';

export type ToReceiver =
  | { type: 'secret'; key: string; secret: string }
  /** Counts afresh for these phases; the first is the one snapshots are of unless they name another. */
  | { type: 'phase'; phases: string[] }
  | { type: 'snapshot'; id: number; latency: boolean; phase?: string };

export interface ReceiverSnapshot {
  type: 'snapshot';
  id: number;
  phase: string;
  /** Requests of this phase, duplicates included. */
  received: number;
  /** Distinct webhook-ids of this phase. */
  unique: number;
  duplicates: number;
  /** Requests whose data carried none of the phases being counted (late deliveries of an earlier scenario) or no phase. */
  stray: number;
  firstAt: number | null;
  lastAt: number | null;
  verified: number;
  verifyFailed: number;
  /** Requests whose signature could not be checked because the key's secret is unknown. */
  unknownKey: number;
  latency: LatencySummary | null;
  /** The latency by stretches of publish time (RECEIPT_WINDOW_MS), with `latency`. */
  latencyWindows: LatencyWindow[] | null;
}

export type FromReceiver = { type: 'ready'; port: number } | ReceiverSnapshot;

const sampleEvery = Math.max(1, Number(process.argv[2] ?? 50));

/** The stretches of publish time a snapshot's latency is also given by. */
const RECEIPT_WINDOW_MS = 5_000;

const secrets = new Map<string, string>();

type PhaseState = ReturnType<typeof fresh>;
/** The phase snapshots are of unless they name another. */
let phase = '';
/** The phases being counted, each with its own tallies. */
let states = new Map<string, PhaseState>();
let stray = 0;

function fresh() {
  return {
    received: 0,
    ids: new Set<string>(),
    duplicates: 0,
    firstAt: null as number | null,
    lastAt: null as number | null,
    verified: 0,
    verifyFailed: 0,
    unknownKey: 0,
    sampleCounter: 0,
    latency: new LatencyTimeline(),
  };
}

function send(message: FromReceiver): void {
  process.send?.(message);
}

function record(request: ArrivedRequest): void {
  const at = nowMs();
  let data: { sentAt?: unknown; phase?: unknown } | undefined;
  try {
    const parsed = JSON.parse(request.body) as { data?: typeof data };
    data = parsed.data;
  } catch {
    data = undefined;
  }
  const state = typeof data?.phase === 'string' ? states.get(data.phase) : undefined;
  if (!data || !state) {
    stray++;
    return;
  }
  state.received++;
  state.firstAt ??= at;
  state.lastAt = at;
  const id = request.headers['webhook-id'] ?? '';
  if (state.ids.has(id)) state.duplicates++;
  else state.ids.add(id);
  if (typeof data.sentAt === 'number') state.latency.add(data.sentAt, at - data.sentAt);

  if (state.sampleCounter++ % sampleEvery === 0) {
    const key = request.path.split('/')[2] ?? '';
    const secret = secrets.get(key);
    if (secret === undefined) state.unknownKey++;
    else if (verifySignature([secret], request.rawBody, request.headers) === null) state.verified++;
    else state.verifyFailed++;
  }
}

function snapshot(id: number, latency: boolean, of = phase): ReceiverSnapshot {
  const state = states.get(of) ?? fresh();
  return {
    type: 'snapshot',
    id,
    phase: of,
    received: state.received,
    unique: state.ids.size,
    duplicates: state.duplicates,
    stray,
    firstAt: state.firstAt,
    lastAt: state.lastAt,
    verified: state.verified,
    verifyFailed: state.verifyFailed,
    unknownKey: state.unknownKey,
    latency: latency ? state.latency.summary() : null,
    latencyWindows: latency ? state.latency.windows(RECEIPT_WINDOW_MS) : null,
  };
}

process.on('message', (message: ToReceiver) => {
  if (message.type === 'secret') secrets.set(message.key, message.secret);
  else if (message.type === 'phase') {
    phase = message.phases[0] ?? '';
    states = new Map(message.phases.map((p) => [p, fresh()]));
    stray = 0;
  } else if (message.type === 'snapshot') send(snapshot(message.id, message.latency, message.phase));
});
// The driver is gone (it exited or was killed): nothing is left to report to.
process.on('disconnect', () => process.exit(0));

const receiver = await startReceiver({ onRequest: record, keepAliveTimeoutMs: 60_000 });
send({ type: 'ready', port: receiver.port });
