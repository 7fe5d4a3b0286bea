import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * The select list and row mapper of an entity under a table alias, from
 * TypeORM's metadata, for hot paths written as one plain SQL statement:
 * TypeORM's find() builds and parses its query anew on every call, which
 * was a tenth of a delivery worker's time. Columns come back as
 * `<alias>_<property>`, so several entities can share one row.
 */
export interface EntityColumns<T> {
  /** `a.col AS "a_prop", …` */
  select: string;
  /** The same columns, NULL in rows where the SQL condition does not hold (an entity sent once for many rows). */
  selectWhen(condition: string): string;
  /** An entity instance from the aliased columns of a result row. */
  read(row: Record<string, unknown>): T;
  /** The entity's primary key (a uuid) in a result row, null where `selectWhen` left the entity out. */
  idOf(row: Record<string, unknown>): string | null;
  /** How many columns `select` lists. */
  width: number;
  /**
   * An entity from a row read in array mode (node-postgres's `rowMode:
   * 'array'`), its columns starting at `offset`: a claim's rows hold three
   * entities, some sixty columns, and an array of them costs far less to
   * build than an object with a property per column.
   */
  readAt(row: readonly unknown[], offset: number): T;
  /** idOf for a row read in array mode. */
  idAt(row: readonly unknown[], offset: number): string | null;
}

export function entityColumns<T extends ObjectLiteral>(db: DataSource, target: EntityTarget<T>, alias: string): EntityColumns<T> {
  const metadata = db.getMetadata(target);
  const columns = metadata.columns.map((c) => ({ property: c.propertyName, key: `${alias}_${c.propertyName}`, name: c.databaseName }));
  // Only idOf needs a primary key of one column; entities without one may still use the rest.
  const primaryKey = metadata.primaryColumns.length === 1 ? `${alias}_${metadata.primaryColumns[0]!.propertyName}` : undefined;
  const primaryKeyIndex = columns.findIndex((c) => c.key === primaryKey);
  return {
    select: columns.map((c) => `${alias}.${c.name} AS "${c.key}"`).join(', '),
    selectWhen: (condition) => columns.map((c) => `CASE WHEN ${condition} THEN ${alias}.${c.name} END AS "${c.key}"`).join(', '),
    idOf: (row) => {
      if (!primaryKey) throw new Error(`${metadata.name} has no primary key of one column`);
      return row[primaryKey] as string | null;
    },
    read(row) {
      const entity = metadata.create() as T;
      for (const c of columns) (entity as Record<string, unknown>)[c.property] = row[c.key];
      return entity;
    },
    width: columns.length,
    readAt(row, offset) {
      const entity = metadata.create() as Record<string, unknown>;
      for (let i = 0; i < columns.length; i++) entity[columns[i]!.property] = row[offset + i];
      return entity as T;
    },
    idAt(row, offset) {
      if (primaryKeyIndex < 0) throw new Error(`${metadata.name} has no primary key of one column`);
      return row[offset + primaryKeyIndex] as string | null;
    },
  };
}
