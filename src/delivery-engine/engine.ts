import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { newId } from '../ids.js';
import type { AttemptContext, AttemptEntry, AttemptStore, ClaimLimits, ClaimResult } from './attempt-store.js';
import type { Deliverer, SecretsBySubscription } from './deliverer.js';

export interface EngineOptions {
  /** Deliveries in flight in this process at most. */
  concurrency: number;
  /** Per attempt, connect to last byte: a lease lasts this long plus a margin. */
  deliveryTimeoutMs: number;
  defaultMaxInFlight: number;
  /** Milliseconds between claims while nothing wakes the engine (retries falling due). */
  pollIntervalMs?: number;
}

export interface EngineDeps {
  store: AttemptStore;
  deliverer: Deliverer;
  logger: Logger;
  metrics: Metrics;
}

const DEFAULT_POLL_INTERVAL_MS = 250;
/** A lease outlasts the attempt's deadline by this much, for the recording of its attempt. */
const LEASE_MARGIN_MS = 10_000;
/** Claims at most this many deliveries in one statement. */
const MAX_CLAIM = 200;
/** After a failed claim (the database is away), wait this long before the next. */
const CLAIM_ERROR_PAUSE_MS = 1_000;

/**
 * The delivery pipeline of one worker process. A claim loop keeps up to
 * `concurrency` deliveries in flight: it claims due deliveries whenever
 * slots are free, and every claimed delivery is attempted on its own, so a
 * slow endpoint holds only its own slots (at most its per-endpoint cap),
 * never a batch. Finished attempts go to the group-commit recorder.
 * Claiming, sending and recording overlap.
 *
 * Slots are shared fairly: a claim serves the accounts with the fewest of
 * this worker's slots first, then within an account its least busy
 * endpoints. An account may hold `concurrency` slots; a headroom of a tenth
 * more is kept for the other accounts, so that their deliveries start at
 * once instead of waiting for a slow endpoint's slots to free up.
 *
 * A claim is a lease: a worker that dies leaves its deliveries to be
 * claimed again when their leases expire, so nothing is lost (at least
 * once). A wake-up when a fan-out commits, a freed slot while more were
 * due, and a short poll (for retries that fall due) start the next claim.
 */
export class DeliveryEngine {
  readonly owner = newId();
  private inFlight = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private moreDue = false;
  private readonly attempts = new Set<Promise<void>>();
  private readonly pollIntervalMs: number;
  private readonly perEndpointInWorker: number;
  /** Deliveries in flight at most: `concurrency` for one account, and a headroom that only the others may use. */
  private readonly slots: number;
  private readonly claimThreshold: number;
  /** This worker's deliveries in flight, by subscription and by account: the claim's fair shares. */
  private readonly inFlightByEndpoint = new Map<string, number>();
  private readonly inFlightByAccount = new Map<string, number>();
  /** The claim under way, the loop's or one written with a group of attempts: one at a time, so that two never count the same free slots. */
  private claimInProgress: Promise<unknown> | undefined;
  /** Deliveries whose slots a claim written with their attempts has filled again: their end wakes no claim of its own. */
  private readonly refilled = new Set<string>();
  private readonly leaseSeconds: number;

  constructor(
    private readonly options: EngineOptions,
    private readonly deps: EngineDeps,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    // Half of the slots at most for one endpoint, so that one endpoint with a high cap never starves the others here.
    this.perEndpointInWorker = Math.max(1, Math.ceil(options.concurrency / 2));
    this.slots = workerSlots(options.concurrency);
    // Slots freed one by one are claimed for together, so that a claim serves several deliveries.
    this.claimThreshold = Math.max(1, Math.floor(options.concurrency / 10));
    this.leaseSeconds = (options.deliveryTimeoutMs + LEASE_MARGIN_MS) / 1000;
  }

