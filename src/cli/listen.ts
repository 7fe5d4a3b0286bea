import { readFileSync } from 'node:fs';
import os from 'node:os';
import { DeliveryHttpClient, type AttemptResult } from '../delivery-engine/http-client.js';
import { MAX_PULL_WAIT_SECONDS, NO_RESPONSE_STATUS, PULL_LEASE_SECONDS, type PullResult } from '../pull/outcome.js';
import { ApiClient, ApiError, isNotFound, isRefused, isTransient } from './api-client.js';
import { backoffDelay, sleep } from './backoff.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import {
  acknowledgeDeliveries,
  createPullSubscription,
  deleteSubscription,
  findSubscription,
  pullDeliveries,
  viewer,
  type PulledDelivery,
  type Viewer,
} from './operations.js';
import { isProcessRunning } from '../processes.js';
import { resolveListenSettings, sameSelection, type ListenFlags, type ListenSettings } from './options.js';
import { readState, removeState, stateFilePath, writeState, type ListenState } from './state.js';

/**
 * `hookline listen`: a temporary PULL subscription whose deliveries are
 * forwarded, unchanged, to a local URL, with the local response reported as
 * the attempt. It is built to be left running: the API going away is waited
 * out (the deliveries wait on the server), a listen killed without cleaning
 * up resumes its subscription from the state file, and it never prompts.
 */

/** Each long poll waits as long as the server allows. */
const PULL_WAIT_SECONDS = MAX_PULL_WAIT_SECONDS;
const PULL_BATCH = 50;
/** A long poll's answer may take the whole wait; the request deadline leaves room beyond it. */
const PULL_TIMEOUT_MS = (PULL_WAIT_SECONDS + 15) * 1000;
/** Forwards in flight at once: enough for a local app, not a load test of it. */
const FORWARD_CONCURRENCY = 8;
/** Per forward, connect to last byte: what the delivery workers allow an endpoint by default. */
const FORWARD_TIMEOUT_MS = 15_000;
const LEASE_MS = PULL_LEASE_SECONDS * 1000;
/**
 * A delivery whose lease would lapse before its forward could end and be
 * reported is not forwarded: its result would not be recorded, the API would
 * offer it again, and the local app would see it twice for nothing.
 */
const LATEST_FORWARD_START_MS = LEASE_MS - FORWARD_TIMEOUT_MS - 5_000;
/** At start, an API that cannot be reached is a failure after this long, so that a CI job fails fast. */
const START_RETRY_MS = 10_000;
/** After SIGINT or SIGTERM, how long forwards in flight may take to end and be reported. */
const STOP_GRACE_MS = 10_000;
const DELETE_TIMEOUT_MS = 5_000;

/** Connection-level and proxy headers describe the hop from the API, not the delivery. */
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer']);

