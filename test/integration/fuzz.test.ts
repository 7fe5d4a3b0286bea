import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedOutputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHooklineSchema } from '../../src/graphql/schema.js';
import { createKey, startTestApp, type TestApp } from '../support/app.js';
import { tenant } from '../support/scenario.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const PARALLEL = 12;
const MAX_DEPTH = 3;

/** One argument as generated: inline in the document, or passed as a variable. */
interface ArgChoice {
  name: string;
  type: GraphQLInputType;
  value: unknown;
  inline: boolean;
}

interface FieldChoice {
  name: string;
  args: ArgChoice[];
  children: FieldChoice[];
}

interface Request {
  token: string;
  /** A JSON body as a client might send it, or a broken one. */
  body: string;
  contentType: string;
}

/** A well-formed secret among the generated values: any field may store it as data and show it again. */
const FUZZ_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/** Values that mean something to Hookline, beside the random ones, so that requests also get past the first check. */
const MEANINGFUL_STRINGS = [
  'invoices',
  'disputes',
  'ledgers',
  'promises_to_pay',
  'invoices.paid',
  'invoices.created',
  'webhook.test',
  'purchase_orders.approved',
  'https://127.0.0.1:9/hook',
  'http://localhost:1/x',
  'https://user:pass@127.0.0.1/',
  'http://169.254.169.254/latest/meta-data',
  'https://[::1]/',
  'javascript:alert(1)',
  'ftp://example.com/',
  FUZZ_SECRET,
  'whsec_not-base64!',
  'USD',
  'EUR',
  'authorization',
  'content-type',
  "'; DROP TABLE api_keys; --",
  '%s%n%x',
  '\u0000',
  '../../etc/passwd',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'ünïcødé ✓ 中文 🚀',
  '',
  '   ',
  'x'.repeat(3000),
];

const JSON_SCHEMAS = [
  { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] },
  { type: 'object', properties: { code: { type: 'string', maxLength: 10, pattern: '^[A-Z]+$' } } },
  { type: 'string', format: 'email', maxLength: 50 },
  { $ref: '#/definitions/missing' },
  { type: 'not-a-type' },
];

function isName(value: string): boolean {
  return /^[_A-Za-z][_0-9A-Za-z]*$/.test(value);
}

