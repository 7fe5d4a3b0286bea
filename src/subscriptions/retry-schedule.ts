/**
 * Seconds to wait before each retry when a subscription sets no schedule
 * (docs/api.md, Retries): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so eight attempts
 * over about a day and a half.
 */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze([5, 300, 1800, 7200, 18000, 36000, 36000]);

/** Bounds of a subscription's own schedule: a wait of 1 s to 1 day, at most 20 retries. */
export const MIN_RETRY_DELAY_SECONDS = 1;
export const MAX_RETRY_DELAY_SECONDS = 86_400;
export const MAX_RETRIES = 20;