export async function listen(flags: ListenFlags): Promise<ExitCode> {
  let settings: ListenSettings;
  try {
    settings = resolveListenSettings(flags);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  return new Listener(settings).run();
}

/** Raised at start when SIGINT or SIGTERM came first. */
class Interrupted extends Error {}

interface ActiveSubscription {
  id: string;
  secret: string;
}

class Listener {
  private readonly api: ApiClient;
  private readonly forwarder: DeliveryHttpClient;
  private readonly stopping = new AbortController();
  private readonly stateFile: string;
  private readonly startDeadline = Date.now() + START_RETRY_MS;
  private subscription: ActiveSubscription | undefined;
  private disconnectedSince: number | undefined;

  constructor(private readonly settings: ListenSettings) {
    this.api = new ApiClient(settings.api, settings.key, PULL_TIMEOUT_MS);
    // No userAgent: the request goes with the headers the API signed and sent, its User-Agent included.
    // Its default response cap is what the API keeps of an attempt's body.
    this.forwarder = new DeliveryHttpClient({ timeoutMs: FORWARD_TIMEOUT_MS, allowPrivate: true });
    this.stateFile = stateFilePath(settings.name);
  }

  async run(): Promise<ExitCode> {
    const onSignal = () => {
      if (this.stopping.signal.aborted) {
        this.say(`Second signal: exiting without deleting the subscription; hookline listen --name ${this.settings.name} resumes it.`);
        process.exit(EXIT.failed);
      }
      this.stopping.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await this.start();
      const loop = this.pullLoop();
      const stopped = new Promise<void>((resolve) => this.stopping.signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([loop, stopped]);
      await Promise.race([loop.catch(() => undefined), sleep(STOP_GRACE_MS)]);
      return await this.stop();
    } catch (error) {
      if (error instanceof Interrupted) return await this.stop();
      if (error instanceof CliError) {
        this.say(error.message);
        return error.exitCode;
      }
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await Promise.allSettled([this.api.close(), this.forwarder.close()]);
    }
  }

  private get signal(): AbortSignal {
    return this.stopping.signal;
  }

  private say(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  /** Checks the key, then resumes the subscription of the state file or creates one. */
  private async start(): Promise<void> {
    const { settings } = this;
    const previous = await this.readPreviousState();
    const me = await this.atStart('viewer', () => viewer(this.api, { signal: this.signal }));
    this.checkKey(me);
    const accountId = me.account!.id;

    let replaced: string | undefined;
    if (previous && previous.api === settings.api && previous.accountId === accountId && previous.environment === me.environment) {
      const existing = await this.atStart('webhookSubscription', () => findSubscription(this.api, previous.subscriptionId, { signal: this.signal }));
      if (existing && existing.kind === 'PULL') {
        if (sameSelection(existing, settings) && previous.expireAfterIdleSeconds === settings.expireAfterIdleSeconds) {
          this.subscription = { id: existing.id, secret: previous.secret };
          await this.saveState(previous.createdAt, accountId, me.environment);
          this.say(`Resuming subscription ${existing.id} (--name ${settings.name}): deliveries that waited come first.`);
          this.announce();
          return;
        }
        replaced = existing.id;
      } else {
        this.say(`The subscription of --name ${settings.name} is gone (deleted, or expired without a pull): creating a new one.`);
      }
    } else if (previous) {
      this.say(`The state of --name ${settings.name} is of another API, account or environment; its subscription is left to expire.`);
    }

    const created = await this.atStart('createPullSubscription', () =>
      createPullSubscription(
        this.api,
        {
          description: `hookline listen (${settings.name}) on ${os.hostname()}`,
          channels: settings.channels,
          events: settings.events,
          expireAfterIdleSeconds: settings.expireAfterIdleSeconds,
        },
        { signal: this.signal },
      ),
    );
    this.subscription = { id: created.subscription.id, secret: created.secret };
    await this.saveState(new Date().toISOString(), accountId, me.environment);
    if (replaced) {
      // The old one would go on collecting deliveries nobody pulls until its idle expiry.
      try {
        await deleteSubscription(this.api, replaced, { timeoutMs: DELETE_TIMEOUT_MS });
        this.say(`Channels, events or idle expiry changed: subscription ${replaced} deleted, ${created.subscription.id} created.`);
      } catch (error) {
        this.say(
          `Channels, events or idle expiry changed: could not delete subscription ${replaced} (${(error as Error).message}); it expires when idle.`,
        );
      }
    }
    this.announce();
  }

  private async readPreviousState(): Promise<ListenState | null> {
    const read = await readState(this.stateFile).catch((error: unknown) => {
      throw new CliError(`Cannot read the state file ${this.stateFile}: ${(error as Error).message}`, EXIT.failed);
    });
    if (read.state === null) {
      if (read.unreadable) this.say(`Ignoring the state file ${this.stateFile}: it is not one this version wrote.`);
      return null;
    }
    const state = read.state;
    if (state.pid !== process.pid && state.hostname === os.hostname() && isListenProcess(state.pid)) {
      throw new CliError(
        `Another hookline listen --name ${this.settings.name} is running (pid ${state.pid}). Stop it first, or pass another --name.`,
        EXIT.failed,
      );
    }
    return state;
  }

  private checkKey(me: Viewer): void {
    if (me.environment === 'PRODUCTION' && !this.settings.live) {
      throw new CliError(
        'This is a PRODUCTION key: listen would take live deliveries. Use a STAGING key, or pass --live to do this on purpose.',
        EXIT.usage,
      );
    }
    if (me.role !== 'ADMIN' || me.account === null) {
      throw new CliError(`listen needs an ADMIN key of an account (it creates and deletes a subscription); this key is ${me.role}.`, EXIT.refused);
    }
  }

  private async saveState(createdAt: string, accountId: string, environment: string): Promise<void> {
    const { settings } = this;
    const state: ListenState = {
      version: 1,
      name: settings.name,
      api: settings.api,
      accountId,
      environment,
      subscriptionId: this.subscription!.id,
      secret: this.subscription!.secret,
      channels: settings.channels,
      events: settings.events,
      expireAfterIdleSeconds: settings.expireAfterIdleSeconds,
      pid: process.pid,
      hostname: os.hostname(),
      createdAt,
    };
    try {
      await writeState(this.stateFile, state);
    } catch (error) {
      throw new CliError(`Cannot write the state file ${this.stateFile}: ${(error as Error).message}`, EXIT.failed);
    }
  }

  private announce(): void {
    const { settings } = this;
    const what = settings.events.length > 0 ? settings.events.join(', ') : `every event of ${settings.channels.join(', ')}`;
    this.say(`Forwarding ${what} to ${settings.forwardTo} (subscription ${this.subscription!.id}).`);
    this.say(`Ready! Your webhook signing secret is ${this.subscription!.secret} (^C to quit)`);
  }

  /** One operation at start: retried while the API cannot be reached, up to START_RETRY_MS; other failures end the start. */
  private async atStart<T>(operation: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (this.signal.aborted) throw new Interrupted();
        if (!isTransient(error)) throw startFailure(operation, error, this.settings.api);
        const wait = retryWait(error, attempt);
        if (Date.now() + wait > this.startDeadline) {
          throw new CliError(`Cannot reach the Hookline API at ${this.settings.api}: ${(error as Error).message}`, EXIT.failed);
        }
        await sleep(wait, this.signal);
        if (this.signal.aborted) throw new Interrupted();
      }
    }
  }

  private lost(error: unknown): void {
    if (this.disconnectedSince !== undefined) return;
    this.disconnectedSince = Date.now();
    this.say(`Lost the connection to ${this.settings.api} (${(error as Error).message}); reconnecting. Deliveries wait on the server.`);
  }

  private reconnected(): void {
    if (this.disconnectedSince === undefined) return;
    const seconds = Math.round((Date.now() - this.disconnectedSince) / 1000);
    this.disconnectedSince = undefined;
    this.say(`Reconnected to ${this.settings.api} after ${seconds} s.`);
  }

  /** Runs until stopped; an error ends it only when going on cannot help (the key refused, the subscription gone). */
  private async pullLoop(): Promise<void> {
    const subscription = this.subscription!;
    let failures = 0;
    while (!this.signal.aborted) {
      let batch: PulledDelivery[];
      const pulledAt = Date.now();
      try {
        batch = await pullDeliveries(this.api, subscription.id, PULL_BATCH, PULL_WAIT_SECONDS, { timeoutMs: PULL_TIMEOUT_MS, signal: this.signal });
      } catch (error) {
        if (this.signal.aborted) return;
        this.failUnlessPassing(error);
        this.lost(error);
        await sleep(retryWait(error, failures++), this.signal);
        continue;
      }
      failures = 0;
      this.reconnected();
      if (batch.length > 0) await this.forwardBatch(subscription.id, batch, pulledAt);
    }
  }

  /** Ends the listen for failures that waiting does not cure; returns for those it may. */
  private failUnlessPassing(error: unknown): void {
    if (isTransient(error)) return;
    if (isRefused(error)) {
      throw new CliError(
        `The API refused the key: ${(error as Error).message}. The subscription is kept; hookline listen --name ${this.settings.name} with a valid key resumes it.`,
        EXIT.refused,
      );
    }
    if (isNotFound(error)) {
      const id = this.subscription!.id;
      this.subscription = undefined;
      void removeState(this.stateFile).catch(() => undefined);
      throw new CliError(
        `Subscription ${id} no longer exists: deleted, or expired without a pull. Start hookline listen again for a new one (with a new secret).`,
        EXIT.failed,
      );
    }
    throw new CliError(`The API failed: ${(error as Error).message}`, EXIT.failed);
  }

  /** Forwards a batch, a few at a time; each result is reported as soon as it is known. */
  private async forwardBatch(subscriptionId: string, batch: PulledDelivery[], pulledAt: number): Promise<void> {
    const queue = [...batch];
    const worker = async () => {
      for (let item = queue.shift(); item !== undefined && !this.signal.aborted; item = queue.shift()) {
        // Left unforwarded, it is offered again once its lease lapses.
        if (Date.now() - pulledAt > LATEST_FORWARD_START_MS) continue;
        const result = await this.forwarder.send({ url: this.settings.forwardTo, headers: forwardedHeaders(item.headers), body: item.body });
        this.print(item, result);
        await this.acknowledge(subscriptionId, item, result, pulledAt + LEASE_MS);
      }
    };
    await Promise.all(Array.from({ length: Math.min(FORWARD_CONCURRENCY, queue.length) }, worker));
  }

  /** Reports the local result, retrying while the API is away and the lease holds. */
  private async acknowledge(subscriptionId: string, item: PulledDelivery, result: AttemptResult, leaseEndsAt: number): Promise<void> {
    const report: PullResult = {
      deliveryId: item.delivery.id,
      leaseToken: item.leaseToken,
      // 0: no HTTP response arrived; the body then says why.
      status: result.status ?? NO_RESPONSE_STATUS,
      body: result.status === null ? (result.error ?? 'no response') : (result.body ?? ''),
      durationMs: Math.round(result.durationMs),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const recorded = await acknowledgeDeliveries(this.api, subscriptionId, [report]);
        this.reconnected();
        if (recorded === 0) this.say(`The result of delivery ${item.delivery.id} came after its lease lapsed; it will be offered again.`);
        return;
      } catch (error) {
        if (this.subscription === undefined) return;
        if (isRefused(error) || isNotFound(error)) this.failUnlessPassing(error);
        if (!isTransient(error)) {
          this.say(`The result of delivery ${item.delivery.id} was not accepted: ${(error as Error).message}`);
          return;
        }
        this.lost(error);
        const wait = retryWait(error, attempt);
        if (Date.now() + wait > leaseEndsAt) return;
        await sleep(wait);
      }
    }
  }

  private print(item: PulledDelivery, result: AttemptResult): void {
    const now = new Date();
    const durationMs = Math.round(result.durationMs);
    if (this.settings.printJson) {
      const line = {
        time: now.toISOString(),
        eventType: item.delivery.event.type,
        eventId: item.delivery.event.id,
        deliveryId: item.delivery.id,
        attemptCount: item.delivery.attemptCount,
        status: result.status ?? NO_RESPONSE_STATUS,
        durationMs,
        error: result.status === null ? result.error : null,
        headers: item.headers,
        body: item.body,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    const outcome = result.status === null ? `ERR ${result.error ?? 'no response'}` : String(result.status);
    process.stdout.write(`${now.toTimeString().slice(0, 8)}  ${item.delivery.event.type}  ${item.delivery.id}  ${outcome}  ${durationMs} ms\n`);
  }

  /** Deletes the subscription and the state file; on failure keeps the file, so that the next listen resumes. */
  private async stop(): Promise<ExitCode> {
    const subscription = this.subscription;
    if (!subscription) return EXIT.ok;
    try {
      await deleteSubscription(this.api, subscription.id, { timeoutMs: DELETE_TIMEOUT_MS });
    } catch (error) {
      this.say(
        `Could not delete subscription ${subscription.id} (${(error as Error).message}). ` +
          `It expires when idle, and hookline listen --name ${this.settings.name} resumes it.`,
      );
      return EXIT.failed;
    }
    await removeState(this.stateFile);
    this.say(`Stopped: subscription ${subscription.id} deleted.`);
    return EXIT.ok;
  }
}

function retryWait(error: unknown, attempt: number): number {
  const asked = error instanceof ApiError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 0;
  return Math.max(asked, backoffDelay(attempt));
}

/** The headers as pulled, without those of the hop from the API. */
export function forwardedHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_HEADERS.has(name.toLowerCase()) && typeof value === 'string') out[name] = value;
  }
  return out;
}

/** A start-up failure of one operation as a line a person can act on. */
function startFailure(operation: string, error: unknown, api: string): CliError {
  const message = (error as Error).message;
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    return new CliError(`The API key was refused: ${message}. Check HOOKLINE_API_KEY (or --key).`, EXIT.refused);
  }
  if (isRefused(error)) return new CliError(`${operation} was refused: ${message}`, EXIT.refused);
  if (error instanceof ApiError && error.code === 'GRAPHQL_VALIDATION_FAILED') {
    return new CliError(`The API at ${api} does not offer ${operation} as this CLI calls it (an older Hookline?): ${message}`, EXIT.failed);
  }
  if (error instanceof ApiError && error.kind === 'http') return new CliError(`${message}: is ${api} a Hookline GraphQL API?`, EXIT.failed);
  return new CliError(`${operation} failed: ${message}`, EXIT.failed);
}

/**
 * Whether a process still runs that could be the listen of a state file:
 * after a SIGKILL its pid may have gone to another program, which must not
 * keep the name locked; Linux says what a process runs.
 */
function isListenProcess(pid: number): boolean {
  if (!isProcessRunning(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('listen');
  } catch {
    return true;
  }
}
