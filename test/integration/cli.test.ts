import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.js';
import { describe, expect, it } from 'vitest';
import { removeDataDir, runCli, startCli } from '../support/cli.js';
import { createTestDatabase } from '../support/database.js';
import { GraphQLClient, operation } from '../support/graphql.js';

const VIEWER = operation<{ viewer: { role: string } }>('{ viewer { role } }');

describe('hookline CLI', () => {
  it('stops at start with a message naming a bad variable', async () => {
    const result = await runCli(['api'], { PORT: 'not-a-port' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid configuration: PORT must be a whole number');
  });

  it('logs JSON lines when stdout is not a terminal, readable lines with HOOKLINE_LOG_FORMAT=pretty', async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url, LOG_LEVEL: 'info', HOOKLINE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
      const json = await runCli(['migrate'], env);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout.split('\n')[0]!)).toMatchObject({ level: 30, msg: 'migrations applied' });

      const pretty = await runCli(['migrate'], { ...env, HOOKLINE_LOG_FORMAT: 'pretty' });
      expect(pretty.code).toBe(0);
      expect(pretty.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: database is up to date$/m);
      expect(pretty.stdout).not.toContain('{"level"');
    } finally {
      await database.drop();
    }
  }, 60_000);

  it('lists its commands', async () => {
    const { stdout } = await runCli(['--help'], {});
    for (const command of ['start', 'api', 'worker', 'migrate']) expect(stdout).toContain(command);
  });

  it('starts on an embedded PostgreSQL, stops cleanly on SIGINT, finds its data again, and starts again after SIGKILL', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-start-'));
    const port = await freePort();
    const env = { DATABASE_URL: '', HOOKLINE_DATA_DIR: dataDir, PORT: String(port) };

    const client = new GraphQLClient(`http://127.0.0.1:${port}/graphql`);
    const viewer = (token: string) => client.request(token, VIEWER);

    try {
      const first = await startCli(env);
      const token = /Operator token \(shown once, keep it\): (\S+)/.exec(first.output)?.[1];
      expect(token).toBeDefined();
      expect(await viewer(token!)).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
      expect(await first.stop()).toBe(0);
      expect(first.output).toContain('"msg":"stopped"');

      const second = await startCli(env);
      // The same database: no new operator token, and the first one still works.
      expect(second.output).not.toContain('Operator token');
      expect(await viewer(token!)).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
      // Killed outright, the process leaves its PostgreSQL running and holding the data.
      await second.kill();

      const third = await startCli(env);
      expect(third.output).toContain('left running by a Hookline process that was killed');
      expect(third.output).not.toContain('Operator token');
      expect(await viewer(token!)).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
      expect(await third.stop()).toBe(0);
    } finally {
      await removeDataDir(dataDir);
    }
  }, 180_000);
});
