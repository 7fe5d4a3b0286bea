import { freePort } from '../../src/db/embedded.js';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { GraphQLClient } from '../support/graphql.js';

const BOOTSTRAP_TOKEN = 'hkl_operator-token-given-in-the-environment-0042';
const METRICS_TOKEN = 'metrics-token-given-in-the-environment-0042';
const MASTER_KEY = Buffer.alloc(32, 42).toString('base64');

/** The URL with a password in it: the embedded server's own, or one a trusting server ignores. */
function withPassword(url: string): { url: string; password: string } {
  const u = new URL(url);
  if (!u.password) u.password = 'database-password-given-in-the-environment';
  return { url: u.toString(), password: decodeURIComponent(u.password) };
}

/**
 * Nothing given in the environment as a secret reaches the output of any
 * command, whatever the log level and format: not the bootstrap token, the
 * metrics token, the master key or the database password.
 */
describe('secrets given in the environment', () => {
  const databases: TestDatabase[] = [];
  let secrets: string[];
  const env = async () => {
    const database = await createTestDatabase();
    databases.push(database);
    const { url, password } = withPassword(database.url);
    secrets = [BOOTSTRAP_TOKEN, METRICS_TOKEN, MASTER_KEY, password];
    return {
      DATABASE_URL: url,
      HOOKLINE_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
      HOOKLINE_METRICS_TOKEN: METRICS_TOKEN,
      HOOKLINE_MASTER_KEY: MASTER_KEY,
      LOG_LEVEL: 'trace',
    };
  };
  const expectNoSecret = (output: string) => {
    for (const secret of secrets) expect(output).not.toContain(secret);
  };

  afterAll(async () => {
    for (const database of databases) await database.drop();
  });

  it('are never printed by migrate, which mints the operator key from the bootstrap token', async () => {
    for (const format of ['json', 'pretty']) {
      const result = await runCli(['migrate'], { ...(await env()), HOOKLINE_LOG_FORMAT: format });
      expect(result.code, result.stderr).toBe(0);
      const output = result.stdout + result.stderr;
      expect(output).toContain('Operator key created with the token in HOOKLINE_BOOTSTRAP_TOKEN (not shown)');
      expectNoSecret(output);
    }
  });

  it('are never printed or logged by a server that mints the key, serves requests and stops', async () => {
    const port = await freePort();
    const cli = await startCli({ ...(await env()), PORT: String(port) });
    try {
      const client = new GraphQLClient(`http://127.0.0.1:${port}/graphql`);
      expect((await client.ok<{ viewer: { role: string } }>(BOOTSTRAP_TOKEN, '{ viewer { role } }')).viewer.role).toBe('OPERATOR');
      // A wrong token and a bad query are logged as refusals, with nothing of what was sent.
      await client.request(`${BOOTSTRAP_TOKEN}x`, '{ viewer { role } }');
      await client.request(BOOTSTRAP_TOKEN, `{ nope(token: "${BOOTSTRAP_TOKEN}") }`);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(metrics.status).toBe(200);
    } finally {
      await cli.stop();
    }
    expect(cli.output).toContain('(not shown)');
    expectNoSecret(cli.output);
  }, 90_000);

  it('are not echoed when they are invalid', async () => {
    const badMetricsToken = 'has a space in it but is long enough';
    const badMasterKey = Buffer.alloc(31, 42).toString('base64');
    for (const [variable, value] of [
      ['HOOKLINE_METRICS_TOKEN', badMetricsToken],
      ['HOOKLINE_MASTER_KEY', badMasterKey],
      ['HOOKLINE_BOOTSTRAP_TOKEN', 'short-secret'],
    ] as const) {
      const result = await runCli(['api'], { [variable]: value });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`Invalid configuration: ${variable}`);
      expect(result.stdout + result.stderr).not.toContain(value);
    }
  });
});
