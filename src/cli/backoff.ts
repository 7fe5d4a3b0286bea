/** How long to wait between tries of a request that failed for a reason that may pass. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Reconnecting to the API: from half a second, doubling, to thirty seconds. */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * The wait before retry number `attempt` (0 for the first): the ceiling
 * doubles from initialMs up to maxMs, and the wait is drawn from the upper
 * half of it, so that the listeners an API restart cut off together do not
 * all come back in the same instant, while none retries much sooner than
 * the ceiling says.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = RECONNECT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 40);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after ms, or at once when the signal aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
