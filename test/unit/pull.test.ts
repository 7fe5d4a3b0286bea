import { describe, expect, it } from 'vitest';
import { attemptOfResult, pullOutcome } from '../../src/pull/outcome.js';
import { PullWaiters } from '../../src/pull/waiters.js';
import { createLogger } from '../../src/logger.js';

describe('a PULL consumer result', () => {
  const now = new Date('2026-12-06T10:00:00.000Z');

  it('is a success for any 2xx and a retry on the schedule otherwise, 410 included', () => {
    expect(pullOutcome({ status: 200, schedule: [5], attemptsMade: 1 })).toEqual({ kind: 'succeeded' });
    expect(pullOutcome({ status: 299, schedule: [], attemptsMade: 1 })).toEqual({ kind: 'succeeded' });
    expect(pullOutcome({ status: 410, schedule: [5], attemptsMade: 1, random: () => 0 })).toEqual({ kind: 'retry', delayMs: 5000 });
    expect(pullOutcome({ status: 0, schedule: [5, 60], attemptsMade: 2, random: () => 0 })).toEqual({ kind: 'retry', delayMs: 60_000 });
    expect(pullOutcome({ status: 500, schedule: [5, 60], attemptsMade: 3 })).toEqual({ kind: 'failed' });
  });

  it('is recorded as the attempt a push would have recorded, ending now', () => {
    expect(attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 202, body: 'queued', durationMs: 40 }, now)).toEqual({
      startedAt: new Date('2026-12-06T09:59:59.960Z'),
      durationMs: 40,
      responseStatus: 202,
      responseBody: 'queued',
      error: null,
      succeeded: true,
    });
    const unanswered = attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 0, body: 'connect ECONNREFUSED 127.0.0.1:3000' }, now);
    expect(unanswered).toMatchObject({ responseStatus: null, responseBody: null, error: 'connect ECONNREFUSED 127.0.0.1:3000', succeeded: false });
    expect(attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 0 }, now).error).toBe('The consumer got no response');
  });

  it('keeps 4 KiB of the body, cut on a character boundary', () => {
    const body = 'é'.repeat(3000);
    const kept = attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 500, body }, now).responseBody!;
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(4096);
    expect(kept).toBe('é'.repeat(2048));
    // A character cut by the cap is left out whole; a body's own U+FFFD is kept.
    expect(attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 500, body: `a${'é'.repeat(3000)}` }, now).responseBody).toBe(
      `a${'é'.repeat(2047)}`,
    );
    // The body's own U+FFFD (3 bytes) ends exactly at the cap: the cut keeps it.
    const ownReplacement = `${'a'.repeat(4093)}\uFFFD`;
    expect(attemptOfResult({ deliveryId: 'd', leaseToken: 't', status: 500, body: `${ownReplacement}tail` }, now).responseBody).toBe(ownReplacement);
  });
});

describe('waiting long polls', () => {
  // Not started: no LISTEN connection, wake-ups come from wake() alone.
  const waiters = () => new PullWaiters('postgres://unused', createLogger('silent'));

  it('keeps a wake-up that came between the look and the wait', async () => {
    const w = waiters();
    const ticket = w.ticket('sub-1');
    w.wake('sub-1');
    expect(await ticket.wait(Date.now() + 60_000)).toBe('woken');
    ticket.cancel();
    expect(w.size).toBe(0);
  });

  it('wakes only the waiters of the subscription named, and times out the others', async () => {
    const w = waiters();
    const a = w.ticket('sub-a');
    const b = w.ticket('sub-b');
    expect(w.size).toBe(2);
    const waitedA = a.wait(Date.now() + 60_000);
    const waitedB = b.wait(Date.now() + 30);
    w.wake('sub-a');
    expect(await waitedA).toBe('woken');
    expect(await waitedB).toBe('timeout');
    a.cancel();
    b.cancel();
    expect(w.size).toBe(0);
  });

  it('ends a wait when its caller leaves, and every wait when stopped', async () => {
    const w = waiters();
    let leave: () => void = () => undefined;
    const left = w.ticket('sub-1').wait(Date.now() + 60_000, (onLeave) => {
      leave = onLeave;
      return () => undefined;
    });
    leave();
    expect(await left).toBe('gone');
    const pending = w.ticket('sub-2').wait(Date.now() + 60_000);
    await w.stop();
    expect(await pending).toBe('stopped');
    expect(await w.ticket('sub-3').wait(Date.now() + 60_000)).toBe('stopped');
  });
});
