import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type Format, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import type { FieldError } from '../errors.js';

/**
 * JSON Schema (draft-07) for event data, with ajv. Accounts define their
 * own schemas, so a schema is untrusted input here, and so is the data
 * checked against it. What keeps one from stalling the process:
 *
 * - every regular expression that data meets (`pattern`,
 *   `patternProperties`, the formats) runs on RE2, in time linear in the
 *   string; a pattern RE2 cannot run (backreferences, lookaround) is refused;
 * - the schema must pass ajv's "secure" meta-schema (a pattern or format
 *   only on strings of bounded length), as ajv's security notes advise;
 * - its size, depth and number of subschemas are capped, and so are the
 *   bounds it may declare (maxLength, maxItems, maxProperties, …);
 * - `$ref` is refused: references are how a small schema makes a validator
 *   do exponential work;
 * - compiled validators are kept in a bounded cache, and an evicted one is
 *   removed from ajv's own cache too.
 *
 * This module imports only packages and types, so that the schema worker
 * thread can load it from the sources as well as from the build.
 */

export const MAX_SCHEMA_BYTES = 32 * 1024;
export const MAX_SCHEMA_DEPTH = 32;
export const MAX_SUBSCHEMAS = 500;
export const MAX_PATTERN_LENGTH = 512;
/** Largest maxLength/minLength a schema may declare. */
export const MAX_STRING_BOUND = 65_536;
/** Largest maxLength of a string that has a format. */
export const MAX_FORMAT_STRING_BOUND = 1_024;
export const MAX_ITEMS_BOUND = 10_000;
/** uniqueItems compares every pair of items. */
export const MAX_UNIQUE_ITEMS_BOUND = 200;
/** `contains` keeps an error for every item that does not match, until one does. */
export const MAX_CONTAINS_ITEMS_BOUND = 100;
export const MAX_PROPERTIES_BOUND = 1_000;
export const MAX_ENUM_VALUES = 1_000;
/** More than this many problems in one payload says little more. */
const MAX_REPORTED_ERRORS = 20;

const require = createRequire(import.meta.url);
const secureMetaSchema = require('ajv/dist/refs/json-schema-secure.json') as Record<string, unknown>;
const { fullFormats, fastFormats } = require('ajv-formats/dist/formats.js') as Record<'fullFormats' | 'fastFormats', Record<string, Format>>;

/**
 * ajv's regular-expression engine: RE2 (linear time). ajv calls it for
 * `pattern` and `patternProperties`; a pattern that RE2 cannot run fails
 * the schema's compilation with a message that says why.
 */
function re2(pattern: string): { test: (s: string) => boolean } {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch {
    throw new Error(
      `pattern ${JSON.stringify(pattern.slice(0, 80))} is not supported: patterns run in linear time (RE2 syntax), so backreferences and lookaround are not available`,
    );
  }
  return { test: (s: string) => compiled.test(s) };
}
re2.code = 're2js';

function re2Of(regExp: RegExp): (s: string) => boolean {
  const compiled = RE2JS.compile(RE2JS.translateRegExp(regExp.source), regExp.flags.includes('i') ? RE2JS.CASE_INSENSITIVE : 0);
  return (s) => compiled.test(s);
}

const HOSTNAME = re2Of(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?$/i);

/**
 * The formats a schema may use. ajv-formats' checks, with every regular
 * expression run on RE2; dates and times keep ajv-formats' full checks,
 * whose expressions are simple and anchored. Left out: `regex` (it would
 * compile the data as a backtracking expression), `url` (an expression
 * known to backtrack), and the ones that need lookaround.
 */
const FORMATS: Record<string, Format> = {
  date: fullFormats.date!,
  time: fullFormats.time!,
  'date-time': fullFormats['date-time']!,
  'iso-time': fullFormats['iso-time']!,
  'iso-date-time': fullFormats['iso-date-time']!,
  uri: re2Of(fastFormats.uri as RegExp),
  'uri-reference': re2Of(fullFormats['uri-reference'] as RegExp),
  email: re2Of(fullFormats.email as RegExp),
  hostname: (s: string) => s.replace(/\.$/, '').length <= 253 && s.length >= 1 && HOSTNAME(s),
  ipv4: re2Of(fullFormats.ipv4 as RegExp),
  ipv6: re2Of(fullFormats.ipv6 as RegExp),
  uuid: re2Of(fullFormats.uuid as RegExp),
  int32: fullFormats.int32!,
  int64: fullFormats.int64!,
  float: fullFormats.float!,
  double: fullFormats.double!,
  password: true,
  binary: true,
};

