import { parentPort } from 'node:worker_threads';

/**
 * The thread that checks data against tenants' JSON Schemas, so that
 * however long one check takes, the process's event loop (and every other
 * tenant's request, and /healthz) goes on; the pool ends a check that
 * passes its deadline by ending the thread.
 */

export type SchemaRequest =
  | { id: number; kind: 'problems'; schema: unknown }
  | { id: number; kind: 'validate'; schema: object; data: unknown; prefix: string };

export interface SchemaResponse {
  id: number;
  /** Set on the message that says the schema is compiled and the data is being checked. */
  compiled?: true;
  result?: unknown;
}

// From the sources (tests) the module is a .ts file, from the build a .js one.
const moduleUrl = new URL(import.meta.url.endsWith('.ts') ? './json-schema.ts' : './json-schema.js', import.meta.url);
const { JsonSchemaValidator } = (await import(moduleUrl.href)) as typeof import('./json-schema.js');
const validator = new JsonSchemaValidator(500, { allErrors: false });

parentPort!.on('message', (request: SchemaRequest) => {
  if (request.kind === 'problems') {
    parentPort!.postMessage({ id: request.id, result: validator.schemaProblems(request.schema) } satisfies SchemaResponse);
    return;
  }
  // Compiling is bounded by the schema's caps, checking by the data too: the pool gives each its own deadline.
  try {
    validator.prepare(request.schema);
  } catch {
    // A stored schema that no longer compiles fails in validate() below, with its message.
  }
  parentPort!.postMessage({ id: request.id, compiled: true } satisfies SchemaResponse);
  parentPort!.postMessage({ id: request.id, result: validator.validate(request.schema, request.data, request.prefix) } satisfies SchemaResponse);
});
parentPort!.postMessage({ id: 0, result: 'ready' } satisfies SchemaResponse);
