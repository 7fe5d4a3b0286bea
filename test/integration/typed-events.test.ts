import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPED_EVENTS } from '../../src/catalog/typed-events.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

interface InputField {
  name: string;
  type: { kind: string; name: string | null; ofType: { name: string } | null };
}

describe('typed events: one JSON Schema each', () => {
  let t: TestApp;
  let acme: Tenant;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it.each(TYPED_EVENTS.map((e) => [e.type, e] as const))('%s: the catalog publishes the schema its mutation is built from', async (_name, event) => {
    const { eventTypes } = await t.ok<{ eventTypes: Array<{ name: string; schema: unknown }> }>(
      acme.adminToken,
      'query($channel: String!) { eventTypes(channel: $channel) { name schema } }',
      { channel: event.type.split('.')[0] },
    );
    expect(eventTypes.find((e) => e.name === event.type)?.schema).toEqual(event.schema);

    const { __type } = await t.ok<{ __type: { inputFields: InputField[] } }>(
      acme.adminToken,
      'query($name: String!) { __type(name: $name) { inputFields { name type { kind name ofType { name } } } } }',
      { name: event.inputName },
    );
    const fields = new Map(__type.inputFields.map((f) => [f.name, f.type]));
    expect([...fields.keys()].sort()).toEqual([...Object.keys(event.schema.properties), 'idempotencyKey', 'orderingKey'].sort());
    for (const [name, property] of Object.entries(event.schema.properties)) {
      const type = fields.get(name)!;
      expect(type.kind === 'NON_NULL', name).toBe(event.schema.required.includes(name));
      const scalar = type.kind === 'NON_NULL' ? type.ofType!.name : type.name;
      const expected =
        property.format === 'date-time' ? 'DateTime' : { string: 'String', number: 'Float', integer: 'Int', boolean: 'Boolean' }[property.type];
      expect(scalar, name).toBe(expected);
    }
  });
});