export const SUPPORTED_FORMATS: readonly string[] = Object.keys(FORMATS);

interface Compiled {
  ajv: Ajv;
  schema: object;
  validate: ValidateFunction;
}

function newAjv(allErrors: boolean): Ajv {
  return new Ajv({
    allErrors,
    // A schema's $id must not register it in the shared instance, where
    // another account's schema could $ref it or collide with it.
    addUsedSchema: false,
    strictTypes: false,
    strictTuples: false,
    logger: false,
    formats: FORMATS,
    code: { regExp: re2 },
  });
}

export class JsonSchemaValidator {
  /**
   * ajv keeps every pattern and other value its validators use in a scope
   * shared by the instance, for as long as the instance lives: a new
   * instance is started after every maxCached compilations, and an old one
   * goes with the last of its validators to leave the cache.
   */
  private ajv: Ajv;
  private compiledByAjv = 0;
  private readonly isSecure: ValidateFunction;
  /** Compiled validators by SHA-256 of the schema text, least recently used first (a Map keeps insertion order). */
  private readonly compiled = new Map<string, Compiled>();
  private readonly maxCached: number;
  private readonly allErrors: boolean;

  /**
   * `allErrors: false` stops at a schema's first failure: for untrusted
   * schemas, as ajv's security notes advise, since collecting every error
   * lets a schema and its data grow the error list without bound.
   */
  constructor(maxCached = 500, options: { allErrors?: boolean } = {}) {
    this.maxCached = maxCached;
    this.allErrors = options.allErrors ?? true;
    this.ajv = newAjv(this.allErrors);
    this.isSecure = new Ajv({ strict: false, logger: false }).compile(secureMetaSchema);
  }

  /** How many compiled validators are kept (bounded by the constructor's maxCached). */
  get cachedValidators(): number {
    return this.compiled.size;
  }

  /** Why a value cannot serve as an event type's schema; empty when it can. */
  schemaProblems(schema: unknown): string[] {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return ['must be a JSON Schema object'];
    if (depthExceeds(schema, MAX_SCHEMA_DEPTH)) return [`must not nest deeper than ${MAX_SCHEMA_DEPTH} levels`];
    if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) return [`must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`];
    const bounds = boundProblems(schema);
    if (bounds.length) return bounds;
    try {
      this.validator(schema);
    } catch (error) {
      return [`is not a valid JSON Schema: ${(error as Error).message}`];
    }
    if (!this.isSecure(schema)) {
      return (this.isSecure.errors ?? []).map(
        (e) => `is unsafe to apply to untrusted data at ${e.instancePath || '/'}: ${e.message ?? 'invalid'} (bound strings that have a pattern or format with maxLength)`,
      );
    }
    return [];
  }

  /** Compiles the schema, or finds it compiled: validate() then only applies it. */
  prepare(schema: object): void {
    this.validator(schema);
  }

  /** The data's problems under the schema, each with its path below `prefix` (e.g. `data.amount`). */
  validate(schema: object, data: unknown, prefix: string): FieldError[] {
    const validate = this.validator(schema);
    if (validate(data)) return [];
    return (validate.errors ?? []).slice(0, MAX_REPORTED_ERRORS).map((e) => fieldError(e, prefix));
  }

  private validator(schema: object): ValidateFunction {
    const key = createHash('sha256').update(JSON.stringify(schema)).digest('base64');
    const cached = this.compiled.get(key);
    if (cached) {
      // Re-inserting keeps recently used validators last, away from eviction.
      this.compiled.delete(key);
      this.compiled.set(key, cached);
      return cached.validate;
    }
    // ajv keeps what it compiled, keyed by the schema object: a private copy
    // is compiled, so that eviction can remove exactly that entry.
    const own = structuredClone(schema);
    if (this.compiledByAjv >= this.maxCached) {
      this.ajv = newAjv(this.allErrors);
      this.compiledByAjv = 0;
    }
    const ajv = this.ajv;
    this.compiledByAjv++;
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(own);
    } catch (error) {
      ajv.removeSchema(own);
      throw error;
    }
    this.compiled.set(key, { ajv, schema: own, validate });
    if (this.compiled.size > this.maxCached) {
      const [oldestKey, oldest] = this.compiled.entries().next().value!;
      this.compiled.delete(oldestKey);
      oldest.ajv.removeSchema(oldest.schema);
    }
    return validate;
  }
}

