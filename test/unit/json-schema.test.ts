import { describe, expect, it } from 'vitest';
import { JsonSchemaValidator } from '../../src/catalog/json-schema.js';

const invoicePaid = {
  type: 'object',
  required: ['invoiceId', 'amount', 'paidAt'],
  properties: {
    invoiceId: { type: 'string', minLength: 1, maxLength: 255 },
    amount: { type: 'number', exclusiveMinimum: 0 },
    paidAt: { type: 'string', format: 'date-time', maxLength: 64 },
    lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, additionalProperties: false } },
  },
};

describe('JsonSchemaValidator', () => {
  const validator = new JsonSchemaValidator();

  it('accepts data that satisfies the schema', () => {
    expect(validator.validate(invoicePaid, { invoiceId: 'INV1', amount: 3.5, paidAt: '2026-11-23T10:00:00.000Z' }, 'data')).toEqual([]);
  });

  it('names each invalid field by its path below the prefix', () => {
    const problems = validator.validate(invoicePaid, { amount: -1, paidAt: 'yesterday', lines: [{ sku: 'A' }, { sku: 'B', qty: 2 }] }, 'data');
    expect(problems).toEqual(
      expect.arrayContaining([
        { field: 'data.invoiceId', message: 'is required' },
        { field: 'data.amount', message: 'must be > 0' },
        { field: 'data.paidAt', message: 'must match format "date-time"' },
        { field: 'data.lines.1.qty', message: 'is not an allowed property' },
      ]),
    );
    expect(problems).toHaveLength(4);
    expect(validator.validate(invoicePaid, 'not an object', 'input.example')).toEqual([{ field: 'input.example', message: 'must be object' }]);
  });

  it('finds nothing wrong with a valid schema', () => {
    expect(validator.schemaProblems(invoicePaid)).toEqual([]);
  });

  it.each([
    ['not an object', 'string', /must be a JSON Schema object/],
    ['an array', [{ type: 'string' }], /must be a JSON Schema object/],
    ['a misspelt type', { type: 'strnig' }, /not a valid JSON Schema/],
    ['an unknown keyword', { type: 'object', requierd: ['a'] }, /not a valid JSON Schema: strict mode: unknown keyword: "requierd"/],
    ['a reference', { $ref: 'https://example.com/other.json' }, /\$ref at \/ is not supported/],
    ['an unbounded pattern', { type: 'string', pattern: '^(a+)+$' }, /unsafe .* maxLength/],
    ['an unbounded format', { type: 'object', properties: { at: { type: 'string', format: 'date-time' } } }, /unsafe .* maxLength/],
  ])('refuses %s', (_what, schema, message) => {
    expect(validator.schemaProblems(schema).join('\n')).toMatch(message);
  });

  it('refuses schemas nested too deep or too large', () => {
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'array', items: deep };
    expect(validator.schemaProblems(deep).join()).toMatch(/nest deeper/);
    const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`field_${i}`, { type: 'string' }])) };
    expect(validator.schemaProblems(wide).join()).toMatch(/at most 32768 bytes/);
  });

  it('keeps schemas with the same $id apart, as two accounts may define them', () => {
    const a = { $id: 'https://example.com/order.json', type: 'object', required: ['a'] };
    const b = { $id: 'https://example.com/order.json', type: 'object', required: ['b'] };
    expect(validator.schemaProblems(a)).toEqual([]);
    expect(validator.schemaProblems(b)).toEqual([]);
    expect(validator.validate(a, { b: 1 }, 'data')).toEqual([{ field: 'data.a', message: 'is required' }]);
    expect(validator.validate(b, { a: 1 }, 'data')).toEqual([{ field: 'data.b', message: 'is required' }]);
  });

  it('still validates correctly after evicting compiled schemas from its cache', () => {
    const small = new JsonSchemaValidator(2);
    const schemas = [1, 2, 3].map((n) => ({ type: 'integer', minimum: n }));
    for (const s of schemas) expect(small.validate(s, 0, 'data')).toHaveLength(1);
    expect(small.validate(schemas[0]!, 1, 'data')).toEqual([]);
    expect(small.validate(schemas[2]!, 2, 'data')).toEqual([{ field: 'data', message: 'must be >= 3' }]);
  });
});
