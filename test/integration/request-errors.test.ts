import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';

describe('requests the API cannot run', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    ({ adminToken: admin } = await createAccount(t, 'Careless'));
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function send(body: string, contentType = 'application/json'): Promise<{ status: number; text: string; json: GraphQLResult }> {
    const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${admin}` }, body });
    const text = await response.text();
    return { status: response.status, text, json: JSON.parse(text) as GraphQLResult };
  }

  it('answers a body that is not JSON, or too large, with a JSON error and no stack trace', async () => {
    for (const body of ['null', '{"query": ', '"{ viewer { role } }"']) {
      const answer = await send(body);
      expect(answer.status).toBe(400);
      expect(answer.json.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expect(answer.text).not.toMatch(/ at |node_modules|\.js:\d+/);
    }
    const large = await send(JSON.stringify({ query: '{ viewer { role } }', variables: { x: 'x'.repeat(10_000_000) } }));
    expect(large.status).toBe(413);
    expect(large.json.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'body' }] });
  });

  it('asks for an operation name when a document holds several, and refuses subscriptions', async () => {
    const several = await send(JSON.stringify({ query: 'query A { viewer { role } } query B { viewer { role } }' }));
    expect(several.status).toBe(400);
    expect(several.json.errors?.[0]).toMatchObject({ extensions: { code: 'OPERATION_RESOLUTION_FAILURE' }, message: expect.stringMatching(/operationName/) });
    const unknown = await send(JSON.stringify({ query: 'query A { viewer { role } }', operationName: 'B' }));
    expect(unknown.json.errors?.[0]?.extensions?.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const named = await send(JSON.stringify({ query: 'query A { viewer { role } } query B { viewer { role } }', operationName: 'B' }));
    expect(named.json).toEqual({ data: { viewer: { role: 'ADMIN' } } });

    const subscription = await send(JSON.stringify({ query: 'subscription { viewer { role } }' }));
    expect(subscription.status).toBe(400);
    expect(subscription.json.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' }, message: expect.stringMatching(/no subscription/) });
  });

  it('refuses a NUL character in an argument or a variable, naming where it is', async () => {
    const inline = await send(JSON.stringify({ query: '{ eventTypes(channel: "in\\u0000voices") { action } }' }));
    expect(inline.json.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'channel' }] });
    const variable = await send(
      JSON.stringify({
        query: 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
        variables: { input: { type: 'invoices.created', data: { note: 'a\u0000b' } } },
      }),
    );
    expect(variable.json.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ field: 'input.data.note' }] });
    expect(variable.json.data).toBeUndefined();
  });
});
