import type { MigrationInterface, QueryRunner } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

/**
 * The built-in event catalog (docs/api.md, Channels): channels (account_id NULL) and
 * their event types. The data is written out here rather than imported from
 * src/ so that this migration stays what it was when it ran.
 *
 * Ids are UUIDv7 made in order, so that ordering by id lists channels and
 * actions as docs/api.md does.
 */

interface SeedChannel {
  name: string;
  label: string;
  /** The subject of each description: "Invoice" gives "Invoice paid." */
  noun: string;
  actions: string[];
  exclusive?: boolean;
}

const CRUD = ['created', 'updated', 'deleted'];
const CREATED_DELETED = ['created', 'deleted'];

const CHANNELS: SeedChannel[] = [
  { name: 'business', label: 'Business', noun: 'Business details', actions: ['updated'] },
  {
    name: 'invoices',
    label: 'Invoices',
    noun: 'Invoice',
    actions: ['created', 'updated', 'deleted', 'sent', 'paid', 'payment_failed', 'disputed', 'cancelled'],
  },
  { name: 'invoice_payments', label: 'Invoice payments', noun: 'Invoice payment', actions: CRUD },
  { name: 'sales', label: 'Sales', noun: 'Sale', actions: CRUD },
  { name: 'deposits', label: 'Deposits', noun: 'Deposit', actions: CRUD },
  { name: 'quotes', label: 'Quotes', noun: 'Quote', actions: CRUD },
  { name: 'other_incomes', label: 'Other incomes', noun: 'Other income', actions: CRUD },
  { name: 'clients', label: 'Clients', noun: 'Client', actions: CRUD },
  { name: 'expenses', label: 'Expenses', noun: 'Expense', actions: CRUD },
  { name: 'bills', label: 'Bills', noun: 'Bill', actions: CRUD },
  { name: 'bill_payments', label: 'Bill payments', noun: 'Bill payment', actions: CRUD },
  { name: 'suppliers', label: 'Suppliers', noun: 'Supplier', actions: CRUD },
  { name: 'employees', label: 'Employees', noun: 'Employee', actions: CRUD },
  { name: 'pay_runs', label: 'Pay runs', noun: 'Pay run', actions: CRUD },
  { name: 'products_services', label: 'Products and services', noun: 'Product or service', actions: CRUD },
  { name: 'bank_transfers', label: 'Bank transfers', noun: 'Bank transfer', actions: CRUD },
  { name: 'accounts', label: 'Accounts', noun: 'Account', actions: CRUD },
  { name: 'journals', label: 'Journals', noun: 'Journal', actions: CRUD },
  { name: 'business_loans', label: 'Business loans', noun: 'Business loan', actions: CRUD },
  { name: 'ledgers', label: 'Ledgers', noun: 'Ledger entry', actions: CRUD, exclusive: true },
  { name: 'invoice_online_payments', label: 'Invoice online payments', noun: 'Online invoice payment', actions: ['created'] },
  { name: 'bill_online_payments', label: 'Bill online payments', noun: 'Online bill payment', actions: ['created'] },
  { name: 'wallet_transactions', label: 'Wallet transactions', noun: 'Wallet transaction', actions: ['created'] },
  { name: 'income_tax_payments', label: 'Income tax payments', noun: 'Income tax payment', actions: CREATED_DELETED },
  { name: 'withholding_tax_payments', label: 'Withholding tax payments', noun: 'Withholding tax payment', actions: CREATED_DELETED },
  { name: 'sales_tax_payments', label: 'Sales tax payments', noun: 'Sales tax payment', actions: CREATED_DELETED },
  { name: 'salary_payments', label: 'Salary payments', noun: 'Salary payment', actions: CREATED_DELETED },
  { name: 'payrun_tier1_payments', label: 'Pay run tier 1 payments', noun: 'Pay run tier 1 payment', actions: CREATED_DELETED },
  { name: 'payrun_tier2_payments', label: 'Pay run tier 2 payments', noun: 'Pay run tier 2 payment', actions: CREATED_DELETED },
  { name: 'payrun_tier3_payments', label: 'Pay run tier 3 payments', noun: 'Pay run tier 3 payment', actions: CREATED_DELETED },
  {
    name: 'payrun_income_tax_payments',
    label: 'Pay run income tax payments',
    noun: 'Pay run income tax payment',
    actions: CREATED_DELETED,
  },
  { name: 'disputes', label: 'Disputes', noun: 'Dispute', actions: ['opened', 'resolved'] },
  { name: 'promises_to_pay', label: 'Promises to pay', noun: 'Promise to pay', actions: ['created', 'broken'] },
  { name: 'payables', label: 'Payables', noun: 'Payable', actions: ['approved', 'paid', 'payout_failed', 'instant_payout'] },
  { name: 'webhook', label: 'Webhook', noun: 'Webhook', actions: ['test'] },
];

