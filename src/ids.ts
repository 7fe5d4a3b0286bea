import { v7 as uuidv7, validate as uuidValidate } from 'uuid';

/** Time-ordered ids: id order is creation order, which keyset pagination and queue ordering rely on. */
export function newId(): string {
  return uuidv7();
}

/** Ids from clients are checked before they reach a uuid column, where a malformed one would be an SQL error. */
export function isUuid(value: string): boolean {
  return uuidValidate(value);
}