  get deliveriesInFlight(): number {
    return this.inFlight;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Claims now (called on a wake-up notification, when a fan-out committed deliveries). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.claimInProgress) {
        // A claim written with a group of attempts: its deliveries are counted once it is done.
        await this.claimInProgress.catch(() => undefined);
        continue;
      }
      const free = this.slots - this.inFlight;
      if (free > 0) {
        this.woken = false;
        const limit = Math.min(free, MAX_CLAIM);
        const claiming = this.deps.store.claimAndTell(this.claimLimits(limit, this.inFlightByEndpoint, this.inFlightByAccount));
        this.claimInProgress = claiming;
        const claim = await claiming.catch((error: unknown) => {
          this.deps.logger.warn({ err: error }, 'could not claim deliveries');
          return undefined;
        });
        this.claimInProgress = undefined;
        if (!claim) {
          // The database is away: the groups written meanwhile need not wait for this pause to claim.
          await this.pause(CLAIM_ERROR_PAUSE_MS);
          continue;
        }
        this.take(claim);
        if (claim.claimed.length === limit && this.inFlight < this.slots) continue;
      }
      if (!this.running) break;
      // With every slot busy, only a finished attempt (which wakes the loop) makes room.
      if (this.woken && this.inFlight < this.slots) continue;
      this.woken = false;
      await this.pause(this.pollIntervalMs);
    }
  }

  /**
   * Writes a group of finished attempts: the recorder's write. While more
   * deliveries may be due and no other claim is under way, a claim for the
   * slots the group frees goes in the same transaction, after the record
   * (AttemptStore.recordAndClaim): a busy endpoint's slot is filled again
   * as its lease is given back, instead of after a wake-up and a claim of
   * its own. The claim counts this worker's deliveries in flight as they
   * are once the group is written.
   */
  async recordGroup(entries: readonly AttemptEntry[]): Promise<void> {
    if (!this.running || !this.moreDue || this.claimInProgress) return this.deps.store.record(entries);
    const endpoints = new Map(this.inFlightByEndpoint);
    const accounts = new Map(this.inFlightByAccount);
    for (const { context } of entries) {
      bump(endpoints, context.subscription.id, -1);
      bump(accounts, context.subscription.accountId, -1);
    }
    const limit = Math.min(this.slots - this.inFlight + entries.length, MAX_CLAIM);
    const writing = this.deps.store.recordAndClaim(entries, this.claimLimits(limit, endpoints, accounts));
    this.claimInProgress = writing;
    let claim: ClaimResult | undefined;
    try {
      claim = await writing;
    } finally {
      this.claimInProgress = undefined;
    }
    if (!claim) return;
    for (const { context } of entries) this.refilled.add(context.delivery.id);
    this.take(claim);
  }

  private claimLimits(limit: number, inFlightByEndpoint: ReadonlyMap<string, number>, inFlightByAccount: ReadonlyMap<string, number>): ClaimLimits {
    return {
      owner: this.owner,
      limit,
      leaseSeconds: this.leaseSeconds,
      defaultMaxInFlight: this.options.defaultMaxInFlight,
      maxInFlightPerEndpoint: this.perEndpointInWorker,
      maxInFlightPerAccount: this.options.concurrency,
      inFlightByEndpoint,
      inFlightByAccount,
    };
  }

  /** Starts the attempts of a claim. */
  private take(claim: ClaimResult): void {
    const { claimed } = claim;
    // An endpoint or account at its share may have more due: a freed slot is worth another claim.
    this.moreDue = claimed.length > 0 || claim.heldBack;
    if (claimed.length > 0) this.dispatch(claimed, this.deps.deliverer.secretsOf(claimed, claim.secretRows));
  }

  private dispatch(claimed: AttemptContext[], secrets: SecretsBySubscription): void {
    this.inFlight += claimed.length;
    for (const c of claimed) this.count(c, 1);
    this.deps.metrics.deliveriesInFlight.set(this.inFlight);
    for (const context of claimed) {
      const attempt = this.deps.deliverer
        .deliver(context, secrets.get(context.subscription.id))
        .then(
          () => undefined,
          (error: unknown) => {
            // Not an endpoint failure (those are recorded attempts) but ours, e.g. the database is
            // away: the lease runs out and the delivery is attempted again.
            this.deps.logger.error({ err: error, deliveryId: context.delivery.id }, 'delivery attempt not recorded');
          },
        )
        .finally(() => {
          this.attempts.delete(attempt);
          this.inFlight -= 1;
          this.count(context, -1);
          this.deps.metrics.deliveriesInFlight.set(this.inFlight);
          const refilled = this.refilled.delete(context.delivery.id);
          if (!refilled && this.moreDue && this.slots - this.inFlight >= this.claimThreshold) this.wake();
        });
      this.attempts.add(attempt);
    }
  }

  private count(context: AttemptContext, by: 1 | -1): void {
    bump(this.inFlightByEndpoint, context.subscription.id, by);
    bump(this.inFlightByAccount, context.subscription.accountId, by);
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  /** Stops claiming and waits for the attempts in flight (each bounded by its deadline) to be recorded. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await Promise.allSettled([...this.attempts]);
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

/**
 * The slots of a worker: `concurrency`, which one account alone may fill,
 * and a tenth more (at least one) that only the other accounts may use, so
 * that a busy account's slow endpoints never hold every slot and another
 * account's delivery starts without waiting for one to free up, while an
 * account alone loses nothing of its concurrency.
 */
export function workerSlots(concurrency: number): number {
  return concurrency + Math.max(1, Math.ceil(concurrency / 10));
}
