import { describe, expect, it } from 'vitest';
import { DeliveryStatus } from '../../src/domain.js';
import { FAILURE_STREAK_REASON, GONE_REASON, attemptOutcome, deliveryAfterAttempt } from '../../src/delivery-engine/outcome.js';

const now = new Date(Date.UTC(2026, 0, 10, 12));
const base = { retryAfter: null, schedule: [5, 300], attemptsMade: 1, failingSince: null, now, random: () => 0 };

describe('attempt outcome', () => {
  it('succeeds on 2xx', () => {
    expect(attemptOutcome({ ...base, status: 204 })).toEqual({ kind: 'succeeded' });
  });

  it('retries a failure on the schedule, and fails once it is spent', () => {
    expect(attemptOutcome({ ...base, status: 500 })).toEqual({ kind: 'retry', delayMs: 5_000 });
    expect(attemptOutcome({ ...base, status: null, attemptsMade: 2 })).toEqual({ kind: 'retry', delayMs: 300_000 });
    expect(attemptOutcome({ ...base, status: 500, attemptsMade: 3 })).toEqual({ kind: 'failed' });
    expect(attemptOutcome({ ...base, status: 500, schedule: [] })).toEqual({ kind: 'failed' });
  });

  it('waits as long as Retry-After on 429 and 503, within the cap', () => {
    expect(attemptOutcome({ ...base, status: 429, retryAfter: '12' })).toEqual({ kind: 'retry', delayMs: 12_000 });
    expect(attemptOutcome({ ...base, status: 503, retryAfter: '3600' })).toEqual({ kind: 'retry', delayMs: 20_000 });
    // Another status's Retry-After is not honoured.
    expect(attemptOutcome({ ...base, status: 500, retryAfter: '12' })).toEqual({ kind: 'retry', delayMs: 5_000 });
  });

  it('fails and disables on 410, and after five days of failures', () => {
    expect(attemptOutcome({ ...base, status: 410 })).toEqual({ kind: 'failed', disableReason: GONE_REASON });
    const failingSince = new Date(now.getTime() - 5 * 24 * 3600_000 - 1);
    expect(attemptOutcome({ ...base, status: 500, failingSince })).toEqual({ kind: 'failed', disableReason: FAILURE_STREAK_REASON });
    expect(attemptOutcome({ ...base, status: 200, failingSince })).toEqual({ kind: 'succeeded' });
  });
});

describe('delivery after an attempt', () => {
  const ended = new Date(Date.UTC(2026, 0, 10, 12, 0, 1));
  it('settles, or schedules the retry from when the attempt ended', () => {
    expect(deliveryAfterAttempt({ kind: 'succeeded' }, ended)).toEqual({ status: DeliveryStatus.SUCCEEDED, nextAttemptAt: null });
    expect(deliveryAfterAttempt({ kind: 'failed', disableReason: GONE_REASON }, ended)).toEqual({
      status: DeliveryStatus.FAILED,
      nextAttemptAt: null,
    });
    expect(deliveryAfterAttempt({ kind: 'retry', delayMs: 5_000 }, ended)).toEqual({
      status: DeliveryStatus.RETRYING,
      nextAttemptAt: new Date(ended.getTime() + 5_000),
    });
  });
});
