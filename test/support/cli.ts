import { execFile, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

// `npm test` builds first; these run the compiled CLI exactly as `hookline` does.
export const cli = new URL('../../bin/hookline.js', import.meta.url).pathname;
export const compiledMain = new URL('../../dist/src/main.js', import.meta.url).pathname;

const execFileAsync = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end; a non-zero exit is a result, not an exception. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, node = process.execPath, nodeArgs: string[] = [cli]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(node, [...nodeArgs, ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface RunningCli {
  readonly output: string;
  readonly pid: number;
  /** SIGINT, as Ctrl-C sends; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no chance to clean up. */
  kill(): Promise<void>;
}

/** `hookline start` (or another role), resolved once the API listens. */
export async function startCli(env: NodeJS.ProcessEnv, role = 'start'): Promise<RunningCli> {
  const child = spawn(process.execPath, [cli, role], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!output.includes('GraphQL API listening')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      // SIGINT, so that it stops its embedded PostgreSQL rather than leave it running.
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      child.kill('SIGKILL');
      throw new Error(`hookline ${role} did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    get output() {
      return output;
    },
    pid: child.pid!,
    async stop() {
      child.kill('SIGINT');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A stack trace line, as Node prints them: what a start-up failure must never show. */
export const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

/**
 * Removes a data folder and, when root's server user kept the cluster in a
 * folder of its own (recorded in pg-cluster), that folder too.
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  const cluster = (await readFile(path.join(dataDir, 'pg-cluster'), 'utf8').catch(() => '')).trim();
  if (cluster) await rm(cluster, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
}
