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
    // A failed probe keeps it held; the state's start stays.
    const probe = { startedAt: held.nextProbeAt!, endedAt: new Date(held.nextProbeAt!.getTime() + 1000), succeeded: false };
    const probeFailed = healthAfterAttempt(held, probe);
    expect(probeFailed).toMatchObject({ state: EndpointHealthState.HELD, since: last, consecutiveFailures: HOLD_AFTER_FAILURES + 1 });
  });

  it('waits the first probe delay after a hold however many failures in flight landed in it', () => {
    // Eight attempts sent together, all failing: the fifth holds the endpoint, the other three were not probes.
    for (const inFlight of [HOLD_AFTER_FAILURES, HOLD_AFTER_FAILURES + 3, HOLD_AFTER_FAILURES + 50]) {
      const attempts = Array.from({ length: inFlight }, (_, i) => ({ startedAt: at(0), endedAt: at(1 + i / 100), succeeded: false }));
      const held = healthAfterAttempts(HEALTHY, attempts);
      expect(held.state).toBe(EndpointHealthState.HELD);
      expect(held.consecutiveFailures).toBe(inFlight);
      expect(held.nextProbeAt!.getTime() - held.since!.getTime()).toBe(FIRST_PROBE_DELAY_MS);
    }
    // A failure that started after the hold but before its probe was due (claimed earlier, sent late) is no probe either.
    const held = healthAfterAttempts(
      HEALTHY,
      Array.from({ length: HOLD_AFTER_FAILURES }, (_, i) => failed(i)),
    );
    const late = { startedAt: new Date(held.since!.getTime() + 1), endedAt: new Date(held.since!.getTime() + 2), succeeded: false };
    expect(healthAfterAttempt(held, late).nextProbeAt).toEqual(held.nextProbeAt);
  });

  it('doubles the wait with each failed probe, counting probes, up to the cap', () => {
    let health = healthAfterAttempts(
      HEALTHY,
      Array.from({ length: HOLD_AFTER_FAILURES }, (_, i) => failed(i)),
    );
    const waits: number[] = [];
    for (let probe = 0; probe < 12; probe += 1) {
      // Each probe is sent when due and fails at once.
      const sent = health.nextProbeAt!;
      health = healthAfterAttempt(health, { startedAt: sent, endedAt: sent, succeeded: false });
      waits.push(health.nextProbeAt!.getTime() - sent.getTime());
    }
    expect(waits.slice(0, 5)).toEqual([1, 2, 4, 8, 16].map((n) => n * FIRST_PROBE_DELAY_MS));
    expect(Math.max(...waits)).toBe(MAX_PROBE_DELAY_MS);
    expect(waits.at(-1)).toBe(MAX_PROBE_DELAY_MS);
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

  it('bounds the probe delay', () => {
    expect(probeDelayMs(0)).toBe(FIRST_PROBE_DELAY_MS);
    expect(probeDelayMs(3 * FIRST_PROBE_DELAY_MS)).toBe(3 * FIRST_PROBE_DELAY_MS);
    expect(probeDelayMs(10 * MAX_PROBE_DELAY_MS)).toBe(MAX_PROBE_DELAY_MS);
  });
});
