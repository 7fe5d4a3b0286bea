/** A value of an array parameter: uuid, text, integer, boolean or timestamptz elements. */
export type ArrayElement = string | number | boolean | Date | null | undefined;

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

function element(value: ArrayElement): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return NEEDS_ESCAPE.test(value) ? `"${value.replace(ESCAPED, '\\$&')}"` : `"${value}"`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  // An instant in UTC: only for timestamptz arrays (a timestamp without time zone would read it as local time).
  return `"${value.toISOString()}"`;
}

/**
 * The PostgreSQL array literal of the values (`{"a","b",NULL}`), for the
 * array parameters of the statements that every delivery runs. node-postgres
 * builds the same text by appending each element, escaped with two regular
 * expressions, to a growing string; for the dozen arrays of every recorded
 * group and fan-out that was a tenth of what a delivery worker allocates,
 * and so of its garbage collection. Here each element is quoted once, and
 * escaped only when it holds a quote or a backslash, and the parts are
 * joined into one string.
 */
export function arrayLiteral(values: readonly ArrayElement[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) parts[i] = element(values[i]);
  return `{${parts.join(',')}}`;
}
