import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Compiles 1,000 distinct schemas in a child process with --expose-gc and
 * measures the heap after collection: evicted validators must leave
 * nothing behind, in this module's cache or in ajv's.
 */
const script = `
import { JsonSchemaValidator } from ${JSON.stringify(new URL('../../src/catalog/json-schema.ts', import.meta.url).href)};
const validator = new JsonSchemaValidator(100);
const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
const define = (i) => {
  const schema = { type: 'object', required: ['n' + i], properties: { ['n' + i]: { type: 'string', maxLength: 64, pattern: '^x' + i + '$' }, amount: { type: 'number', minimum: i } } };
  if (validator.schemaProblems(schema).length) throw new Error('schema refused');
  validator.validate(schema, { ['n' + i]: 'x' + i, amount: i }, 'data');
};
for (let i = 0; i < 200; i++) define(i);
const after200 = heap();
for (let i = 200; i < 1200; i++) define(i);
const after1200 = heap();
console.log(JSON.stringify({ after200, after1200, cached: validator.cachedValidators }));
`;

describe('compiled tenant validators', () => {
  it('keep the heap flat over 1,000 distinct schemas', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, '')).toBe('');
    const { after200, after1200, cached } = JSON.parse(child.stdout) as { after200: number; after1200: number; cached: number };
    expect(cached).toBe(100);
    // Unbounded, 1,000 more validators hold several MB (a few KB of code and closures each).
    expect(after1200 - after200).toBeLessThan(1_000_000);
  });
});
