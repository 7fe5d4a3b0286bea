import { getIntrospectionQuery } from 'graphql';
import { SelectQueryBuilder } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QUERY_LIMITS } from '../../src/graphql/limits.js';
import { createKey, startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

interface Answer {
  status: number;
  body: GraphQLResult;
}

describe('query limits before execution', () => {
  let t: TestApp;
  let acme: Tenant;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t, 'Limits');
    viewer = await createKey(t, acme.adminToken, 'VIEWER');
    const subscription = await acme.subscribe({ url: 'http://127.0.0.1:9/hook', channels: ['invoices'] });
    expect(subscription.id).toBeTruthy();
    await acme.publish('invoices.created', { invoiceId: 'INV-1' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function post(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<Answer> {
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as GraphQLResult };
  }

  function expectRefused(answer: Answer, limit: RegExp): void {
    expect(answer.status).toBe(400);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(answer.body.errors?.[0]?.message).toMatch(limit);
  }

  const nested = (levels: number, first: number | string): string => {
    let inner = 'id';
    for (let i = 0; i < levels; i++) inner = `deliveries(first: ${first}) { nodes { ${i === 0 ? 'id' : `subscription { ${inner} }`} } }`;
    return inner;
  };

  it('refuses three nested deliveries(first: 500) by its cost, running none of it', async () => {
    const count = vi.spyOn(SelectQueryBuilder.prototype, 'getMany');
    try {
      const query =
        '{ deliveries(first: 500) { nodes { subscription { deliveries(first: 500) { nodes { subscription { deliveries(first: 500) { nodes { id } totalCount } } } } } } } }';
      expectRefused(await post(viewer, query), new RegExp(`cost limit of ${QUERY_LIMITS.cost} exceeded`));
      expect(count).not.toHaveBeenCalled();
    } finally {
      count.mockRestore();
    }
  });

  it('counts first multiplicatively through nesting, also when it comes in a variable', async () => {
    const query = 'query($n: Int) { deliveries(first: $n) { nodes { subscription { deliveries(first: $n) { nodes { id } } } } } }';
    expectRefused(await post(viewer, query, { n: 500 }), /cost limit/);
    const small = await post(viewer, query, { n: 5 });
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data).toMatchObject({ deliveries: { nodes: [{ subscription: { deliveries: { nodes: [{ id: expect.any(String) }] } } }] } });
    // The default page (50) nested twice is allowed; nested three times it is not.
    expect((await post(viewer, `{ ${nested(2, 50)} }`)).body.errors).toBeUndefined();
    expectRefused(await post(viewer, `{ ${nested(3, 50)} }`), /cost limit/);
  });

  it('refuses 1,000 aliased createApiKey (by their tokens) and 100 (by the alias limit), creating no key', async () => {
    const before = await t.ok<{ apiKeys: unknown[] }>(acme.adminToken, '{ apiKeys { id } }');
    const aliased = (n: number) => Array.from({ length: n }, (_, i) => `k${i}: createApiKey(name: "k${i}", role: ADMIN) { token }`).join('\n');
    expectRefused(await post(acme.adminToken, `mutation { ${aliased(1000)} }`), new RegExp(`Token limit of ${QUERY_LIMITS.tokens} exceeded`));
    expectRefused(await post(acme.adminToken, `mutation { ${aliased(100)} }`), new RegExp(`Aliases limit of ${QUERY_LIMITS.aliases} exceeded`));
    const after = await t.ok<{ apiKeys: unknown[] }>(acme.adminToken, '{ apiKeys { id } }');
    expect(after.apiKeys).toHaveLength(before.apiKeys.length);
  });

  it('allows a few aliased writes within the limits', async () => {
    const fields = Array.from({ length: 3 }, (_, i) => `k${i}: createApiKey(name: "k${i}", role: VIEWER) { token }`).join('\n');
    const allowed = await post(acme.adminToken, `mutation { ${fields} }`);
    expect(allowed.body.errors).toBeUndefined();
  });

  it('refuses a document over the token limit without reading all of it', async () => {
    const query = `{ viewer { ${'role '.repeat(200_000)} } }`;
    expectRefused(await post(viewer, query), new RegExp(`Token limit of ${QUERY_LIMITS.tokens} exceeded`));
  });

  it('refuses a query over the depth limit and one over the directive limit', async () => {
    let deep = 'id';
    for (let i = 0; i < 8; i++) deep = `subscription { deliveries(first: 1) { nodes { ${deep} } } }`;
    expectRefused(await post(viewer, `{ deliveries(first: 1) { nodes { ${deep} } } }`), new RegExp(`depth limit of ${QUERY_LIMITS.depth} exceeded`));

    const directives = Array.from({ length: QUERY_LIMITS.directives + 1 }, () => 'role @include(if: true)').join(' ');
    expectRefused(await post(viewer, `{ viewer { ${directives} } }`), new RegExp(`Directives limit of ${QUERY_LIMITS.directives} exceeded`));
  });

  it('answers the standard introspection query that the IDE sends', async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    for (const token of [undefined, viewer]) {
      const answer = await post(token, query);
      expect(answer.body.errors).toBeUndefined();
      expect((answer.body.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(20);
    }
  });

  it('refuses introspection nested to blow up, which the standard query never does', async () => {
    let inner = 'name';
    for (let i = 0; i < 5; i++) inner = `fields { type { ${inner} } }`;
    expectRefused(await post(undefined, `{ __schema { types { ${inner} } } }`), /Maximum introspection depth exceeded/);
  });

  it('counts totalCount only when it is selected', async () => {
    const count = vi.spyOn(SelectQueryBuilder.prototype, 'getCount');
    try {
      const page = await t.ok<{ deliveries: { nodes: unknown[] } }>(viewer, '{ deliveries(first: 10) { nodes { id } pageInfo { hasNextPage } } }');
      expect(page.deliveries.nodes).toHaveLength(1);
      expect(count).not.toHaveBeenCalled();
      const counted = await t.ok<{ deliveries: { totalCount: number }; events: { totalCount: number } }>(
        viewer,
        '{ deliveries(first: 1) { totalCount } events(first: 1) { totalCount } }',
      );
      expect(counted).toEqual({ deliveries: { totalCount: 1 }, events: { totalCount: 1 } });
      expect(count).toHaveBeenCalledTimes(2);
    } finally {
      count.mockRestore();
    }
  });
});
