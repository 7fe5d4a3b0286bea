import type { SelectQueryBuilder } from 'typeorm';
import { InputError } from './errors.js';
import { isUuid } from './ids.js';

export interface Page<T> {
  nodes: T[];
  /** Counts every row of the filter; run only when a client asks for it, as it is the costly part. */
  totalCount: () => Promise<number>;
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

/**
 * How a keyset page is ordered: the column, newest first, and the condition
 * that keeps the rows after the cursor's row (whose id is `:cursor`).
 */
export interface KeysetOrder {
  column: string;
  after: string;
}

/**
 * One page of a filtered query, newest first, keyset-paginated on the
 * time-ordered id (`alias.id`) unless another order is given, with the total
 * of the filter. The cursor is always the last row's id.
 */
export async function keysetPage<T extends { id: string }>(
  query: SelectQueryBuilder<T>,
  alias: string,
  first: number,
  after: string | null | undefined,
  order: KeysetOrder = { column: `${alias}.id`, after: `${alias}.id < :cursor` },
): Promise<Page<T>> {
  const count = query.clone();
  const cursor = decodeCursor(after, 'after');
  if (cursor) query.andWhere(order.after, { cursor });
  const rows = await query
    .orderBy(order.column, 'DESC')
    .limit(first + 1)
    .getMany();
  const nodes = rows.slice(0, first);
  return {
    nodes,
    totalCount: () => count.getCount(),
    hasNextPage: rows.length > first,
    endCursor: nodes.length ? encodeCursor(nodes[nodes.length - 1]!.id) : null,
  };
}
