import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freePort } from '../../src/db/embedded.js';
import { TEST_RATE_LIMITS, createKey, startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

// `npm test` builds first; the second API process is the compiled CLI, as deployed.
const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;
// Reads nothing of the key itself (viewer would), so that only authentication can refuse it.
const PROBE = '{ eventTypes(channel: "invoices") { name } }';
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

describe('authentication with API keys cached in every API process', () => {
  let t: TestApp;
  let acme: Tenant;
  let sql: pg.Client;
  let other: ChildProcess;
  let otherUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ role: 'api' });
    acme = await tenant(t);
    sql = new pg.Client({ connectionString: t.database.url });
    await sql.connect();
    const port = await freePort();
    otherUrl = `http://127.0.0.1:${port}/graphql`;
    other = spawn(process.execPath, [cli, 'api'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        DATABASE_URL: t.database.url,
        PORT: String(port),
        HOOKLINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
        ...TEST_RATE_LIMITS,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    other.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    other.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!output.includes('GraphQL API listening')) {
      if (Date.now() > deadline || other.exitCode !== null) throw new Error(`the second API process did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Both processes' key listeners connect during start-up (on a busy machine, maybe a moment later).
    await waitFor(async () => (await listenerPids()).length === 2, 30_000);
  }, 60_000);
  afterAll(async () => {
    if (other && other.exitCode === null) {
      const exited = new Promise((resolve) => other.once('exit', resolve));
      other.kill('SIGTERM');
      await exited;
    }
    await sql?.end();
    await t?.stop();
  });

  async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The backends of both processes' key listeners: on this file's database only, as other files run API processes of their own meanwhile. */
  async function listenerPids(): Promise<number[]> {
    const { rows } = await sql.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'hookline-api-keys' AND datname = current_database()`,
    );
    return rows.map((r: { pid: number }) => r.pid);
  }

  async function onOther<T = { eventTypes: Array<{ name: string }> }>(
    token: string,
    query = PROBE,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResult<T>> {
    const response = await fetch(otherUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResult<T>;
  }

  let published = 0;
  /** A publish of a new invoice through the other process (or this one); its invoiceId marks what it would store. */
  function publish(token: string, where: 'other' | 'this' = 'other'): { invoiceId: string; result: Promise<GraphQLResult> } {
    const invoiceId = `auth-cache-${(published += 1)}`;
    const variables = { input: { type: 'invoices.created', data: { invoiceId } } };
    return { invoiceId, result: where === 'other' ? onOther(token, PUBLISH, variables) : t.gql(token, PUBLISH, variables) };
  }

  async function stored(invoiceId: string): Promise<number> {
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM events WHERE data->>'invoiceId' = $1`, [invoiceId]);
    return rows[0].n as number;
  }

  /** A key that both processes have authenticated, so that both caches hold it. */
  async function usedOnBoth(): Promise<string> {
    const token = await createKey(t, acme.adminToken, 'PUBLISHER');
    for (let i = 0; i < 3; i += 1) {
      expect((await onOther(token)).data?.eventTypes).toContainEqual({ name: 'invoices.paid' });
      expect((await t.ok<{ eventTypes: unknown[] }>(token, PROBE)).eventTypes).toContainEqual({ name: 'invoices.paid' });
      for (const where of ['other', 'this'] as const) {
        const { invoiceId, result } = publish(token, where);
        expect((await result).errors).toBeUndefined();
        expect(await stored(invoiceId)).toBe(1);
      }
    }
    return token;
  }

  /**
   * Asked once, right after the revocation committed (no waiting for the
   * notification): a publish is refused and stores nothing, and so is any
   * other operation, in both processes.
   */
  async function refusedAtOnce(token: string): Promise<void> {
    for (const where of ['other', 'this'] as const) {
      const { invoiceId, result } = publish(token, where);
      expect((await result).errors?.[0]?.extensions?.code, `publish through ${where} process`).toBe('UNAUTHENTICATED');
      expect(await stored(invoiceId)).toBe(0);
    }
    expect((await onOther(token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.gql(token, PROBE)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  }

  async function keyIdOf(token: string): Promise<string> {
    const { rows } = await sql.query(`SELECT id FROM api_keys WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, [token]);
    return rows[0].id as string;
  }

  /** A revocation whose notification nobody hears: the caches keep the key, so only the database can refuse it. */
  async function revokeUnheard(token: string): Promise<void> {
    await sql.query('ALTER TABLE api_keys DISABLE TRIGGER api_keys_notify_change');
    try {
      await sql.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [await keyIdOf(token)]);
    } finally {
      await sql.query('ALTER TABLE api_keys ENABLE TRIGGER api_keys_notify_change');
    }
  }

  it('refuses a key revoked through one process at once in the other', async () => {
    const token = await usedOnBoth();
    const id = await keyIdOf(token);
    await t.ok(acme.adminToken, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id });
    await refusedAtOnce(token);
  });

  it('refuses a key revoked in the database by any other means at once', async () => {
    const token = await usedOnBoth();
    await sql.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [await keyIdOf(token)]);
    await refusedAtOnce(token);
  });

  it('refuses a revoked key even while the caches still hold it: publishing checks the key in its own transaction, the rest read it', async () => {
    const token = await usedOnBoth();
    await revokeUnheard(token);
    await refusedAtOnce(token);
    // A live key still publishes through both processes.
    for (const where of ['other', 'this'] as const) {
      const { invoiceId, result } = publish(acme.adminToken, where);
      expect((await result).errors).toBeUndefined();
      expect(await stored(invoiceId)).toBe(1);
    }
  });

  it('stops trusting its cache when its listening connection is lost, and takes it up again once listening', async () => {
    const token = await usedOnBoth();
    // Both processes lose their listeners; the other process is the one asked below.
    const pids = await listenerPids();
    expect(pids).toHaveLength(2);
    for (const pid of pids) await sql.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
    await waitFor(async () => (await listenerPids()).every((pid) => !pids.includes(pid)));
    await revokeUnheard(token);
    await refusedAtOnce(token);
    // Once it listens again it starts from an empty cache: still refused, and a live key still works.
    await waitFor(async () => (await listenerPids()).length === 2, 30_000);
    await refusedAtOnce(token);
    expect((await onOther(acme.adminToken)).data?.eventTypes).toContainEqual({ name: 'invoices.paid' });
  });
});
