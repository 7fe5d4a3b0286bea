import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * pg-boss's connections carry the bound of a fan-out batch's transaction
 * themselves, so that no batch spends a statement on it: a transaction that
 * sits idle for longer than a batch may take (a handler that hangs with it
 * open) is ended by PostgreSQL.
 */
describe("pg-boss's connections", () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('are set to end a transaction left idle for longer than a fan-out batch may take', async () => {
    const { rows } = (await t.app.boss.getDb().executeSql('SHOW idle_in_transaction_session_timeout')) as {
      rows: Array<{ idle_in_transaction_session_timeout: string }>;
    };
    expect(rows[0]!.idle_in_transaction_session_timeout).toBe('65s');
  });
});
