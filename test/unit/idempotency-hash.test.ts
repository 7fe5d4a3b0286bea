import { describe, expect, it } from 'vitest';
import { idempotencyHash } from '../../src/events/idempotency.js';

describe('idempotencyHash', () => {
  it('is the same for the same type and data whatever the order of object fields', () => {
    expect(idempotencyHash('invoices.paid', { a: 1, b: { c: [1, 2], d: 'x' } })).toBe(
      idempotencyHash('invoices.paid', { b: { d: 'x', c: [1, 2] }, a: 1 }),
    );
  });

  it('differs for another type, other data, or another order of array items', () => {
    const base = idempotencyHash('invoices.paid', { amount: 10, items: [1, 2] });
    expect(idempotencyHash('invoices.created', { amount: 10, items: [1, 2] })).not.toBe(base);
    expect(idempotencyHash('invoices.paid', { amount: 11, items: [1, 2] })).not.toBe(base);
    expect(idempotencyHash('invoices.paid', { amount: '10', items: [1, 2] })).not.toBe(base);
    expect(idempotencyHash('invoices.paid', { amount: 10, items: [2, 1] })).not.toBe(base);
  });

  it('cannot be fooled by moving text between the type and the data', () => {
    expect(idempotencyHash('a.b', 'c')).not.toBe(idempotencyHash('a.', 'bc'));
  });
});
