import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freePort } from '../../src/db/embedded.js';
import { createKey, startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { tenant, type Tenant } from '../support/scenario.js';

// `npm test` builds first; the second API process is the compiled CLI, as deployed.
const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;
// Reads nothing of the key itself (viewer would), so that only authentication can refuse it.
const PROBE = '{ eventTypes(channel: "invoices") { name } }';

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

  /** The backends of both processes' key listeners. */
  async function listenerPids(): Promise<number[]> {
    const { rows } = await sql.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'hookline-api-keys'`);
    return rows.map((r: { pid: number }) => r.pid);
  }

  async function onOther(token: string): Promise<GraphQLResult<{ eventTypes: Array<{ name: string }> }>> {
    const response = await fetch(otherUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: PROBE }),
    });
    return (await response.json()) as GraphQLResult<{ eventTypes: Array<{ name: string }> }>;
  }

  async function usedOnBoth(): Promise<string> {
    const token = await createKey(t, acme.adminToken, 'PUBLISHER');
    for (let i = 0; i < 3; i += 1) {
      expect((await onOther(token)).data?.eventTypes).toContainEqual({ name: 'invoices.paid' });
      expect((await t.ok<{ eventTypes: unknown[] }>(token, PROBE)).eventTypes).toContainEqual({ name: 'invoices.paid' });
    }
    return token;
  }

  /**
   * The notification reaches the other process a moment after the revoking
   * commit (on a loaded machine, some milliseconds): allow it that, and far
   * less than the cache's 30 s lifetime, so that only the notification (or
   * the cache switching itself off) can pass this.
   */
  async function refusedAtOnce(ask: () => Promise<GraphQLResult>): Promise<void> {
    const deadline = Date.now() + 3_000;
    for (;;) {
      const code = (await ask()).errors?.[0]?.extensions?.code;
      if (code === 'UNAUTHENTICATED') return;
      if (Date.now() > deadline) throw new Error(`the revoked key was still accepted (${String(code)})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async function keyIdOf(token: string): Promise<string> {
    const { rows } = await sql.query(`SELECT id FROM api_keys WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, [token]);
    return rows[0].id as string;
  }

  it('refuses a key revoked through one process at once in the other', async () => {
    const token = await usedOnBoth();
    const id = await keyIdOf(token);
    await t.ok(acme.adminToken, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id });
    await refusedAtOnce(() => onOther(token));
    await refusedAtOnce(() => t.gql(token, PROBE));
  });

  it('refuses a key revoked in the database by any other means at once', async () => {
    const token = await usedOnBoth();
    await sql.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [await keyIdOf(token)]);
    await refusedAtOnce(() => onOther(token));
    await refusedAtOnce(() => t.gql(token, PROBE));
  });

  it('stops trusting its cache when its listening connection is lost, so a notification missed meanwhile keeps no revoked key alive', async () => {
    const token = await usedOnBoth();
    // Both processes lose their listeners; the other process is the one asked below.
    const pids = await listenerPids();
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) await sql.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
    await waitFor(async () => (await listenerPids()).every((pid) => !pids.includes(pid)));
    // A revocation whose notification nobody hears.
    await sql.query('ALTER TABLE api_keys DISABLE TRIGGER api_keys_notify_change');
    try {
      await sql.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [await keyIdOf(token)]);
    } finally {
      await sql.query('ALTER TABLE api_keys ENABLE TRIGGER api_keys_notify_change');
    }
    await refusedAtOnce(() => onOther(token));
    // Once it listens again it starts from an empty cache: still refused, and a live key still works.
    await waitFor(async () => (await listenerPids()).length === 2, 30_000);
    expect((await onOther(token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await onOther(acme.adminToken)).data?.eventTypes).toContainEqual({ name: 'invoices.paid' });
  });
});
