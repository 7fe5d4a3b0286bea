import { describe, expect, it } from 'vitest';
import {
  EndpointHealthState,
  FIRST_PROBE_DELAY_MS,
  HEALTHY,
  HOLD_AFTER_FAILURES,
  MAX_PROBE_DELAY_MS,
  healthAfterAttempt,
  healthAfterAttempts,
  healthChanged,
  probeDelayMs,
} from '../../src/delivery-engine/endpoint-health.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const failed = (s: number) => ({ startedAt: at(s), endedAt: at(s + 1), succeeded: false });
const succeeded = (s: number) => ({ startedAt: at(s), endedAt: at(s + 1), succeeded: true });

describe('endpoint health', () => {
  it('stays HEALTHY, unchanged, while attempts succeed', () => {
    const after = healthAfterAttempts(HEALTHY, [succeeded(0), succeeded(2)]);
    expect(after).toBe(HEALTHY);
    expect(healthChanged(after, HEALTHY)).toBe(false);
  });

  it('is FAILING from the first failure, since when it ended, with the streak start kept', () => {
    const once = healthAfterAttempt(HEALTHY, failed(10));
    expect(once).toEqual({ state: EndpointHealthState.FAILING, since: at(11), consecutiveFailures: 1, nextProbeAt: null, failingSince: at(10) });
    const twice = healthAfterAttempt(once, failed(20));
    expect(twice).toMatchObject({ state: EndpointHealthState.FAILING, since: at(11), consecutiveFailures: 2, failingSince: at(10) });
  });

  it(`is HELD after ${HOLD_AFTER_FAILURES} failures in a row, with a probe after the first probe delay`, () => {
    const attempts = Array.from({ length: HOLD_AFTER_FAILURES }, (_, i) => failed(i * 10));
    const held = healthAfterAttempts(HEALTHY, attempts);
    const last = attempts.at(-1)!.endedAt;
    expect(held).toEqual({
      state: EndpointHealthState.HELD,
      since: last,
      consecutiveFailures: HOLD_AFTER_FAILURES,
      nextProbeAt: new Date(last.getTime() + FIRST_PROBE_DELAY_MS),
      failingSince: at(0),
    });
    // A failed probe keeps it held and doubles the wait; the state's start stays.
    const probeFailed = healthAfterAttempt(held, failed(100));
    expect(probeFailed).toMatchObject({ state: EndpointHealthState.HELD, since: last, consecutiveFailures: HOLD_AFTER_FAILURES + 1 });
    expect(probeFailed.nextProbeAt).toEqual(new Date(at(101).getTime() + 2 * FIRST_PROBE_DELAY_MS));
  });

  it('is released by one success', () => {
    const held = healthAfterAttempts(
      HEALTHY,
      Array.from({ length: 7 }, (_, i) => failed(i)),
    );
    expect(healthAfterAttempt(held, succeeded(50))).toEqual({ ...HEALTHY, since: at(51) });
  });

  it('folds a group in the order the attempts started, whatever order they come in', () => {
    const after = healthAfterAttempts(HEALTHY, [failed(30), succeeded(20), failed(10)]);
    expect(after).toMatchObject({ state: EndpointHealthState.FAILING, consecutiveFailures: 1, failingSince: at(30) });
  });

  it('caps the probe delay', () => {
    expect(probeDelayMs(HOLD_AFTER_FAILURES)).toBe(FIRST_PROBE_DELAY_MS);
    expect(probeDelayMs(HOLD_AFTER_FAILURES + 3)).toBe(8 * FIRST_PROBE_DELAY_MS);
    expect(probeDelayMs(HOLD_AFTER_FAILURES + 1000)).toBe(MAX_PROBE_DELAY_MS);
  });
});
