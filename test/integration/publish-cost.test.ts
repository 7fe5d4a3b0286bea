import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PROBE_SQL } from '../../src/accounts/key-cache.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { duplicate } }';
/** The first words of pg-boss's insert of jobs. */
const JOB_INSERT = 'INSERT INTO pgboss.job_common';
const PUBLISH_EVENTS = 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { acceptedCount } }';

/**
 * Every statement sent to PostgreSQL from this process (the service runs in
 * it), by wrapping the pg client's query: TypeORM, pg-boss and the
 * listeners all go through it.
 */
class StatementLog {
  statements: string[] = [];
  private readonly original = pg.Client.prototype.query;

  install(): void {
    const log = this.statements;
    const original = this.original;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      log.push(typeof config === 'string' ? config : (config?.text ?? ''));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query;
  }

  uninstall(): void {
    pg.Client.prototype.query = this.original;
  }

  /** The statements of one operation, without the wake-up NOTIFY sent after its commit and the key listener's probes (not part of the request). */
  async during(work: () => Promise<unknown>): Promise<string[]> {
    this.statements.length = 0;
    await work();
    // Let anything the request set off after its answer reach the log.
    await new Promise((r) => setTimeout(r, 100));
    return this.statements.filter((s) => !s.includes('pg_notify') && s !== PROBE_SQL).map((s) => s.replace(/\s+/g, ' ').trim());
  }
}

describe('what a publish costs in statements', () => {
  let t: TestApp;
  let acme: Tenant;
  const log = new StatementLog();

  beforeAll(async () => {
    // A window longer than the file: the warm-up takes this process's share of the key's budget, which then lasts.
    t = await startTestApp({ role: 'api', env: { HOOKLINE_RATE_LIMIT_WINDOW_SECONDS: '3600' } });
    acme = await tenant(t);
    await acme.subscribe({ url: 'http://127.0.0.1:9/cost', channels: ['invoices'] });
    // Warm up: the first request of a key writes its lastUsedAt and reads the built-in catalog.
    await t.ok(acme.adminToken, PUBLISH, { input: { type: 'invoices.created', data: { invoiceId: 'warm-up' } } });
    log.install();
  });
  afterEach(() => {
    log.statements.length = 0;
  });
  afterAll(async () => {
    log.uninstall();
    await t?.stop();
  });

  it('reads the key from the database for every operation but publishing, even when the key cache knows it', async () => {
    const statements = await log.during(() => t.ok(acme.adminToken, '{ eventTypes(channel: "invoices") { name } }'));
    expect(statements.filter((s) => s.includes('api_keys'))).toEqual([
      expect.stringMatching(/^SELECT .* FROM api_keys k WHERE k\.token_hash = \$1$/),
    ]);
  });

  /** The first words of each statement: enough to name it. */
  const heads = (statements: string[]) => statements.map((s) => s.split(' ').slice(0, 3).join(' '));
  /** The upsert of a key's rate-limit counter: once per share of the key's budget that this process takes, not per request. */
  const RATE_LIMIT = 'INSERT INTO "rate_limits"';
  /**
   * A publish: the transaction, its event insert (which checks the key, see below) and the insert of the
   * events' pg-boss jobs (one statement for the queue the events go to). The channel rules are the fan-out
   * workers' business: the API reads no subscription and writes no delivery.
   */
  const PUBLISH_STATEMENTS = ['START TRANSACTION', 'WITH caller AS', JOB_INSERT, 'COMMIT'];
  /** The key of a publish is read in no statement of its own: the event insert checks it is not revoked. */
  const keyChecks = (statements: string[]) => statements.filter((s) => s.includes('api_keys'));
  const EVENT_INSERT_CHECKING_THE_KEY = expect.stringMatching(
    /^WITH caller AS \(SELECT \$8::uuid IS NULL OR EXISTS \(SELECT 1 FROM api_keys k WHERE k\.id = \$8 AND k\.revoked_at IS NULL\) AS live\), stored AS \( INSERT INTO events /,
  );

  it('publishes one event in four statements, the transaction with the event and its job, counting the request against its share of the key budget', async () => {
    const statements = await log.during(() => t.ok(acme.adminToken, PUBLISH, { input: { type: 'invoices.created', data: { invoiceId: 'I-1' } } }));
    expect(keyChecks(statements)).toEqual([EVENT_INSERT_CHECKING_THE_KEY]);
    expect(heads(statements)).toEqual(PUBLISH_STATEMENTS);
    expect(statements.filter((s) => s.startsWith(RATE_LIMIT))).toEqual([]);
  });

  it('publishes a batch in as many statements as a single event, whatever its size', async () => {
    const batch = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        type: i % 2 ? 'invoices.created' : 'invoices.updated',
        data: { invoiceId: `B-${n}-${i}` },
        idempotencyKey: `b-${n}-${i}`,
      }));
    const ten = await log.during(() => t.ok(acme.adminToken, PUBLISH_EVENTS, { inputs: batch(10) }));
    const fiveHundred = await log.during(() => t.ok(acme.adminToken, PUBLISH_EVENTS, { inputs: batch(500) }));
    expect(heads(ten)).toEqual(PUBLISH_STATEMENTS);
    expect(heads(fiveHundred)).toEqual(PUBLISH_STATEMENTS);
    expect(keyChecks(fiveHundred)).toEqual([EVENT_INSERT_CHECKING_THE_KEY]);
    // Repeating every key stores nothing new: one read of the first events replaces the queueing.
    const repeated = await log.during(() => t.ok(acme.adminToken, PUBLISH_EVENTS, { inputs: batch(500) }));
    expect(heads(repeated)).toEqual(['START TRANSACTION', 'WITH caller AS', 'SELECT e.id AS', 'COMMIT']);
  });
});