/** How an action reads after its noun, where the action's name does not read as English by itself. */
const ACTION_PHRASES: Record<string, string> = {
  payment_failed: 'payment failed',
  payout_failed: 'payout failed',
  instant_payout: 'paid out instantly',
};

/** Descriptions that the noun-and-action rule would get wrong. */
const DESCRIPTIONS: Record<string, string> = {
  'webhook.test': 'Test event, sent to one subscription with sendTestEvent.',
};

// The typed domain events. Extra properties are allowed so that publishers
// can add context without a schema change; strings that carry a pattern or
// a format are bounded, as accounts' own schemas must be.
const id = { type: 'string', minLength: 1, maxLength: 255 };
const dateTime = { type: 'string', format: 'date-time', maxLength: 64 };
const amount = { type: 'number', exclusiveMinimum: 0 };

const SCHEMAS: Record<string, { schema: object; example: unknown }> = {
  'invoices.paid': {
    schema: {
      type: 'object',
      required: ['invoiceId', 'customerId', 'amount', 'currency', 'paidAt'],
      properties: {
        invoiceId: id,
        customerId: id,
        amount,
        currency: { type: 'string', pattern: '^[A-Z]{3}$', maxLength: 3, description: 'ISO 4217 code, e.g. USD' },
        paidAt: dateTime,
      },
    },
    example: { invoiceId: 'INV12345', customerId: 'CUS789', amount: 1250.5, currency: 'USD', paidAt: '2026-11-23T10:00:00.000Z' },
  },
  'disputes.opened': {
    schema: {
      type: 'object',
      required: ['invoiceId', 'customerId', 'reason', 'openedAt'],
      properties: {
        invoiceId: id,
        customerId: id,
        reason: { type: 'string', minLength: 1, maxLength: 2000 },
        openedAt: dateTime,
      },
    },
    example: { invoiceId: 'INV12345', customerId: 'CUS789', reason: 'Goods not received', openedAt: '2026-11-23T10:00:00.000Z' },
  },
  'promises_to_pay.created': {
    schema: {
      type: 'object',
      required: ['invoiceId', 'customerId', 'promisedDate'],
      properties: {
        invoiceId: id,
        customerId: id,
        promisedDate: { type: 'string', format: 'date', maxLength: 10, description: 'ISO date, e.g. 2024-12-15' },
        amount,
      },
    },
    example: { invoiceId: 'INV12345', customerId: 'CUS789', promisedDate: '2026-12-15', amount: 500 },
  },
};

const EXAMPLES: Record<string, unknown> = {
  'webhook.test': { subscriptionId: '0190f5a2-7c1e-7b4e-9a51-3f2d1c0b9a87', message: 'This is a test event from Hookline.' },
};

export class Catalog1795000000001 implements MigrationInterface {
  name = 'Catalog1795000000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const channels = CHANNELS.map((c) => [uuidv7(), c.name, c.label, c.exclusive ?? false] as const);
    await queryRunner.query(
      `INSERT INTO "event_channels" ("id", "account_id", "name", "label", "exclusive")
       SELECT c.id, NULL, c.name, c.label, c.exclusive FROM unnest($1::uuid[], $2::text[], $3::text[], $4::boolean[]) AS c(id, name, label, exclusive)`,
      [channels.map((c) => c[0]), channels.map((c) => c[1]), channels.map((c) => c[2]), channels.map((c) => c[3])],
    );

    const types = CHANNELS.flatMap((c) =>
      c.actions.map((action) => {
        const name = `${c.name}.${action}`;
        const typed = SCHEMAS[name];
        return {
          id: uuidv7(),
          name,
          channel: c.name,
          action,
          description: DESCRIPTIONS[name] ?? `${c.noun} ${ACTION_PHRASES[action] ?? action}.`,
          schema: typed ? JSON.stringify(typed.schema) : null,
          example: typed ? JSON.stringify(typed.example) : name in EXAMPLES ? JSON.stringify(EXAMPLES[name]) : null,
        };
      }),
    );
    await queryRunner.query(
      `INSERT INTO "event_types" ("id", "account_id", "name", "channel", "action", "description", "schema", "example")
       SELECT t.id, NULL, t.name, t.channel, t.action, t.description, t.schema::jsonb, t.example::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS t(id, name, channel, action, description, schema, example)`,
      [
        types.map((t) => t.id),
        types.map((t) => t.name),
        types.map((t) => t.channel),
        types.map((t) => t.action),
        types.map((t) => t.description),
        types.map((t) => t.schema),
        types.map((t) => t.example),
      ],
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    const names = CHANNELS.map((c) => c.name);
    await queryRunner.query(`DELETE FROM "event_types" WHERE "account_id" IS NULL AND "channel" = ANY($1::text[])`, [names]);
    await queryRunner.query(`DELETE FROM "event_channels" WHERE "account_id" IS NULL AND "name" = ANY($1::text[])`, [names]);
  }
}
