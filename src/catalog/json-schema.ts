import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FieldError } from '../errors.js';

/**
 * JSON Schema (draft-07) for event data, with ajv. Accounts define their
 * own schemas, so a schema is untrusted input here: it is bounded in size
 * and depth and must pass ajv's "secure" meta-schema (a pattern or format
 * only on strings of bounded length), as ajv's security notes advise.
 */

export const MAX_SCHEMA_BYTES = 32 * 1024;
export const MAX_SCHEMA_DEPTH = 32;
/** More than this many problems in one payload says little more. */
const MAX_REPORTED_ERRORS = 20;

const require = createRequire(import.meta.url);
const secureMetaSchema = require('ajv/dist/refs/json-schema-secure.json') as Record<string, unknown>;

export class JsonSchemaValidator {
  private readonly ajv: Ajv;
  private readonly isSecure: ValidateFunction;
  /** Compiled validators by schema text: compiling is far slower than validating. */
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly maxCached = 1000) {
    this.ajv = new Ajv({
      allErrors: true,
      // A schema's $id must not register it in the shared instance, where
      // another account's schema could $ref it or collide with it.
      addUsedSchema: false,
      strictTypes: false,
      strictTuples: false,
      logger: false,
    });
    addFormats.default(this.ajv);
    this.isSecure = new Ajv({ strict: false, logger: false }).compile(secureMetaSchema);
  }

  /** Why a value cannot serve as an event type's schema; empty when it can. */
  schemaProblems(schema: unknown): string[] {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return ['must be a JSON Schema object'];
    if (depthExceeds(schema, MAX_SCHEMA_DEPTH)) return [`must not nest deeper than ${MAX_SCHEMA_DEPTH} levels`];
    if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) return [`must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`];
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

  /** The data's problems under the schema, each with its path below `prefix` (e.g. `data.amount`). */
  validate(schema: object, data: unknown, prefix: string): FieldError[] {
    const validate = this.validator(schema);
    if (validate(data)) return [];
    return (validate.errors ?? []).slice(0, MAX_REPORTED_ERRORS).map((e) => fieldError(e, prefix));
  }

  private validator(schema: object): ValidateFunction {
    const key = JSON.stringify(schema);
    const cached = this.compiled.get(key);
    if (cached) {
      // Map order is insertion order: re-inserting keeps recently used validators last, away from eviction.
      this.compiled.delete(key);
      this.compiled.set(key, cached);
      return cached;
    }
    const validate = this.ajv.compile(schema);
    this.compiled.set(key, validate);
    if (this.compiled.size > this.maxCached) this.compiled.delete(this.compiled.keys().next().value!);
    return validate;
  }
}

function depthExceeds(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  return Object.values(value).some((child) => depthExceeds(child, limit - 1));
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
