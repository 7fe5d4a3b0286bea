import type { AttemptRecord } from '../delivery-engine/attempt-store.js';
import { DEFAULT_MAX_RESPONSE_BYTES, decodeCapped } from '../delivery-engine/http-client.js';
import type { AttemptOutcome } from '../delivery-engine/outcome.js';
import { nextAttemptDelayMs } from '../delivery-engine/retry-policy.js';

/** How long a pulled delivery is the caller's before it is offered again. */
export const PULL_LEASE_SECONDS = 60;
/** The longest a pullDeliveries call waits for a delivery to arrive. */
export const MAX_PULL_WAIT_SECONDS = 20;
/** The most deliveries one pullDeliveries call leases, and one acknowledgeDeliveries call takes. */
export const MAX_PULL_BATCH = 500;
/** How long a PULL subscription may go without a pull before it is deleted: a minute (shorter would expire a consumer that merely restarted) to thirty days (longer is not temporary). */
export const MIN_IDLE_EXPIRY_SECONDS = 60;
export const MAX_IDLE_EXPIRY_SECONDS = 30 * 24 * 3600;
/** What `hookline listen` asks for when not told. */
export const DEFAULT_IDLE_EXPIRY_SECONDS = 24 * 3600;
/** A consumer's result status meaning that no HTTP answer came back (its own receiver was down, timed out). */
export const NO_RESPONSE_STATUS = 0;

/** A consumer's result for one pulled delivery. */
export interface PullResult {
  deliveryId: string;
  leaseToken: string;
  status: number;
  body?: string | null;
  durationMs?: number | null;
}

function truncated(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= DEFAULT_MAX_RESPONSE_BYTES) return text;
  // Cut as the HTTP client cuts a push's answer.
  return decodeCapped(bytes.subarray(0, DEFAULT_MAX_RESPONSE_BYTES), true);
}

/** The attempt a consumer's result stands for, as a push attempt would have been recorded; it ended at `now`. */
export function attemptOfResult(result: PullResult, now: Date): AttemptRecord {
  const durationMs = Math.max(0, Math.round(result.durationMs ?? 0));
  const answered = result.status !== NO_RESPONSE_STATUS;
  return {
    startedAt: new Date(now.getTime() - durationMs),
    durationMs,
    responseStatus: answered ? result.status : null,
    responseBody: answered ? truncated(result.body) : null,
    error: answered ? null : (truncated(result.body) ?? 'The consumer got no response'),
    succeeded: result.status >= 200 && result.status <= 299,
  };
}

/**
 * What a consumer's result means for its delivery: a 2xx is delivered;
 * anything else is a failed attempt, retried on the subscription's
 * schedule. Unlike a push, a 410 does not disable anything and Retry-After
 * plays no part: the consumer, not an endpoint, answered.
 */
export function pullOutcome(input: { status: number; schedule: readonly number[]; attemptsMade: number; random?: () => number }): AttemptOutcome {
  if (input.status >= 200 && input.status <= 299) return { kind: 'succeeded' };
  const delayMs = nextAttemptDelayMs({
    schedule: input.schedule,
    attemptsMade: input.attemptsMade,
    ...(input.random ? { random: input.random } : {}),
  });
  return delayMs === null ? { kind: 'failed' } : { kind: 'retry', delayMs };
}
