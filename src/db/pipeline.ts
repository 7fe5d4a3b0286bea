import pg from 'pg';
import { PreparingClient } from './prepared.js';

/** One statement of a pipelined transaction: its text and parameters, and a name to prepare it once per connection. */
export interface Statement {
  text: string;
  values?: unknown[];
  name?: string;
  /** 'array': rows as arrays of their columns' values, in order, instead of objects. */
  rowMode?: 'array';
}

/**
 * Connections whose statements are sent without waiting for the answer to
 * the one before (node-postgres's pipeline mode). A transaction whose
 * statements are all known before the first is sent (BEGIN, the writes,
 * COMMIT) then costs one round trip to PostgreSQL instead of one per
 * statement: on a shared machine every round trip costs both processes a
 * socket write and a wake-up, which were most of the API's CPU per publish.
 */
export function createPipelinedPool(url: string, max: number, applicationName: string): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max,
    Client: PreparingClient,
    pipeline: true,
    application_name: applicationName,
    // As the application's data source: a statement that outlives this is a bug or a dead database.
    statement_timeout: 30_000,
    connectionTimeoutMillis: 5_000,
  });
}

/** What a transaction sent at once answered. */
export interface AtOnceResult {
  /** The results of its statements, in order. */
  results: pg.QueryResult[];
  /** The statements sent after its COMMIT, each on its own: whether each succeeded. */
  afterCommit: boolean[];
}

/**
 * Runs the statements as one transaction, sent at once, and answers their
 * results (BEGIN and COMMIT left out) once it has committed. A failing
 * statement aborts the transaction: PostgreSQL refuses the ones after it
 * and answers the COMMIT with a rollback, so nothing of it is kept, and the
 * first error is thrown. The connection of a failed transaction is closed
 * rather than returned to the pool. `afterCommit` statements go in the same
 * write and run after the COMMIT, each in a transaction of its own; their
 * failure fails nothing.
 */
export async function transactionAtOnce(
  pool: pg.Pool,
  statements: readonly Statement[],
  afterCommit: readonly Statement[] = [],
): Promise<AtOnceResult> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    // A pipelined client writes each query as it is given; corked, they leave in one write, as
    // node-postgres does with the messages of one query: each write to a local PostgreSQL costs
    // about as much as the statement it carries.
    const stream = client.connection.stream;
    stream.cork();
    let sent: Array<Promise<pg.QueryResult>>;
    let after: Array<Promise<pg.QueryResult>>;
    try {
      sent = [client.query('START TRANSACTION'), ...statements.map((s) => client.query(s)), client.query('COMMIT')];
      after = afterCommit.map((s) => client.query(s));
    } finally {
      stream.uncork();
    }
    const [settled, afterSettled] = await Promise.all([Promise.allSettled(sent), Promise.allSettled(after)]);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    const results = (settled as Array<PromiseFulfilledResult<pg.QueryResult>>).map((s) => s.value);
    if (results.at(-1)!.command !== 'COMMIT') throw new Error('the transaction was rolled back');
    return { results: results.slice(1, -1), afterCommit: afterSettled.map((s) => s.status === 'fulfilled') };
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}
