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
  /** The entity's primary key in a result row, NULL where `selectWhen` left the entity out. */
  idOf(row: Record<string, unknown>): unknown;
}

export function entityColumns<T extends ObjectLiteral>(db: DataSource, target: EntityTarget<T>, alias: string): EntityColumns<T> {
  const metadata = db.getMetadata(target);
  const columns = metadata.columns.map((c) => ({ property: c.propertyName, key: `${alias}_${c.propertyName}`, name: c.databaseName }));
  const [primary] = metadata.primaryColumns;
  if (!primary || metadata.primaryColumns.length > 1) throw new Error(`${metadata.name} needs a primary key of one column`);
  const primaryKey = `${alias}_${primary.propertyName}`;
  return {
    select: columns.map((c) => `${alias}.${c.name} AS "${c.key}"`).join(', '),
    selectWhen: (condition) => columns.map((c) => `CASE WHEN ${condition} THEN ${alias}.${c.name} END AS "${c.key}"`).join(', '),
    idOf: (row) => row[primaryKey],
    read(row) {
      const entity = metadata.create() as T;
      for (const c of columns) (entity as Record<string, unknown>)[c.property] = row[c.key];
      return entity;
    },
  };
}
