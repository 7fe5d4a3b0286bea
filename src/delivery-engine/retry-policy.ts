/**
 * Retry timing and response verdicts, as pure functions so that
 * the delivery worker's decisions can be tested without a clock, a queue or
 * a network.
 */

/** Up to this share of the scheduled wait is added at random, so that endpoints that failed together are not retried together. */
export const RETRY_JITTER_RATIO = 0.2;

/** A Retry-After longer than this many scheduled waits is not honoured in full: one answer must not park a delivery for days. */
export const RETRY_AFTER_CAP_FACTOR = 4;

/** A subscription whose deliveries have all failed for this long is disabled. */
export const FAILURE_STREAK_DISABLE_MS = 5 * 24 * 60 * 60 * 1000;

export interface NextAttemptDelayArgs {
  /** Seconds to wait before the 2nd, 3rd, ... attempt; `[]` means a single attempt. */
  schedule: readonly number[];
  /** Attempts made so far, including the one that just failed (1 after the first). */
  attemptsMade: number;
  /** From the Retry-After of a 429 or 503, already parsed (see parseRetryAfter). */
  retryAfterSeconds?: number;
  /** Returns a number in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

/**
 * Milliseconds to wait before the next attempt, or null when the schedule is
 * exhausted (schedule.length + 1 attempts in all). The scheduled wait gets up
 * to 20% jitter on top; a Retry-After makes the wait at least that long, but
 * never longer than four times the scheduled wait.
 */
export function nextAttemptDelayMs({ schedule, attemptsMade, retryAfterSeconds, random = Math.random }: NextAttemptDelayArgs): number | null {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError(`attemptsMade must be a positive integer, got ${attemptsMade}`);
  }
  if (attemptsMade > schedule.length) return null;
  const scheduledSeconds = schedule[attemptsMade - 1]!;
  if (!Number.isFinite(scheduledSeconds) || scheduledSeconds < 0) {
    throw new RangeError(`retry schedule entries must be non-negative numbers of seconds, got ${scheduledSeconds}`);
  }
  const scheduledMs = scheduledSeconds * 1000;
  const jitteredMs = scheduledMs + random() * RETRY_JITTER_RATIO * scheduledMs;
  if (retryAfterSeconds === undefined || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds < 0) {
    return Math.round(jitteredMs);
  }
  const requestedMs = Math.min(retryAfterSeconds * 1000, RETRY_AFTER_CAP_FACTOR * scheduledMs);
  return Math.round(Math.max(jitteredMs, requestedMs));
}

const DELTA_SECONDS = /^\d+$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three forms of HTTP-date that RFC 9110 §5.6.7 obliges a recipient to accept.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch, or undefined when a field is out of range (Feb 30, 25:00:00). */
function utcMillis(year: number, monthName: string, day: number, hour: number, minute: number, second: number): number | undefined {
  const month = MONTHS.indexOf(monthName);
  // 60 seconds is allowed for a leap second, which Date folds into the next minute.
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return undefined;
  const millis = Date.UTC(year, month, day, hour, minute, second);
  const check = new Date(Date.UTC(year, month, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return undefined;
  return millis;
}

/** RFC 9110: a two-digit year more than 50 years in the future means the most recent past year with those digits. */
function rfc850Year(twoDigits: number, now: Date): number {
  const currentYear = now.getUTCFullYear();
  let year = currentYear - (currentYear % 100) + twoDigits;
  if (year > currentYear + 50) year -= 100;
  return year;
}

function parseHttpDate(value: string, now: Date): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utcMillis(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE.exec(value);
  if (m) return utcMillis(rfc850Year(Number(m[3]), now), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = ASCTIME_DATE.exec(value);
  if (m) return utcMillis(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/**
 * Seconds to wait according to a Retry-After header: delay-seconds or an
 * HTTP-date (RFC 9110 §10.2.3). Anything else, and a date in the past, gives
 * undefined. A date is rounded up to whole seconds so that the wait is never
 * shorter than asked.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (DELTA_SECONDS.test(trimmed)) {
    const seconds = Number(trimmed);
    return Number.isSafeInteger(seconds) ? seconds : undefined;
  }
  const at = parseHttpDate(trimmed, now);
  if (at === undefined) return undefined;
  const deltaMs = at - now.getTime();
  if (deltaMs < 0) return undefined;
  return Math.ceil(deltaMs / 1000);
}

export type ResponseVerdict = 'success' | 'retry' | 'gone';

/** 2xx succeeds; 410 Gone fails at once and disables the subscription; every other status is retried. */
export function classifyResponse(status: number): ResponseVerdict {
  if (status >= 200 && status <= 299) return 'success';
  if (status === 410) return 'gone';
  return 'retry';
}

/** True when the subscription's deliveries have failed without a success for at least thresholdMs. */
export function shouldDisableForFailureStreak(failingSince: Date | null, now: Date, thresholdMs: number = FAILURE_STREAK_DISABLE_MS): boolean {
  if (failingSince === null) return false;
  return now.getTime() - failingSince.getTime() >= thresholdMs;
}
