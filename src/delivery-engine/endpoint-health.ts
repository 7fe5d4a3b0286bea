/**
 * Endpoint health: what a run of attempts does to a subscription's failure
 * streak and whether its deliveries are held. Pure functions; the attempt
 * store applies them to the locked subscription rows.
 *
 * HEALTHY: the last attempt succeeded (or none was made). FAILING: the last
 * attempts failed, fewer than HOLD_AFTER_FAILURES of them. HELD: at least
 * that many failed in a row; the workers claim none of its deliveries (so
 * they spend no attempts) except one probe at nextProbeAt, and a successful
 * attempt makes it HEALTHY again.
 *
 * The probe schedule counts probes, not failures: the first probe waits
 * FIRST_PROBE_DELAY_MS after the hold however many attempts were in flight
 * when it began (their failures land in the hold but were not probes), and
 * each failed probe waits as long again as the endpoint has been held, which
 * doubles the wait from one probe to the next.
 */
export enum EndpointHealthState {
  HEALTHY = 'HEALTHY',
  FAILING = 'FAILING',
  HELD = 'HELD',
}

/** Consecutive failed attempts after which an endpoint is held. */
export const HOLD_AFTER_FAILURES = 5;
/** The wait before the first probe of a held endpoint; it about doubles with each failed probe. */
export const FIRST_PROBE_DELAY_MS = 5_000;
export const MAX_PROBE_DELAY_MS = 10 * 60_000;

export interface EndpointHealth {
  state: EndpointHealthState;
  /** When the current state began; null for an endpoint that never failed. */
  since: Date | null;
  consecutiveFailures: number;
  nextProbeAt: Date | null;
  /** Start of the current run of failures (kept for the disable-after-days rule); null after a success. */
  failingSince: Date | null;
}

export interface AttemptResult {
  startedAt: Date;
  /** When the attempt ended: probes are scheduled from there. */
  endedAt: Date;
  succeeded: boolean;
}

export const HEALTHY: EndpointHealth = {
  state: EndpointHealthState.HEALTHY,
  since: null,
  consecutiveFailures: 0,
  nextProbeAt: null,
  failingSince: null,
};

/**
 * The wait before the next probe, after a failed probe that ended `heldForMs`
 * after the hold began: as long as the endpoint has been held, so that probe
 * n waits about FIRST_PROBE_DELAY_MS × 2^(n−1), within the first delay and
 * the cap.
 */
export function probeDelayMs(heldForMs: number): number {
  return Math.min(MAX_PROBE_DELAY_MS, Math.max(FIRST_PROBE_DELAY_MS, heldForMs));
}

/**
 * Whether a failed attempt of a held endpoint was its probe: the workers
 * claim a held endpoint's delivery only once its probe is due, so an attempt
 * that started before then was already in flight when the hold began.
 */
function wasProbe(current: EndpointHealth, attempt: AttemptResult): boolean {
  return current.nextProbeAt !== null && attempt.startedAt.getTime() >= current.nextProbeAt.getTime();
}

/** The health after one more attempt. */
export function healthAfterAttempt(current: EndpointHealth, attempt: AttemptResult): EndpointHealth {
  if (attempt.succeeded) {
    if (current.state === EndpointHealthState.HEALTHY && current.consecutiveFailures === 0) return current;
    return { ...HEALTHY, since: attempt.endedAt };
  }
  const consecutiveFailures = current.consecutiveFailures + 1;
  const failingSince = current.failingSince ?? attempt.startedAt;
  if (current.state === EndpointHealthState.HELD) {
    // An attempt in flight when the hold began moves no probe; a failed probe puts the next one further off.
    const nextProbeAt = wasProbe(current, attempt)
      ? new Date(attempt.endedAt.getTime() + probeDelayMs(attempt.endedAt.getTime() - (current.since ?? attempt.endedAt).getTime()))
      : current.nextProbeAt;
    return { ...current, consecutiveFailures, nextProbeAt, failingSince };
  }
  if (consecutiveFailures >= HOLD_AFTER_FAILURES) {
    return {
      state: EndpointHealthState.HELD,
      since: attempt.endedAt,
      consecutiveFailures,
      nextProbeAt: new Date(attempt.endedAt.getTime() + FIRST_PROBE_DELAY_MS),
      failingSince,
    };
  }
  return {
    state: EndpointHealthState.FAILING,
    since: current.state === EndpointHealthState.FAILING ? current.since : attempt.endedAt,
    consecutiveFailures,
    nextProbeAt: null,
    failingSince,
  };
}

/** The health after a group of attempts, folded in the order they started. */
export function healthAfterAttempts(current: EndpointHealth, attempts: readonly AttemptResult[]): EndpointHealth {
  return [...attempts].sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime()).reduce(healthAfterAttempt, current);
}

/** Whether two health values differ (a subscription row is only written when its health changed). */
export function healthChanged(x: EndpointHealth, y: EndpointHealth): boolean {
  return (
    x.state !== y.state ||
    x.consecutiveFailures !== y.consecutiveFailures ||
    x.since?.getTime() !== y.since?.getTime() ||
    x.nextProbeAt?.getTime() !== y.nextProbeAt?.getTime() ||
    x.failingSince?.getTime() !== y.failingSince?.getTime()
  );
}
