import { describe, expect, it } from 'vitest';
import {
  FAILURE_STREAK_DISABLE_MS,
  classifyResponse,
  nextAttemptDelayMs,
  parseRetryAfter,
  shouldDisableForFailureStreak,
} from '../../src/delivery-engine/retry-policy.js';

// The product default lives with the subscriptions; the policy takes any schedule.
const schedule = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;
const noJitter = () => 0;
const maxJitter = () => 0.999999;

describe('nextAttemptDelayMs', () => {
  it('waits the scheduled seconds after each failed attempt', () => {
    const waits = schedule.map((_, i) => nextAttemptDelayMs({ schedule, attemptsMade: i + 1, random: noJitter }));
    expect(waits).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it('gives up after schedule.length + 1 attempts', () => {
    expect(nextAttemptDelayMs({ schedule, attemptsMade: 7, random: noJitter })).toBe(36_000_000);
    expect(nextAttemptDelayMs({ schedule, attemptsMade: 8, random: noJitter })).toBeNull();
    expect(nextAttemptDelayMs({ schedule, attemptsMade: 20, random: noJitter })).toBeNull();
  });

  it('makes a single attempt with an empty schedule', () => {
    expect(nextAttemptDelayMs({ schedule: [], attemptsMade: 1 })).toBeNull();
  });

  it('adds up to 20% jitter', () => {
    expect(nextAttemptDelayMs({ schedule: [300], attemptsMade: 1, random: () => 0.5 })).toBe(330_000);
    const highest = nextAttemptDelayMs({ schedule: [300], attemptsMade: 1, random: maxJitter })!;
    expect(highest).toBeGreaterThan(359_000);
    expect(highest).toBeLessThanOrEqual(360_000);
  });

  it('stays within [wait, 1.2 × wait] with the real random source', () => {
    for (let i = 0; i < 200; i++) {
      const delay = nextAttemptDelayMs({ schedule: [10], attemptsMade: 1 })!;
      expect(delay).toBeGreaterThanOrEqual(10_000);
      expect(delay).toBeLessThanOrEqual(12_000);
    }
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(nextAttemptDelayMs({ schedule: [5], attemptsMade: 1, retryAfterSeconds: 12, random: noJitter })).toBe(12_000);
  });

  it('keeps the scheduled wait when Retry-After asks for less', () => {
    expect(nextAttemptDelayMs({ schedule: [300], attemptsMade: 1, retryAfterSeconds: 2, random: () => 0.5 })).toBe(330_000);
  });

  it('caps Retry-After at four times the scheduled wait', () => {
    expect(nextAttemptDelayMs({ schedule: [5, 300], attemptsMade: 1, retryAfterSeconds: 86_400, random: noJitter })).toBe(20_000);
    expect(nextAttemptDelayMs({ schedule: [5, 300], attemptsMade: 2, retryAfterSeconds: 86_400, random: noJitter })).toBe(1_200_000);
  });

  it('does not add attempts for a Retry-After once the schedule is exhausted', () => {
    expect(nextAttemptDelayMs({ schedule: [5], attemptsMade: 2, retryAfterSeconds: 1 })).toBeNull();
  });

  it('rejects a nonsensical attempt count or schedule entry', () => {
    expect(() => nextAttemptDelayMs({ schedule, attemptsMade: 0 })).toThrow(RangeError);
    expect(() => nextAttemptDelayMs({ schedule, attemptsMade: 1.5 })).toThrow(RangeError);
    expect(() => nextAttemptDelayMs({ schedule: [-1], attemptsMade: 1 })).toThrow(RangeError);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-23T10:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads the three HTTP-date forms', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('Monday, 23-Nov-26 10:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('Mon Nov 23 10:01:30 2026', now)).toBe(90);
    expect(parseRetryAfter('Tue Dec  1 10:00:00 2026', now)).toBe(8 * 24 * 3600);
  });

  it('rounds a date up to whole seconds', () => {
    const later = new Date('2026-11-23T10:00:00.400Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:10 GMT', later)).toBe(10);
  });

  it('gives undefined for a date in the past and for negative or malformed values', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:59:59 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('+5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    // Forms that Date.parse would accept but HTTP does not.
    expect(parseRetryAfter('2026-11-23T10:05:00Z', now)).toBeUndefined();
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:05:00 +0000', now)).toBeUndefined();
    // Out-of-range fields.
    expect(parseRetryAfter('Mon, 30 Feb 2027 10:00:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Mon, 23 Nov 2026 25:00:00 GMT', now)).toBeUndefined();
  });
});

describe('classifyResponse', () => {
  it.each([200, 201, 202, 204, 299])('%i succeeds', (status) => expect(classifyResponse(status)).toBe('success'));
  it('410 is gone', () => expect(classifyResponse(410)).toBe('gone'));
  it.each([100, 199, 301, 302, 304, 400, 401, 404, 409, 429, 500, 502, 503, 504])('%i is retried', (status) =>
    expect(classifyResponse(status)).toBe('retry'),
  );
});

describe('shouldDisableForFailureStreak', () => {
  const now = new Date('2026-11-23T10:00:00.000Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it('is false without a failure streak', () => {
    expect(shouldDisableForFailureStreak(null, now)).toBe(false);
  });

  it('disables after five days of failures, not before', () => {
    expect(FAILURE_STREAK_DISABLE_MS).toBe(5 * 24 * 3600 * 1000);
    expect(shouldDisableForFailureStreak(ago(FAILURE_STREAK_DISABLE_MS - 1), now)).toBe(false);
    expect(shouldDisableForFailureStreak(ago(FAILURE_STREAK_DISABLE_MS), now)).toBe(true);
    expect(shouldDisableForFailureStreak(ago(6 * 24 * 3600 * 1000), now)).toBe(true);
  });

  it('takes another threshold', () => {
    expect(shouldDisableForFailureStreak(ago(61_000), now, 60_000)).toBe(true);
    expect(shouldDisableForFailureStreak(ago(59_000), now, 60_000)).toBe(false);
  });
});
