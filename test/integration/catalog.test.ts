import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Environment } from '../../src/domain.js';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { errorOf, expectBadInput } from '../support/subscriptions.js';

/** docs/api.md, Channels, written out again here so that the migrated catalog is checked against the contract, not against itself. */
const CRUD = ['created', 'updated', 'deleted'];
const CREATED_DELETED = ['created', 'deleted'];
const CATALOG: Record<string, string[]> = {
  business: ['updated'],
  invoices: ['created', 'updated', 'deleted', 'sent', 'paid', 'payment_failed', 'disputed', 'cancelled'],
  ...Object.fromEntries(
    [
      'invoice_payments',
      'sales',
      'deposits',
      'quotes',
      'other_incomes',
      'clients',
      'expenses',
      'bills',
      'bill_payments',
      'suppliers',
      'employees',
      'pay_runs',
      'products_services',
      'bank_transfers',
      'accounts',
      'journals',
      'business_loans',
      'ledgers',
    ].map((c) => [c, CRUD]),
  ),
  invoice_online_payments: ['created'],
  bill_online_payments: ['created'],
  wallet_transactions: ['created'],
  ...Object.fromEntries(
    [
      'income_tax_payments',
      'withholding_tax_payments',
      'sales_tax_payments',
      'salary_payments',
      'payrun_tier1_payments',
      'payrun_tier2_payments',
      'payrun_tier3_payments',
      'payrun_income_tax_payments',
    ].map((c) => [c, CREATED_DELETED]),
  ),
  disputes: ['opened', 'resolved'],
  promises_to_pay: ['created', 'broken'],
  payables: ['approved', 'paid', 'payout_failed', 'instant_payout'],
  webhook: ['test'],
  operations: ['endpoint_held', 'endpoint_recovered', 'endpoint_disabled', 'delivery_failed', 'ordering_key_blocked'],
};

interface Channel {
  name: string;
  label: string;
  actions: string[];
  exclusive: boolean;
}
interface EventType {
  name: string;
  channel: string;
  action: string;
  description: string;
  schema: unknown;
  example: unknown;
}

const CHANNELS = '{ channels { name label actions exclusive } }';
const EVENT_TYPES = 'query($channel: String) { eventTypes(channel: $channel) { name channel action description schema example } }';
const EVENT_NAMES = '{ eventNames }';
const DEFINE = `mutation($input: DefineEventTypeInput!) { defineEventType(input: $input) { name channel action description schema example } }`;

const purchaseOrderSchema = {
  type: 'object',
  required: ['orderId', 'amount'],
  properties: { orderId: { type: 'string', maxLength: 64 }, amount: { type: 'number', minimum: 0 } },
};

