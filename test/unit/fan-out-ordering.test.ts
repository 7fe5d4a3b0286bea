import { describe, expect, it } from 'vitest';
import { accountShare } from '../../src/delivery-engine/engine.js';
import { parseJob } from '../../src/fanout/fan-out.js';
import { orderingGate, sequenceDeliveries, type PairToSequence } from '../../src/fanout/ordering.js';

const item = (key: string, sequence: number, force = false) => ({ event: `${key}#${sequence}`, key, sequence, force });

describe('orderingGate', () => {
  it('lets go the events next in line for their key, in sequence order, and moves the key on', () => {
    const decision = orderingGate([item('a', 3), item('a', 1), item('b', 5), item('a', 2)], new Map([['b', { fannedOutThrough: 4 }]]));
    expect(decision.ready.map((r) => r.event)).toEqual(['a#1', 'a#2', 'a#3', 'b#5']);
    expect(decision.deferred).toEqual([]);
    expect(decision.fannedOutThrough).toEqual(
      new Map([
        ['a', 3],
        ['b', 5],
      ]),
    );
  });

  it('holds back an event whose predecessor has not gone, and everything after it', () => {
    const decision = orderingGate([item('a', 2), item('a', 4), item('a', 5)], new Map([['a', { fannedOutThrough: 1 }]]));
    expect(decision.ready.map((r) => r.event)).toEqual(['a#2']);
    expect(decision.deferred.map((r) => r.event)).toEqual(['a#4', 'a#5']);
    expect(decision.fannedOutThrough).toEqual(new Map([['a', 2]]));
  });

  it('drops an event the key has gone past (its job came twice), and forces one that waited too long', () => {
    const decision = orderingGate([item('a', 2), item('a', 6, true), item('a', 7)], new Map([['a', { fannedOutThrough: 3 }]]));
    expect(decision.ready.map((r) => r.event)).toEqual(['a#6', 'a#7']);
    expect(decision.deferred).toEqual([]);
    expect(decision.fannedOutThrough).toEqual(new Map([['a', 7]]));
  });
});

describe('sequenceDeliveries', () => {
  const pair = (
    subscriptionId: string,
    orderingKey: string | null,
    eventSequence: number | null,
    eventId = `${orderingKey}${eventSequence}`,
  ): PairToSequence => ({
    eventId,
    accountId: 'acct',
    environment: 'PRODUCTION',
    subscriptionId,
    perKey: true,
    orderingKey,
    eventSequence,
  });

  it("numbers each subscription's deliveries of a key after its counter, in the events' order, without gaps", () => {
    const result = sequenceDeliveries(
      [pair('s1', 'k', 9), pair('s1', 'k', 4), pair('s2', 'k', 4), pair('s1', null, null, 'plain')],
      new Map([
        ['s1/k', 10],
        ['s2/k', 0],
      ]),
    );
    const byEvent = (sub: string) => result.filter((p) => p.subscriptionId === sub).map((p) => [p.eventId, p.sequence, p.firstOfBatch]);
    expect(byEvent('s1')).toEqual(
      expect.arrayContaining([
        ['k4', 11, true],
        ['k9', 12, false],
        ['plain', null, true],
      ]),
    );
    expect(byEvent('s2')).toEqual([['k4', 1, true]]);
  });

  it('refuses to number a key whose counter was not reserved', () => {
    expect(() => sequenceDeliveries([pair('s1', 'k', 1)], new Map())).toThrow(/no delivery sequence/);
  });
});

describe('parseJob', () => {
  it('reads both formats of version 1 and names what is wrong with anything else', () => {
    expect(parseJob({ version: 1, eventId: '01a2c3d4-0000-7000-8000-000000000000' })).toEqual({
      eventId: '01a2c3d4-0000-7000-8000-000000000000',
      deferrals: 0,
    });
    expect(
      parseJob({
        version: 1,
        accountId: '01a2c3d4-0000-7000-8000-000000000000',
        environment: 'STAGING',
        type: 'invoices.paid',
        data: { a: 1 },
        orderingKey: 'k',
      }),
    ).toEqual({
      accountId: '01a2c3d4-0000-7000-8000-000000000000',
      environment: 'STAGING',
      input: { type: 'invoices.paid', data: { a: 1 }, idempotencyKey: null, orderingKey: 'k' },
    });
    expect(parseJob('text')).toMatchObject({ reason: { code: 'MALFORMED_JOB' } });
    expect(parseJob({ version: 2 })).toMatchObject({ reason: { code: 'MALFORMED_JOB', field: 'version' } });
    expect(parseJob({ version: 1, accountId: 'x' })).toMatchObject({ reason: { field: 'accountId' } });
    expect(parseJob({ version: 1, accountId: '01a2c3d4-0000-7000-8000-000000000000', environment: 'DEV' })).toMatchObject({
      reason: { field: 'environment' },
    });
    expect(
      parseJob({ version: 1, accountId: '01a2c3d4-0000-7000-8000-000000000000', environment: 'STAGING', type: 'a.b', orderingKey: 7 }),
    ).toMatchObject({ reason: { field: 'orderingKey' } });
  });
});

describe('accountShare', () => {
  it('leaves a tenth of the slots (at least one) to the other accounts, and one slot to a worker of one', () => {
    expect(accountShare(50)).toBe(45);
    expect(accountShare(10)).toBe(9);
    expect(accountShare(5)).toBe(4);
    expect(accountShare(1)).toBe(1);
  });
});
