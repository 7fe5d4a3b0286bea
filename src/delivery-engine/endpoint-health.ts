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
 */
export enum EndpointHealthState {
  HEALTHY = 'HEALTHY',
  FAILING = 'FAILING',
  HELD = 'HELD',
}

/** Consecutive failed attempts after which an endpoint is held. */
export const HOLD_AFTER_FAILURES = 5;
/** The wait before the first probe of a held endpoint; it doubles with each failed probe. */
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

/** The wait before the next probe after `consecutiveFailures` failures in a row (at least HOLD_AFTER_FAILURES). */
export function probeDelayMs(consecutiveFailures: number): number {
  const failedProbes = Math.max(0, consecutiveFailures - HOLD_AFTER_FAILURES);
  return Math.min(MAX_PROBE_DELAY_MS, FIRST_PROBE_DELAY_MS * 2 ** Math.min(failedProbes, 20));
}

/** The health after one more attempt. */
export function healthAfterAttempt(current: EndpointHealth, attempt: AttemptResult): EndpointHealth {
  if (attempt.succeeded) {
    if (current.state === EndpointHealthState.HEALTHY && current.consecutiveFailures === 0) return current;
    return { ...HEALTHY, since: attempt.endedAt };
  }
  const consecutiveFailures = current.consecutiveFailures + 1;
  const state = consecutiveFailures >= HOLD_AFTER_FAILURES ? EndpointHealthState.HELD : EndpointHealthState.FAILING;
  return {
    state,
    since: state === current.state ? current.since : attempt.endedAt,
    consecutiveFailures,
    nextProbeAt: state === EndpointHealthState.HELD ? new Date(attempt.endedAt.getTime() + probeDelayMs(consecutiveFailures)) : null,
    failingSince: current.failingSince ?? attempt.startedAt,
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