describe('fuzzing the GraphQL API over HTTP', () => {
  let t: TestApp;
  let schema: GraphQLSchema;
  let tokens: string[];
  let ids: string[];
  /** Strings that no response may hold, whoever asked. */
  let neverShown: string[];
  /** Strings that no VIEWER response may hold. */
  let hiddenFromViewers: string[];
  let viewerToken: string;

  beforeAll(async () => {
    schema = await buildHooklineSchema();
    t = await startTestApp({ role: 'api' });
    const acme = await tenant(t, 'Fuzzed');
    const headerSecret = `Bearer header-secret-${randomBytes(12).toString('hex')}`;
    const own = await acme.subscribe({ url: 'https://127.0.0.1:9/own', channels: ['invoices'], headers: { authorization: headerSecret } });
    const ownEvent = await acme.publish('invoices.created', { invoiceId: 'INV-1' });
    const stagingAdmin = await createKey(t, acme.adminToken, 'ADMIN', 'STAGING');
    viewerToken = await createKey(t, acme.adminToken, 'VIEWER');
    const sacrificial = await createKey(t, acme.adminToken, 'PUBLISHER');
    const sacrificialId = (await t.ok<{ viewer: { apiKey: { id: string } } }>(sacrificial, '{ viewer { apiKey { id } } }')).viewer.apiKey.id;

    // Another tenant whose ids are thrown at the API but whose tokens are never used.
    const victim = await tenant(t, 'Victim');
    const marker = `victim-${randomBytes(8).toString('hex')}`;
    const victimSubscription = await victim.subscribe({
      url: `https://127.0.0.1:9/${marker}`,
      channels: ['invoices'],
      headers: { authorization: `Bearer ${marker}-header` },
    });
    const victimEvent = await victim.publish('invoices.created', { invoiceId: marker });
    const victimDelivery = await t.ok<{ deliveries: { nodes: Array<{ id: string }> } }>(
      victim.adminToken,
      '{ deliveries(first: 1) { nodes { id } } }',
    );
    const victimKey = (await t.ok<{ viewer: { apiKey: { id: string } } }>(victim.adminToken, '{ viewer { apiKey { id } } }')).viewer.apiKey.id;

    tokens = [acme.adminToken, stagingAdmin, viewerToken, sacrificial, t.operatorToken, '', 'hkl_made-up-token-that-is-long-enough-to-look-real'];
    ids = [own.id, ownEvent.event.id, sacrificialId, victimSubscription.id, victimEvent.event.id, victimDelivery.deliveries.nodes[0]!.id, victimKey];
    neverShown = [t.operatorToken, victim.adminToken, victimSubscription.secret, marker, Buffer.alloc(32, 7).toString('base64')];
    hiddenFromViewers = [headerSecret, own.secret, acme.adminToken];
  });
  afterAll(async () => {
    await t?.stop();
  });

  const stringValue = () =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...MEANINGFUL_STRINGS) },
      { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    );

  const wrongValue = () => fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 10 }), fc.boolean(), fc.constant({}), fc.constant([]));

  function scalarValue(name: string): fc.Arbitrary<unknown> {
    switch (name) {
      case 'String':
        return stringValue();
      case 'ID':
        return fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...ids) },
          { weight: 1, arbitrary: fc.uuid() },
          { weight: 1, arbitrary: stringValue() },
        );
      case 'Int':
        return fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 5, 50, 500, 501, 86_400, 2_147_483_647, -2_147_483_648, 2 ** 40, 1.5));
      case 'Float':
        return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 1250.75, 1e308, 1e16));
      case 'Boolean':
        return fc.boolean();
      case 'DateTime':
        return fc.oneof(
          fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
          fc.constantFrom('not a date', '2026-13-45T25:61:00Z', '', '2026-11-23T10:00:00Z', '0000-01-01T00:00:00Z'),
        );
      case 'JSON':
        return fc.oneof(
          { weight: 12, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
          { weight: 8, arbitrary: fc.constantFrom<unknown>(...JSON_SCHEMAS, { invoiceId: 'INV-2' }, { authorization: 'Bearer x' }) },
          // Over the 256 KiB an event may carry; rare, as each costs a large body to parse.
          { weight: 1, arbitrary: fc.constant({ big: 'x'.repeat(300_000) }) },
        );
      default:
        return fc.oneof(stringValue(), fc.integer(), fc.jsonValue({ maxDepth: 2 }));
    }
  }

  function inputValue(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
    if (isNonNullType(type)) {
      return fc.oneof({ weight: 12, arbitrary: inputValue(type.ofType, depth) }, { weight: 1, arbitrary: wrongValue() });
    }
    let inner: fc.Arbitrary<unknown>;
    if (isListType(type)) {
      const item = inputValue(type.ofType as GraphQLInputType, depth + 1);
      inner = fc.oneof({ weight: 4, arbitrary: fc.array(item, { maxLength: 3 }) }, { weight: 1, arbitrary: item });
    } else if (isEnumType(type)) {
      inner = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) },
        { weight: 1, arbitrary: fc.constant('NOT_A_VALUE') },
      );
    } else if (isInputObjectType(type)) {
      if (depth > MAX_DEPTH) return fc.constant({});
      const fields = Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, inputValue(f.type, depth + 1)]));
      const record = fc.record(fields, { requiredKeys: [] });
      inner = fc.oneof({ weight: 8, arbitrary: record }, { weight: 1, arbitrary: record.map((r) => ({ ...r, notAField: 1 })) });
    } else if (isScalarType(type)) {
      inner = scalarValue(type.name);
    } else {
      inner = wrongValue();
    }
    return fc.oneof({ weight: 10, arbitrary: inner }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: wrongValue() });
  }

  function argChoices(field: GraphQLField<unknown, unknown>): fc.Arbitrary<ArgChoice[]> {
    if (field.args.length === 0) return fc.constant([]);
    const each = field.args.map((arg) => {
      const choice = fc.record({ value: inputValue(arg.type, 0), inline: fc.boolean() }).map((c) => ({ name: arg.name, type: arg.type, ...c }));
      // Optional arguments are often left out; a required one now and then too.
      return fc.option(choice, { freq: isNonNullType(arg.type) ? 20 : 3, nil: undefined });
    });
    return fc.tuple(...each).map((list) => list.filter((a): a is ArgChoice => a !== undefined));
  }

  function selection(type: GraphQLNamedOutputType, depth: number): fc.Arbitrary<FieldChoice[]> {
    if (isLeafType(type)) return fc.constant([]);
    if (!(isObjectType(type) || isInterfaceType(type)) || depth >= MAX_DEPTH) return fc.constant([{ name: '__typename', args: [], children: [] }]);
    const fields = Object.values(type.getFields());
    return fc
      .subarray(fields, { minLength: 1, maxLength: Math.min(4, fields.length) })
      .chain((chosen) => fc.tuple(...chosen.map((f) => fieldChoice(f, depth + 1))));
  }

  function fieldChoice(field: GraphQLField<unknown, unknown>, depth: number): fc.Arbitrary<FieldChoice> {
    return fc.tuple(argChoices(field), selection(getNamedType(field.type), depth)).map(([args, children]) => ({ name: field.name, args, children }));
  }

  function literal(value: unknown, type: GraphQLInputType | undefined): string {
    const nullable = type && isNonNullType(type) ? type.ofType : type;
    if (value === null || value === undefined) return 'null';
    if (typeof value === 'string') return nullable && isEnumType(nullable) && isName(value) ? value : JSON.stringify(value);
    if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
    if (typeof value === 'boolean') return String(value);
    if (Array.isArray(value)) {
      const item = nullable && isListType(nullable) ? (nullable.ofType as GraphQLInputType) : undefined;
      return `[${value.map((v) => literal(v, item)).join(', ')}]`;
    }
    const fields = nullable && isInputObjectType(nullable) ? nullable.getFields() : {};
    const entries = Object.entries(value as Record<string, unknown>).filter(([k]) => isName(k));
    return `{${entries.map(([k, v]) => `${k}: ${literal(v, fields[k]?.type)}`).join(', ')}}`;
  }

  function print(kind: 'query' | 'mutation', root: FieldChoice): { query: string; variables: Record<string, unknown> } {
    const definitions: string[] = [];
    const variables: Record<string, unknown> = {};
    const printField = (field: FieldChoice): string => {
      const args = field.args.map((arg) => {
        if (arg.inline) return `${arg.name}: ${literal(arg.value, arg.type)}`;
        const name = `v${definitions.length}`;
        definitions.push(`$${name}: ${String(arg.type)}`);
        variables[name] = arg.value;
        return `${arg.name}: $${name}`;
      });
      const argText = args.length ? `(${args.join(', ')})` : '';
      const children = field.children.length ? ` { ${field.children.map(printField).join(' ')} }` : '';
      return `${field.name}${argText}${children}`;
    };
    const body = printField(root);
    return { query: `${kind}${definitions.length ? `(${definitions.join(', ')})` : ''} { ${body} }`, variables };
  }

  function requests(): fc.Arbitrary<Request> {
    const roots: Array<['query' | 'mutation', GraphQLObjectType]> = [['query', schema.getQueryType()!]];
    if (schema.getMutationType()) roots.push(['mutation', schema.getMutationType()!]);
    const operations = roots.flatMap(([kind, type]) =>
      Object.values(type.getFields()).map((field) => fieldChoice(field, 0).map((choice) => print(kind, choice))),
    );
    const graphqlRequest = fc
      .tuple(fc.oneof(...operations), fc.constantFrom(...tokens))
      .map(([operation, token]) => ({ token, body: JSON.stringify(operation), contentType: 'application/json' }));
    const broken = fc
      .tuple(
        fc.constantFrom(
          '{"query": ',
          '[]',
          '{"query": 1}',
          '{"query": "{ viewer { role } }", "variables": "x"}',
          '{"query": "{ viewer { role } }", "variables": [1]}',
          '{"query": "{ viewer { role } }", "operationName": 7}',
          '{"query": "query A { viewer { role } } query B { viewer { role } }"}',
          '{"query": "subscription { viewer { role } }"}',
          '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}',
          'null',
        ),
        fc.constantFrom(...tokens),
        fc.constantFrom('application/json', 'text/plain', 'application/graphql'),
      )
      .map(([body, token, contentType]) => ({ token, body, contentType }));
    // Bodies over the 1 MB limit are refused before they are read, which resets the connection mid-upload;
    // that answer has its own test.
    return fc.oneof({ weight: 40, arbitrary: graphqlRequest }, { weight: 1, arbitrary: broken }).filter((r) => Buffer.byteLength(r.body) < 900_000);
  }

  /** What is wrong with one answer; empty when nothing. */
  function problems(request: Request, status: number, text: string): string[] {
    const found: string[] = [];
    if (status >= 500) found.push(`HTTP ${status}`);
    if (/INTERNAL_SERVER_ERROR/.test(text)) found.push('INTERNAL_SERVER_ERROR');
    if (/stacktrace|\bat [\w.<>]+ \(|node_modules|\.[jt]s:\d+:\d+/.test(text)) found.push('stack trace');
    if (
      /\bSELECT\s.+\sFROM\b|\bINSERT INTO\b|\bUPDATE "|\bDELETE FROM\b|QueryFailedError|violates .* constraint|syntax error at or near|relation "/i.test(
        text,
      )
    ) {
      found.push('SQL');
    }
    for (const secret of neverShown) if (text.includes(secret)) found.push(`secret ${secret.slice(0, 12)}…`);
    if (request.token === viewerToken) {
      for (const secret of hiddenFromViewers) if (text.includes(secret)) found.push(`shown to a VIEWER: ${secret.slice(0, 12)}…`);
      // Any signing secret, also one rotated in by an earlier request, unless it is the request's own text echoed
      // or the generated value that an earlier request may have stored as data (an idempotency key, say).
      for (const [secret] of text.matchAll(/whsec_[A-Za-z0-9+/=]{30,}/g))
        if (secret !== FUZZ_SECRET && !request.body.includes(secret)) found.push('a signing secret shown to a VIEWER');
    }
    return found;
  }

  it(
    `answers ${REQUESTS.toLocaleString('en')} generated requests with no internal error, stack trace, SQL or secret`,
    { timeout: 300_000 },
    async () => {
      const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
      const generated = fc.sample(requests(), { numRuns: REQUESTS, seed });
      const failures: Array<{ request: Request; problems: string[]; answer: string }> = [];
      const codes = new Map<string, number>();
      let next = 0;
      const worker = async () => {
        while (next < generated.length && failures.length < 20) {
          const request = generated[next++]!;
          const response = await fetch(t.url, {
            method: 'POST',
            headers: { 'content-type': request.contentType, ...(request.token ? { authorization: `Bearer ${request.token}` } : {}) },
            body: request.body,
          });
          const text = await response.text();
          const found = problems(request, response.status, text);
          if (found.length) failures.push({ request, problems: found, answer: text.slice(0, 2000) });
          for (const match of text.matchAll(/"code":"([A-Z_]+)"/g)) codes.set(match[1]!, (codes.get(match[1]!) ?? 0) + 1);
          if (!text.includes('"errors"')) codes.set('(no error)', (codes.get('(no error)') ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));

      expect(failures, `FUZZ_SEED=${seed}: ${JSON.stringify(failures.slice(0, 3), null, 2)}`).toEqual([]);
      expect(next).toBeGreaterThanOrEqual(REQUESTS);
      // The requests reached the resolvers, not only the validator: some succeeded and some failed on their input.
      expect(codes.get('(no error)') ?? 0).toBeGreaterThan(REQUESTS / 20);
      for (const code of ['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'UNAUTHENTICATED'])
        expect(codes.get(code) ?? 0).toBeGreaterThan(0);
    },
  );
});