function depthExceeds(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  return Object.values(value).some((child) => depthExceeds(child, limit - 1));
}

/** Keywords whose value is a schema, an array of schemas, or an object of schemas. */
const SCHEMA_KEYWORDS = ['additionalItems', 'additionalProperties', 'contains', 'propertyNames', 'if', 'then', 'else', 'not'];
const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf'];
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', 'definitions', 'dependencies'];
const REFUSED_KEYWORDS = ['$ref', '$dynamicRef', '$recursiveRef'];

/** Caps on what a schema may declare, walked over its subschemas (not over property names that look like keywords). */
function boundProblems(root: object): string[] {
  const problems: string[] = [];
  let subschemas = 0;
  const bound = (schema: Record<string, unknown>, path: string, keyword: string, max: number) => {
    const value = schema[keyword];
    if (typeof value === 'number' && value > max) problems.push(`${keyword} at ${path || '/'} must be at most ${max}`);
  };
  const visit = (schema: unknown, path: string): void => {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return;
    const s = schema as Record<string, unknown>;
    if (++subschemas === MAX_SUBSCHEMAS + 1) problems.push(`must have at most ${MAX_SUBSCHEMAS} subschemas`);
    for (const keyword of REFUSED_KEYWORDS) {
      if (keyword in s) problems.push(`${keyword} at ${path || '/'} is not supported: write the referenced schema out in place`);
    }
    for (const keyword of ['maxLength', 'minLength']) bound(s, path, keyword, s.format === undefined ? MAX_STRING_BOUND : MAX_FORMAT_STRING_BOUND);
    for (const keyword of ['maxItems', 'minItems', 'maxContains', 'minContains']) {
      bound(s, path, keyword, s.contains !== undefined ? MAX_CONTAINS_ITEMS_BOUND : s.uniqueItems === true ? MAX_UNIQUE_ITEMS_BOUND : MAX_ITEMS_BOUND);
    }
    if (s.contains !== undefined && typeof s.maxItems !== 'number') {
      problems.push(`contains at ${path || '/'} needs a maxItems of at most ${MAX_CONTAINS_ITEMS_BOUND}`);
    }
    for (const keyword of ['maxProperties', 'minProperties']) bound(s, path, keyword, MAX_PROPERTIES_BOUND);
    if (s.uniqueItems === true && typeof s.maxItems !== 'number') {
      problems.push(`uniqueItems at ${path || '/'} needs a maxItems of at most ${MAX_UNIQUE_ITEMS_BOUND}`);
    }
    if (typeof s.format === 'string' && !(s.format in FORMATS)) {
      problems.push(`format "${s.format.slice(0, 40)}" at ${path || '/'} is not supported; use one of ${SUPPORTED_FORMATS.join(', ')}`);
    }
    if (Array.isArray(s.enum) && s.enum.length > MAX_ENUM_VALUES) problems.push(`enum at ${path || '/'} must have at most ${MAX_ENUM_VALUES} values`);
    const patterns = [...(typeof s.pattern === 'string' ? [s.pattern] : []), ...Object.keys(asObject(s.patternProperties))];
    for (const pattern of patterns) {
      if (pattern.length > MAX_PATTERN_LENGTH) problems.push(`a pattern at ${path || '/'} must be at most ${MAX_PATTERN_LENGTH} characters`);
    }
    for (const keyword of SCHEMA_KEYWORDS) visit(s[keyword], `${path}/${keyword}`);
    for (const keyword of SCHEMA_ARRAY_KEYWORDS) {
      if (Array.isArray(s[keyword])) (s[keyword] as unknown[]).forEach((child, i) => visit(child, `${path}/${keyword}/${i}`));
    }
    if (Array.isArray(s.items)) (s.items as unknown[]).forEach((child, i) => visit(child, `${path}/items/${i}`));
    else visit(s.items, `${path}/items`);
    for (const keyword of SCHEMA_MAP_KEYWORDS) {
      for (const [name, child] of Object.entries(asObject(s[keyword]))) visit(child, `${path}/${keyword}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  };
  visit(root, '');
  return [...new Set(problems)].slice(0, MAX_REPORTED_ERRORS);
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function fieldError(error: ErrorObject, prefix: string): FieldError {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as Record<string, unknown>;
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'required' || error.keyword === 'dependencies' || error.keyword === 'dependentRequired') {
    path.push(String(params.missingProperty));
    message = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    path.push(String(params.additionalProperty));
    message = 'is not an allowed property';
  }
  return { field: [prefix, ...path].join('.'), message };
}
