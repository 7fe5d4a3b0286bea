import { NotFoundError } from '../errors.js';

/**
 * For queries whose schema type is nullable: an id that does not exist (or
 * belongs to another account or environment) answers null instead of an
 * error. Mutations keep NOT_FOUND.
 */
export async function nullWhenNotFound<T>(lookup: Promise<T>): Promise<T | null> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}
