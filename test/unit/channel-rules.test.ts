import { describe, expect, it } from 'vitest';
import { actionOf, channelOf, checkExclusiveChannels, subscriptionMatches } from '../../src/catalog/rules.js';
import { Environment } from '../../src/domain.js';
import { AppError } from '../../src/errors.js';

const EXCLUSIVE: ReadonlySet<string> = new Set(['ledgers']);

describe('channelOf and actionOf', () => {
  it('split an event name at its first dot', () => {
    expect(channelOf('invoices.paid')).toBe('invoices');
    expect(actionOf('invoices.payment_failed')).toBe('payment_failed');
    expect(channelOf('promises_to_pay.created')).toBe('promises_to_pay');
    expect(channelOf('nodot')).toBe('nodot');
    expect(actionOf('nodot')).toBe('');
  });
});

describe('checkExclusiveChannels', () => {
  it('accepts an exclusive channel alone, and any mix of ordinary channels', () => {
    expect(() => checkExclusiveChannels(['ledgers'], EXCLUSIVE)).not.toThrow();
    expect(() => checkExclusiveChannels(['ledgers', 'ledgers'], EXCLUSIVE)).not.toThrow();
    expect(() => checkExclusiveChannels(['invoices', 'bills', 'clients'], EXCLUSIVE)).not.toThrow();
    expect(() => checkExclusiveChannels([], EXCLUSIVE)).not.toThrow();
  });

  it('refuses an exclusive channel beside another one, telling the user to unsubscribe from the others first', () => {
    let caught: unknown;
    try {
      checkExclusiveChannels(['invoices', 'ledgers', 'bills'], EXCLUSIVE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const error = caught as AppError;
    expect(error.code).toBe('EXCLUSIVE_CHANNEL_CONFLICT');
    expect(error.message).toMatch(/ledgers is exclusive/);
    expect(error.message).toMatch(/unsubscribe from the other channels first \(invoices, bills\)/i);
    expect(error.extensions).toMatchObject({ channel: 'ledgers', otherChannels: ['invoices', 'bills'] });
  });

  it('knows only the exclusive channels it is given', () => {
    expect(() => checkExclusiveChannels(['ledgers', 'invoices'], new Set())).not.toThrow();
  });
});

describe('subscriptionMatches', () => {
  const subscription = {
    accountId: 'a1',
    environment: Environment.PRODUCTION,
    enabled: true,
    deletedAt: null as Date | null,
    channels: ['invoices', 'bills'],
    events: [] as string[],
  };
  const event = { accountId: 'a1', environment: Environment.PRODUCTION, type: 'invoices.paid' };

  it('matches an event of a subscribed channel of the same account and environment', () => {
    expect(subscriptionMatches(subscription, event, EXCLUSIVE)).toBe(true);
    expect(subscriptionMatches(subscription, { ...event, type: 'bills.created' }, EXCLUSIVE)).toBe(true);
  });

  it.each([
    ['another account', { ...subscription, accountId: 'a2' }, event],
    ['the other environment', { ...subscription, environment: Environment.STAGING }, event],
    ['a disabled subscription', { ...subscription, enabled: false }, event],
    ['a deleted subscription', { ...subscription, deletedAt: new Date() }, event],
    ['a channel not subscribed', subscription, { ...event, type: 'clients.created' }],
    ['a channel whose name is a prefix of a subscribed one', { ...subscription, channels: ['invoice'] }, event],
    ['an event left out of the event list', { ...subscription, events: ['invoices.sent'] }, event],
  ])('does not match %s', (_what, sub, ev) => {
    expect(subscriptionMatches(sub, ev, EXCLUSIVE)).toBe(false);
  });

  it('matches an event that the event list names', () => {
    expect(subscriptionMatches({ ...subscription, events: ['invoices.sent', 'invoices.paid'] }, event, EXCLUSIVE)).toBe(true);
  });

  it('delivers an exclusive channel to a subscription that has it alone', () => {
    const ledgers = { ...subscription, channels: ['ledgers'] };
    expect(subscriptionMatches(ledgers, { ...event, type: 'ledgers.created' }, EXCLUSIVE)).toBe(true);
  });

  it('delivers nothing to a subscription that breaks the exclusive rule', () => {
    const mixed = { ...subscription, channels: ['ledgers', 'invoices'] };
    expect(subscriptionMatches(mixed, { ...event, type: 'ledgers.created' }, EXCLUSIVE)).toBe(false);
    expect(subscriptionMatches(mixed, event, EXCLUSIVE)).toBe(false);
    expect(subscriptionMatches(mixed, event, new Set())).toBe(true);
  });
});
