import pg from 'pg';
import { parseTimestamptz } from './timestamps.js';

/** A parameterised statement is prepared once it has been run this many times in the process. */
const PREPARE_AFTER_RUNS = 3;
/** At most this many statements are prepared, on each connection: a bound on PostgreSQL's memory per connection. */
const MAX_PREPARED = 128;
/** Statements counted but not yet prepared; past this the counts start again, so that one-off texts cannot grow it. */
const MAX_COUNTED = 2_000;
/** Statements that answer every column of a table (pg-boss's failing of jobs does). */
const RETURNS_TABLE_COLUMNS = /\bRETURNING\s+\*/i;

/**
 * Which statement texts are prepared, and under which names: the ones run
 * again and again. Shared by every connection of the process, so that a
 * text has one name everywhere; each connection prepares it on first use
 * (node-postgres keeps track of what it has prepared).
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private readonly runs = new Map<string, number>();

  constructor(
    private readonly prepareAfterRuns = PREPARE_AFTER_RUNS,
    private readonly maxPrepared = MAX_PREPARED,
    private readonly maxCounted = MAX_COUNTED,
  ) {}

  /** The name to prepare the text under, or undefined to send it unnamed (parsed and planned again). */
  nameOf(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.maxPrepared) return name;
    // A prepared statement may not change its result's columns: one whose columns are a table's would fail,
    // on every connection that prepared it, once a migration adds a column to that table.
    if (RETURNS_TABLE_COLUMNS.test(text)) return undefined;
    const runs = (this.runs.get(text) ?? 0) + 1;
    if (runs < this.prepareAfterRuns) {
      if (this.runs.size >= this.maxCounted) this.runs.clear();
      this.runs.set(text, runs);
      return undefined;
    }
    this.runs.delete(text);
    const named = `hookline_auto_${this.names.size + 1}`;
    this.names.set(text, named);
    return named;
  }

  get size(): number {
    return this.names.size;
  }
}

const processNames = new StatementNames();

type QueryCallback = (error: Error | null, result: pg.QueryResult) => void;

/**
 * A node-postgres client that prepares the parameterised statements it is
 * given again and again, under names of its own (StatementNames): such a
 * statement is parsed and planned once per connection rather than on every
 * call. PostgreSQL spent about as long planning the statements of a
 * publish and its delivery (pg-boss's job insert, fetch and completion,
 * the fan-out's and the recorder's) as running them. Statements without
 * parameters (BEGIN, COMMIT, SAVEPOINT) and those already named are sent
 * as they are. Its timestamptz values are read by parseTimestamptz. Given
 * to every pool of the process with the pool's `Client` option, pg-boss's
 * included.
 */
export class PreparingClient extends pg.Client {
  static readonly names: StatementNames = processNames;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.setTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text', parseTimestamptz);
  }

  // One signature for node-postgres's overloads: the arguments are passed on as they came, with a name added.
  override query(config: unknown, values?: unknown, callback?: unknown): never {
    const query = super.query.bind(this) as (config: unknown, values?: unknown, callback?: unknown) => never;
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      const name = PreparingClient.names.nameOf(config);
      if (name !== undefined) return query({ name, text: config, values }, undefined, callback as QueryCallback | undefined);
    } else if (isUnnamedConfig(config)) {
      const name = PreparingClient.names.nameOf(config.text);
      if (name !== undefined) return query({ ...config, name }, values, callback);
    }
    return query(config, values, callback);
  }
}

function isUnnamedConfig(config: unknown): config is pg.QueryConfig & { text: string } {
  if (typeof config !== 'object' || config === null) return false;
  const c = config as Partial<pg.QueryConfig> & { submit?: unknown };
  // A Submittable (a cursor or stream) runs its own protocol.
  return c.submit === undefined && c.name === undefined && typeof c.text === 'string' && Array.isArray(c.values) && c.values.length > 0;
}
