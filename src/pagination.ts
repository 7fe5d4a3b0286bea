import { InputError } from './errors.js';
import { isUuid } from './ids.js';

export interface Page<T> {
  nodes: T[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

export const MAX_PAGE_SIZE = 500;

/** Cursors are opaque to clients: the base64url of the last row's time-ordered id. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined, field: string): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw InputError.field(field, 'is not a cursor returned by this API');
  return id;
}

export function checkPageSize(first: number, field = 'first'): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw InputError.field(field, `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return first;
}
