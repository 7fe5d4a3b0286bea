import { DeliveryStatus } from '../domain.js';
import { classifyResponse, nextAttemptDelayMs, parseRetryAfter, shouldDisableForFailureStreak } from './retry-policy.js';

export const GONE_REASON = 'The endpoint answered 410 Gone';
export const FAILURE_STREAK_REASON = 'Every delivery failed for 5 days in a row';

/** What follows an attempt. */
export type AttemptOutcome = { kind: 'succeeded' } | { kind: 'retry'; delayMs: number } | { kind: 'failed'; disableReason?: string };

export interface OutcomeInput {
  /** The response status; null when no complete response arrived. */
  status: number | null;
  retryAfter: string | null;
  /** Seconds to wait before each retry (empty for a single attempt). */
  schedule: readonly number[];
  /** Attempts made under this schedule, the one just made included. */
  attemptsMade: number;
  /** Start of the subscription's current run of failures. */
  failingSince: Date | null;
  now: Date;
  random?: () => number;
}

/** What an attempt's response means for its delivery. */
export function attemptOutcome(input: OutcomeInput): AttemptOutcome {
  const verdict = input.status === null ? 'retry' : classifyResponse(input.status);
  if (verdict === 'success') return { kind: 'succeeded' };
  if (verdict === 'gone') return { kind: 'failed', disableReason: GONE_REASON };
  if (shouldDisableForFailureStreak(input.failingSince, input.now)) return { kind: 'failed', disableReason: FAILURE_STREAK_REASON };
  const retryAfterSeconds = input.status === 429 || input.status === 503 ? parseRetryAfter(input.retryAfter ?? undefined, input.now) : undefined;
  const delayMs = nextAttemptDelayMs({
    schedule: input.schedule,
    attemptsMade: input.attemptsMade,
    retryAfterSeconds,
    ...(input.random ? { random: input.random } : {}),
  });
  return delayMs === null ? { kind: 'failed' } : { kind: 'retry', delayMs };
}

export interface DeliveryState {
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

/** The delivery's state after an attempt that ended at `endedAt` with this outcome. */
export function deliveryAfterAttempt(outcome: AttemptOutcome, endedAt: Date): DeliveryState {
  switch (outcome.kind) {
    case 'succeeded':
      return { status: DeliveryStatus.SUCCEEDED, nextAttemptAt: null };
    case 'retry':
      return { status: DeliveryStatus.RETRYING, nextAttemptAt: new Date(endedAt.getTime() + outcome.delayMs) };
    case 'failed':
      return { status: DeliveryStatus.FAILED, nextAttemptAt: null };
  }
}