describe('the event catalog', () => {
  let t: TestApp;
  let admin: string;
  let accountId: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: admin, accountId } = await createAccount(t, 'Catalog'));
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('holds every built-in channel and action of docs/api.md, in its order, with ledgers the only exclusive channel', async () => {
    const { channels } = await t.ok<{ channels: Channel[] }>(admin, CHANNELS);
    expect(channels.map((c) => c.name)).toEqual(Object.keys(CATALOG));
    for (const channel of channels) {
      expect(channel.actions, channel.name).toEqual(CATALOG[channel.name]);
      expect(channel.label.length, channel.name).toBeGreaterThan(0);
      expect(channel.exclusive, channel.name).toBe(channel.name === 'ledgers');
    }
    expect(channels.find((c) => c.name === 'promises_to_pay')?.label).toBe('Promises to pay');

    const { eventNames } = await t.ok<{ eventNames: string[] }>(admin, EVENT_NAMES);
    expect(eventNames).toEqual(Object.entries(CATALOG).flatMap(([c, actions]) => actions.map((a) => `${c}.${a}`)));
    expect(eventNames).toContain('webhook.test');
  });

  it('describes every event type in a sentence, which deliveries use as their message', async () => {
    const { eventTypes } = await t.ok<{ eventTypes: EventType[] }>(admin, EVENT_TYPES);
    for (const type of eventTypes) {
      expect(type.description, type.name).toMatch(/^[A-Z].*\.$/);
      expect(`${type.channel}.${type.action}`).toBe(type.name);
    }
    const byName = new Map(eventTypes.map((e) => [e.name, e]));
    expect(byName.get('invoices.paid')?.description).toBe('Invoice paid.');
    expect(byName.get('invoices.payment_failed')?.description).toBe('Invoice payment failed.');
    expect(byName.get('disputes.opened')?.description).toBe('Dispute opened.');
    expect(byName.get('promises_to_pay.broken')?.description).toBe('Promise to pay broken.');
  });

  it('filters event types by channel', async () => {
    const { eventTypes } = await t.ok<{ eventTypes: EventType[] }>(admin, EVENT_TYPES, { channel: 'disputes' });
    expect(eventTypes.map((e) => e.name)).toEqual(['disputes.opened', 'disputes.resolved']);
    const none = await t.ok<{ eventTypes: EventType[] }>(admin, EVENT_TYPES, { channel: 'no_such_channel' });
    expect(none.eventTypes).toEqual([]);
  });

  it('gives the typed domain events a JSON Schema that their examples satisfy and bad data fails', async () => {
    const { eventTypes } = await t.ok<{ eventTypes: EventType[] }>(admin, EVENT_TYPES);
    const typed = eventTypes.filter((e) => e.schema !== null).map((e) => e.name);
    expect(typed.sort()).toEqual([
      'disputes.opened',
      'invoices.paid',
      'operations.delivery_failed',
      'operations.endpoint_disabled',
      'operations.endpoint_held',
      'operations.endpoint_recovered',
      'operations.ordering_key_blocked',
      'promises_to_pay.created',
    ]);

    const catalog = t.app.services.catalog;
    const scope = { accountId, environment: Environment.PRODUCTION };
    for (const name of typed) {
      const type = (await catalog.getEventType(scope, name))!;
      expect(type.example, name).not.toBeNull();
      expect(await catalog.validateEventData(type, type.example), name).toEqual([]);
    }

    const paid = (await catalog.getEventType(scope, 'invoices.paid'))!;
    const bad = await catalog.validateEventData(paid, { invoiceId: 'INV1', customerId: 'C1', amount: 0, currency: 'usd', paidAt: 'today' });
    expect(bad.sort((a, b) => a.field.localeCompare(b.field))).toEqual([
      { field: 'data.amount', message: 'must be > 0' },
      { field: 'data.currency', message: 'must match pattern "^[A-Z]{3}$"' },
      { field: 'data.paidAt', message: 'must match format "date-time"' },
    ]);
    const dispute = (await catalog.getEventType(scope, 'disputes.opened'))!;
    expect((await catalog.validateEventData(dispute, { invoiceId: 'INV1' })).map((f) => f.field).sort()).toEqual([
      'data.customerId',
      'data.openedAt',
      'data.reason',
    ]);
    const promise = (await catalog.getEventType(scope, 'promises_to_pay.created'))!;
    expect(await catalog.validateEventData(promise, { invoiceId: 'INV1', customerId: 'C1', promisedDate: '2024-12-15' })).toEqual([]);
    expect(await catalog.validateEventData(promise, { invoiceId: 'INV1', customerId: 'C1', promisedDate: '15/12/2024' })).toEqual([
      { field: 'data.promisedDate', message: 'must match format "date"' },
    ]);
    // A schemaless type takes any data.
    const created = (await catalog.getEventType(scope, 'invoices.created'))!;
    expect(await catalog.validateEventData(created, { anything: [1, 2, 3] })).toEqual([]);
    expect(await catalog.getEventType(scope, 'invoices.nope')).toBeNull();
  });

  it('reports the exclusive channels to the delivery side', async () => {
    const exclusive = await t.app.services.catalog.exclusiveChannels({ accountId, environment: Environment.PRODUCTION });
    expect([...exclusive]).toEqual(['ledgers']);
  });

  describe('defineEventType', () => {
    it("adds an account's own event type, creating its channel, for the key's account and environment alone", async () => {
      const { defineEventType } = await t.ok<{ defineEventType: EventType }>(admin, DEFINE, {
        input: {
          name: 'purchase_orders.approved',
          description: 'Purchase order approved.',
          schema: purchaseOrderSchema,
          example: { orderId: 'PO-1', amount: 10 },
        },
      });
      expect(defineEventType).toEqual({
        name: 'purchase_orders.approved',
        channel: 'purchase_orders',
        action: 'approved',
        description: 'Purchase order approved.',
        schema: purchaseOrderSchema,
        example: { orderId: 'PO-1', amount: 10 },
      });

      const viewer = await createKey(t, admin, 'VIEWER');
      for (const token of [admin, viewer]) {
        const { channels } = await t.ok<{ channels: Channel[] }>(token, CHANNELS);
        expect(channels.at(-1)).toEqual({ name: 'purchase_orders', label: 'Purchase orders', actions: ['approved'], exclusive: false });
        expect((await t.ok<{ eventNames: string[] }>(token, EVENT_NAMES)).eventNames).toContain('purchase_orders.approved');
      }
      const production = { accountId, environment: Environment.PRODUCTION };
      const own = (await t.app.services.catalog.getEventType(production, 'purchase_orders.approved'))!;
      expect(await t.app.services.catalog.validateEventData(own, { orderId: 'PO-2' })).toEqual([{ field: 'data.amount', message: 'is required' }]);

      const other = await createAccount(t, 'Other');
      const staging = await createKey(t, admin, 'ADMIN', 'STAGING');
      for (const token of [other.adminToken, staging]) {
        const { channels } = await t.ok<{ channels: Channel[] }>(token, CHANNELS);
        expect(channels.map((c) => c.name)).not.toContain('purchase_orders');
        expect((await t.ok<{ eventNames: string[] }>(token, EVENT_NAMES)).eventNames).not.toContain('purchase_orders.approved');
      }
      expect(
        await t.app.services.catalog.getEventType({ accountId: other.accountId, environment: Environment.PRODUCTION }, 'purchase_orders.approved'),
      ).toBeNull();
      expect(await t.app.services.catalog.getEventType({ accountId, environment: Environment.STAGING }, 'purchase_orders.approved')).toBeNull();

      // STAGING tries out another schema under the same name; PRODUCTION keeps its own.
      await t.ok(staging, DEFINE, { input: { name: 'purchase_orders.approved', description: 'Trying it out.' } });
      const tried = (await t.app.services.catalog.getEventType({ accountId, environment: Environment.STAGING }, 'purchase_orders.approved'))!;
      expect(tried).toMatchObject({ description: 'Trying it out.', schema: null });
      expect((await t.app.services.catalog.getEventType(production, 'purchase_orders.approved'))!).toMatchObject({
        description: 'Purchase order approved.',
        schema: purchaseOrderSchema,
      });
    });

    it('adds an action to a built-in channel without creating a channel', async () => {
      await t.ok(admin, DEFINE, { input: { name: 'invoices.written_off', description: 'Invoice written off.' } });
      const { channels } = await t.ok<{ channels: Channel[] }>(admin, CHANNELS);
      expect(channels.filter((c) => c.name === 'invoices')).toHaveLength(1);
      expect(channels.find((c) => c.name === 'invoices')?.actions.at(-1)).toBe('written_off');
    });

    it('replaces the description, schema and example when the account defines its type again', async () => {
      const input = { name: 'contracts.signed', description: 'Contract signed.', schema: { type: 'object' } };
      await t.ok(admin, DEFINE, { input });
      const again = await t.ok<{ defineEventType: EventType }>(admin, DEFINE, {
        input: { ...input, description: 'Contract signed by both parties.', schema: null },
      });
      expect(again.defineEventType).toMatchObject({ description: 'Contract signed by both parties.', schema: null });
      const { eventTypes } = await t.ok<{ eventTypes: EventType[] }>(admin, EVENT_TYPES, { channel: 'contracts' });
      expect(eventTypes).toHaveLength(1);
    });

    it('refuses to redefine a built-in type', async () => {
      const result = await t.gql(admin, DEFINE, { input: { name: 'invoices.paid', description: 'Mine now.' } });
      expectBadInput(result, 'input.name');
      expect(errorOf(result).message).toMatch(/built-in/);
    });

    it.each(['Invoices.paid', 'invoices', 'invoices.paid.twice', 'invoices.paid-late', '.paid', 'invoices.', `a.${'b'.repeat(100)}`])(
      'refuses the name %s',
      async (name) => {
        expectBadInput(await t.gql(admin, DEFINE, { input: { name, description: 'x.' } }), 'input.name');
      },
    );

    it('refuses an empty or overlong description', async () => {
      expectBadInput(await t.gql(admin, DEFINE, { input: { name: 'x.y', description: '   ' } }), 'input.description');
      expectBadInput(await t.gql(admin, DEFINE, { input: { name: 'x.y', description: 'd'.repeat(501) } }), 'input.description');
    });

    it.each([
      ['not an object', 'string'],
      ['with a misspelt type', { type: 'strnig' }],
      ['with an unknown keyword', { type: 'object', requierd: ['a'] }],
      ['with an unbounded pattern', { type: 'string', pattern: '^(a+)+$' }],
    ])('refuses a schema %s', async (_what, schema) => {
      expectBadInput(await t.gql(admin, DEFINE, { input: { name: 'x.y', description: 'x.', schema } }), 'input.schema');
    });

    it('refuses an example that does not satisfy the schema, naming the field', async () => {
      const result = await t.gql(admin, DEFINE, {
        input: { name: 'x.y', description: 'x.', schema: purchaseOrderSchema, example: { orderId: 'PO-1', amount: -1 } },
      });
      expectBadInput(result, 'input.example.amount');
      // Nothing was stored.
      expect((await t.ok<{ eventNames: string[] }>(admin, EVENT_NAMES)).eventNames).not.toContain('x.y');
    });

    it('is for ADMIN only; every role of an account reads the catalog; an operator reads none of it', async () => {
      for (const role of ['PUBLISHER', 'VIEWER']) {
        const token = await createKey(t, admin, role);
        expect(errorOf(await t.gql(token, DEFINE, { input: { name: 'x.z', description: 'x.' } })).code).toBe('FORBIDDEN');
        for (const query of [CHANNELS, EVENT_TYPES, EVENT_NAMES]) expect((await t.gql(token, query)).errors).toBeUndefined();
      }
      expect(errorOf(await t.gql(t.operatorToken, CHANNELS)).code).toBe('FORBIDDEN');
      expect(errorOf(await t.gql(t.operatorToken, DEFINE, { input: { name: 'x.z', description: 'x.' } })).code).toBe('FORBIDDEN');
      expect(errorOf(await t.gql(undefined, EVENT_NAMES)).code).toBe('UNAUTHENTICATED');
    });
  });
});
