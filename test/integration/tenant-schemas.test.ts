import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createKey, startTestApp, type TestApp } from '../support/app.js';
import { errorOf, expectBadInput } from '../support/subscriptions.js';

const DEFINE = 'mutation($input: DefineEventTypeInput!) { defineEventType(input: $input) { name schema } }';
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } duplicate } }';

/**
 * The most expensive schema found within the caps: each long string is
 * scanned by hundreds of patterns that do not match before the last branch
 * accepts it, and the array then fails `contains`. On the event loop it
 * holds the process for about a second on 240 KB of data; the tests give
 * a check 250 ms of CPU time.
 */
function worstSchema(): object {
  const branches = [
    ...Array.from({ length: 450 }, (_, i) => ({ type: 'string', maxLength: 65536, pattern: `[ab]{1,100}c${i}$` })),
    { type: 'string', maxLength: 65536 },
  ];
  return { type: 'array', maxItems: 10, items: { anyOf: branches }, contains: { const: 'z' } };
}
const worstData = () => Array.from({ length: 4 }, () => 'ab'.repeat(30_000));

describe('tenant JSON Schemas', () => {
  let t: TestApp;
  let admin: string;
  let publisher: string;
  beforeAll(async () => {
    t = await startTestApp({ role: 'api', env: { HOOKLINE_SCHEMA_CHECK_MS: '250' } });
    ({ adminToken: admin } = await createAccount(t, 'Schemas'));
    publisher = await createKey(t, admin, 'PUBLISHER');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('runs patterns in linear time: the catastrophic pattern is checked at once', async () => {
    const schema = { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$', maxLength: 65536 } } };
    await t.ok(admin, DEFINE, { input: { name: 'codes.checked', description: 'Codes.', schema } });
    // A backtracking engine would take minutes on either (past the test's timeout), and end in a timeout error.
    const result = await t.gql(publisher, PUBLISH, { input: { type: 'codes.checked', data: { code: 'a'.repeat(31) + '!' } } });
    expectBadInput(result, 'input.data.code');
    const long = await t.gql(publisher, PUBLISH, { input: { type: 'codes.checked', data: { code: 'a'.repeat(60_000) + '!' } } });
    expectBadInput(long, 'input.data.code');
    expect(errorOf(result).message).toMatch(/must match pattern/);
    expect(errorOf(long).message).toMatch(/must match pattern/);
  });

  it.each([
    ['a backreference', { type: 'string', maxLength: 10, pattern: '^(a)\\1$' }, /linear time/],
    ['lookahead', { type: 'string', maxLength: 10, pattern: '^(?=a)a$' }, /linear time/],
    ['a reference', { type: 'object', definitions: { a: { type: 'string' } }, properties: { x: { $ref: '#/definitions/a' } } }, /\$ref .* not supported/],
    ['a huge maxLength', { type: 'string', maxLength: 1_000_000_000 }, /maxLength at \/ must be at most 65536/],
    ['a long string with a format', { type: 'string', format: 'email', maxLength: 100_000 }, /maxLength at \/ must be at most 1024/],
    ['a huge maxItems', { type: 'array', maxItems: 10_000_000 }, /maxItems at \/ must be at most 10000/],
    ['contains without a small maxItems', { type: 'array', contains: { const: 1 }, maxItems: 1000 }, /maxItems at \/ must be at most 100/],
    ['uniqueItems without a small maxItems', { type: 'array', uniqueItems: true, items: { type: 'object' } }, /uniqueItems at \/ needs a maxItems/],
    ['a huge maxProperties', { type: 'object', maxProperties: 1_000_000 }, /maxProperties at \/ must be at most 1000/],
    ['the regex format', { type: 'string', format: 'regex', maxLength: 100 }, /format "regex" at \/ is not supported/],
    ['the url format', { type: 'string', format: 'url', maxLength: 100 }, /format "url" at \/ is not supported/],
    [
      'too many subschemas',
      { type: 'object', properties: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, {}])) },
      /at most 500 subschemas/,
    ],
  ])('refuses %s, naming input.schema', async (_what, schema, message) => {
    const result = await t.gql(admin, DEFINE, { input: { name: 'refused.schema', description: 'Refused.', schema } });
    expectBadInput(result, 'input.schema');
    expect(errorOf(result).message).toMatch(message);
  });

  it('keeps /healthz answering within 100 ms while the worst schema it accepts is checked, and ends that check', async () => {
    await t.ok(admin, DEFINE, { input: { name: 'worst.case', description: 'Worst case.', schema: worstSchema() } });
    const base = t.url.replace(/\/graphql$/, '');
    const data = worstData();
    let done = false;
    const publish = t.gql(publisher, PUBLISH, { input: { type: 'worst.case', data } }).finally(() => (done = true));
    const latencies: number[] = [];
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await publish;
    expectBadInput(result, 'input.data');
    expect(errorOf(result).message).toMatch(/could not be checked against the schema/);
    expect(latencies.length).toBeGreaterThan(3);
    // On the event loop the check would hold every answer for about 1 s. A
    // shared, loaded test machine delays some answers by itself, so the
    // 100 ms bound is on the median, and the worst must stay far below the
    // check's own duration.
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(100);
    expect(latencies[latencies.length - 1]).toBeLessThan(1_000);
    // Other tenants' checks go on after the thread was ended.
    const ok = await t.gql(publisher, PUBLISH, { input: { type: 'codes.checked', data: { code: 'aaa' } } });
    expect(ok.errors).toBeUndefined();
    // The deadline is CPU time of the thread; on a loaded machine it takes longer to pass.
  }, 90_000);

  it("does not let one account's slow checks hold up another account's", async () => {
    const other = await createAccount(t, 'Neighbour');
    await t.ok(other.adminToken, DEFINE, {
      input: { name: 'notes.added', description: 'Notes.', schema: { type: 'object', properties: { text: { type: 'string', maxLength: 100 } } } },
    });
    const data = worstData();
    const finished: string[] = [];
    const slow = Array.from({ length: 2 }, (_, i) =>
      t.gql(publisher, PUBLISH, { input: { type: 'worst.case', data } }).then((result) => {
        finished.push(`slow ${i}`);
        return result;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const neighbour = await t.gql(other.adminToken, PUBLISH, { input: { type: 'notes.added', data: { text: 'hello' } } });
    finished.push('neighbour');
    expect(neighbour.errors).toBeUndefined();
    for (const result of await Promise.all(slow)) expectBadInput(result, 'input.data');
    // The slow account's checks take one thread, one after another; the neighbour's ran on another at once.
    expect(finished[0]).toBe('neighbour');
  }, 90_000);
});
