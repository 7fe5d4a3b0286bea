/**
 * The built-in events that have a typed mutation of their own. Each one's
 * JSON Schema is the only statement of its rules: publishing validates the
 * data against it, and the GraphQL input type of its mutation is built from
 * it (src/graphql/types/typed-events.ts). The catalog rows seeded by the
 * migrations carry the same schemas; a test keeps the two equal.
 *
 * Extra properties are allowed so that publishers can add context without a
 * schema change; strings that carry a pattern or a format are bounded, as
 * accounts' own schemas must be.
 */

/** The subset of JSON Schema that a typed event's data uses: an object of scalar properties. */
export interface TypedPropertySchema {
  type: 'string' | 'number' | 'integer' | 'boolean';
  format?: 'date-time' | 'date';
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  exclusiveMinimum?: number;
  description?: string;
}

export interface TypedEventSchema {
  type: 'object';
  required: string[];
  properties: Record<string, TypedPropertySchema>;
}

export interface TypedEvent {
  type: string;
  /** The GraphQL input type of its mutation. */
  inputName: string;
  schema: TypedEventSchema;
}

const id: TypedPropertySchema = { type: 'string', minLength: 1, maxLength: 255 };
const dateTime: TypedPropertySchema = { type: 'string', format: 'date-time', maxLength: 64 };
const amount: TypedPropertySchema = { type: 'number', exclusiveMinimum: 0 };

export const INVOICE_PAID: TypedEvent = {
  type: 'invoices.paid',
  inputName: 'InvoicePaidInput',
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
};

export const DISPUTE_OPENED: TypedEvent = {
  type: 'disputes.opened',
  inputName: 'DisputeOpenedInput',
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
};

export const PROMISE_TO_PAY_CREATED: TypedEvent = {
  type: 'promises_to_pay.created',
  inputName: 'PromiseToPayInput',
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
};

export const TYPED_EVENTS: readonly TypedEvent[] = [INVOICE_PAID, DISPUTE_OPENED, PROMISE_TO_PAY_CREATED];
