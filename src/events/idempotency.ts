import { createHash } from 'node:crypto';
import stableStringify from 'fast-json-stable-stringify';

/**
 * What an idempotency key was used for, as the SHA-256 of the canonical JSON
 * (object keys sorted) of the type and the data: a repeat of the same event
 * hashes the same whatever order its fields were written in, and another
 * type or other data hashes differently.
 */
export function idempotencyHash(type: string, data: unknown): string {
  return createHash('sha256')
    .update(stableStringify([type, data]), 'utf8')
    .digest('hex');
}
