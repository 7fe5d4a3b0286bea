import { Field, Float, InputType, Int, type ClassType } from 'type-graphql';
import type { TypedEvent, TypedPropertySchema } from '../../catalog/typed-events.js';
import { INVOICE_PAID, DISPUTE_OPENED, PROMISE_TO_PAY_CREATED } from '../../catalog/typed-events.js';

/** An input of a typed mutation: the event's data fields, and the idempotency and ordering keys. */
export type TypedEventInput = Record<string, unknown> & { idempotencyKey?: string | null; orderingKey?: string | null };

/** The scalar a property travels as: the DateTime scalar for a date-time, else what its JSON type says. */
function graphqlTypeOf(property: TypedPropertySchema): typeof Date | typeof String | typeof Boolean | typeof Float {
  switch (property.type) {
    case 'string':
      return property.format === 'date-time' ? Date : String;
    case 'number':
      return Float;
    case 'integer':
      return Int;
    case 'boolean':
      return Boolean;
  }
}

/**
 * The GraphQL input type of a typed event, built from its JSON Schema: one
 * field per property, non-null when required, with the schema's description.
 * The schema alone checks the values, when the data is published.
 */
function inputTypeOf(event: TypedEvent): ClassType<TypedEventInput> {
  const InputClass = { [event.inputName]: class {} }[event.inputName]!;
  InputType(event.inputName)(InputClass);
  for (const [name, property] of Object.entries(event.schema.properties)) {
    const required = event.schema.required.includes(name);
    const type = graphqlTypeOf(property);
    Field(() => type, { nullable: !required, description: property.description })(InputClass.prototype, name);
  }
  Field(() => String, { nullable: true })(InputClass.prototype, 'idempotencyKey');
  Field(() => String, { nullable: true })(InputClass.prototype, 'orderingKey');
  return InputClass as ClassType<TypedEventInput>;
}

/** The event's data from its typed input: DateTime values back to the ISO strings the schema describes; absent optional fields left out. */
export function typedEventData(event: TypedEvent, input: TypedEventInput): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const name of Object.keys(event.schema.properties)) {
    const value = input[name];
    if (value === null || value === undefined) continue;
    data[name] = value instanceof Date ? value.toISOString() : value;
  }
  return data;
}

export const InvoicePaidInput = inputTypeOf(INVOICE_PAID);
export const DisputeOpenedInput = inputTypeOf(DISPUTE_OPENED);
export const PromiseToPayInput = inputTypeOf(PROMISE_TO_PAY_CREATED);
