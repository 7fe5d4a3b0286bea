import { describe, expect, it } from 'vitest';
import { JsonSchemaValidator } from '../../src/catalog/json-schema.js';
import {
  deliveryFailed,
  endpointDisabled,
  endpointHeld,
  endpointRecovered,
  FailureCoalescer,
  mayRaiseOperationsEvents,
  minuteWindow,
  orderingKeyBlocked,
  type OperationsEvent,
} from '../../src/operations/events.js';
import { urlWithoutQueryValues } from '../../src/operations/url.js';
import { OPERATIONS_EVENT_TYPES } from '../../migrations/1795000000081-operations-channel.js';

const subscription = { id: '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87', url: 'https://user:pw@erp.example.com/hooks?token=abc&tenant=acme#frag' };
const figures = { consecutiveFailures: 20, failingSince: new Date('2026-11-23T09:12:00.000Z'), lastStatus: 503 };
const validator = new JsonSchemaValidator();
const schemaOf = (type: string) => OPERATIONS_EVENT_TYPES.find((t) => `operations.${t.action}` === type)!.schema;

function expectValid(event: OperationsEvent): void {
  expect(validator.validate(schemaOf(event.type), event.data, 'data')).toEqual([]);
  expect(event.orderingKey).toBe(subscription.id);
  expect(event.data).toMatchObject({ subscriptionId: subscription.id, url: 'https://erp.example.com/hooks?token=&tenant=' });
  expect(JSON.stringify(event.data)).not.toMatch(/abc|acme|pw|frag/);
}

describe('operations event data', () => {
  it('every catalog example fits its own schema', () => {
    for (const t of OPERATIONS_EVENT_TYPES) expect(validator.validate(t.schema, t.example, t.action)).toEqual([]);
  });

  it('names the subscription, its URL without query values, the reason and the figures, and fits the schema', () => {
    const held = endpointHeld(subscription, figures, new Date('2026-11-23T10:05:00.000Z'));
    expectValid(held);
    expect(held.data).toMatchObject({
      reason: '20 failed attempts in a row',
      consecutiveFailures: 20,
      failingSince: '2026-11-23T09:12:00.000Z',
      lastStatus: 503,
    });
    expectValid(endpointRecovered(subscription, figures, new Date()));
    const disabled = endpointDisabled(subscription, { ...figures, lastStatus: 410 }, 'The endpoint answered 410 Gone', new Date());
    expectValid(disabled);
    expect(disabled.data.reason).toBe('The endpoint answered 410 Gone');
    const blocked = orderingKeyBlocked(subscription, { ...figures, lastStatus: null }, { orderingKey: 'LEDGER-1', deliveryId: 'd-1', waiting: 4 });
    expectValid(blocked);
    expect(blocked.data).toMatchObject({ orderingKey: 'LEDGER-1', deliveryId: 'd-1', waiting: 4, lastStatus: null });
  });

  it('coalesces failures per subscription and minute: a thousand failures are one event with the count and the first ten ids', () => {
    const coalescer = new FailureCoalescer();
    const base = new Date('2026-11-23T10:00:00.000Z').getTime();
    for (let i = 0; i < 1000; i++) coalescer.add(subscription.id, `d-${i}`, 'invoices.paid', new Date(base + i * 100));
    coalescer.add('other', 'o-1', 'bills.created', new Date(base + 10));
    // Failures of operations events are not counted: no event feeds on itself.
    coalescer.add(subscription.id, 'ops-1', 'operations.delivery_failed', new Date(base + 20));
    expect(coalescer.drain(new Date(base + 59_999))).toEqual([]);
    const first = coalescer.drain(new Date(base + 60_000));
    expect(first.map((w) => [w.subscriptionId, w.count])).toEqual([
      [subscription.id, 600],
      ['other', 1],
    ]);
    expect(first[0]!.deliveryIds).toEqual(Array.from({ length: 10 }, (_, i) => `d-${i}`));
    const rest = coalescer.flush();
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatchObject({ count: 400, windowStart: new Date(base + 60_000) });
    expect(coalescer.flush()).toEqual([]);

    const event = deliveryFailed(subscription, figures, first[0]!);
    expectValid(event);
    expect(event.data).toMatchObject({ count: 600, windowStart: '2026-11-23T10:00:00.000Z', windowEnd: '2026-11-23T10:01:00.000Z' });
    expect(event.idempotencyKey).toBeUndefined();
  });

  it('never raises an operations event from an operations delivery', () => {
    expect(mayRaiseOperationsEvents('operations.endpoint_held')).toBe(false);
    expect(mayRaiseOperationsEvents('invoices.paid')).toBe(true);
  });

  it('puts a time in its minute and keeps query names without values', () => {
    expect(minuteWindow(new Date('2026-11-23T10:00:59.999Z')).start.toISOString()).toBe('2026-11-23T10:00:00.000Z');
    expect(urlWithoutQueryValues('https://a.example/x?b=1&b=2&c')).toBe('https://a.example/x?b=&c=');
    expect(urlWithoutQueryValues('https://a.example/x')).toBe('https://a.example/x');
    expect(urlWithoutQueryValues('not a url')).toBe('');
  });
});
