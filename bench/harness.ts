/**
 * Processes, databases and /proc readings for the benchmark driver.
 *
 * Everything started here registers its own undo with `cleanup`, which the
 * driver runs on a normal end, an error, or SIGINT/SIGTERM. Child processes
 * get an IPC channel and a preload (guard.ts) that stops them when the
 * driver disappears without cleaning up (kill -9).
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

// Compiled to bench/out/bench/.
const OUT_DIR = import.meta.dirname;
export const BENCH_DIR = path.resolve(OUT_DIR, '..', '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
const GUARD = pathToFileURL(path.join(OUT_DIR, 'guard.js')).href;

// ------------------------------------------------------------------ cleanup

type Undo = { name: string; run: () => Promise<void> };
const undos: Undo[] = [];

export interface CleanupHandle {
  /** Runs the undo now (once) and forgets it. */
  run(): Promise<void>;
  /** Forgets it without running it: the caller has undone it already. */
  forget(): void;
}

/** Registers an undo to run at exit unless run or forgotten before. */
export function onCleanup(name: string, run: () => Promise<void>): CleanupHandle {
  const undo: Undo = { name, run };
  undos.push(undo);
  let done = false;
  const forget = () => {
    done = true;
    const i = undos.indexOf(undo);
    if (i >= 0) undos.splice(i, 1);
  };
  return {
    forget,
    run: async () => {
      if (done) return;
      forget();
      await run();
    },
  };
}

/** Runs every registered undo, newest first; errors are reported, not thrown. */
export async function cleanupAll(): Promise<void> {
  while (undos.length) {
    const undo = undos.pop()!;
    try {
      await undo.run();
    } catch (error) {
      console.error(`cleanup of ${undo.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

// ------------------------------------------------------------------ loopback only

/** The benchmark talks to this machine only: any other host is refused before a connection is made. */
export function assertLoopbackUrl(url: string): void {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) {
    throw new Error(`refusing ${host}: the benchmark only talks to 127.0.0.1`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------------ /proc

export const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

export interface ProcReading {
  /** utime + stime, seconds. */
  cpuSeconds: number;
  /** Peak resident set (VmHWM), MB. */
  peakRssMb: number;
  rssMb: number;
}

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export function readProc(pid: number): ProcReading | null {
  const f = statFields(pid);
  if (!f) return null;
  // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
  const cpuSeconds = (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  let peakRssMb = 0;
  let rssMb = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    // the process is gone
  }
  return { cpuSeconds, peakRssMb, rssMb };
}

/**
 * CPU seconds used so far by one PostgreSQL cluster: its postmaster, its
 * live children, and what the postmaster collected from children that exited.
 * On a shared server this includes other clients' databases.
 */
export function postgresCpuSeconds(postmasterPid: number): number {
  const own = statFields(postmasterPid);
  if (!own) return 0;
  let total = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === postmasterPid) total += Number(f[11]) + Number(f[12]);
  }
  return total / CLOCK_TICKS;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy: busy / CLOCK_TICKS, total: (busy + idle! + iowait!) / CLOCK_TICKS };
}

// ------------------------------------------------------------------ child processes

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
  /** Output seen so far (the first 64 KiB), to wait for a log line. */
  output(): string;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Last /proc reading taken while the process was alive. */
  lastReading: ProcReading | null;
}

function wrap(name: string, child: ChildProcess, logFile: string): Proc {
  const log = createWriteStream(logFile, { flags: 'a' });
  let seen = '';
  const collect = (chunk: Buffer) => {
    log.write(chunk);
    if (seen.length < 65_536) seen += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? -1,
    logFile,
    exited,
    output: () => seen,
    lastReading: null,
    stop: async (signal = 'SIGTERM', graceMs = 20_000) => {
      cleanup.forget();
      if (!alive) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const cleanup = onCleanup(`process ${name}`, () => proc.stop());
  return proc;
}

export interface HooklineEnv {
  databaseUrl: string;
  port: number;
  masterKey: string;
  bootstrapToken: string;
  workerConcurrency: number;
  deliveryTimeoutMs: number;
  /** HOOKLINE_RETENTION_DAYS of the processes; Hookline's default when unset. */
  retentionDays?: number;
}

function hooklineEnv(env: HooklineEnv): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    // The receiver is plain http on 127.0.0.1, which production refuses unless allowed.
    HOOKLINE_ALLOW_PRIVATE_URLS: 'true',
    // The bench publishes far above an integrator's rate limit on purpose.
    HOOKLINE_RATE_LIMIT_PER_KEY: '1000000',
    DATABASE_URL: env.databaseUrl,
    PORT: String(env.port),
    HOOKLINE_MASTER_KEY: env.masterKey,
    HOOKLINE_BOOTSTRAP_TOKEN: env.bootstrapToken,
    HOOKLINE_WORKER_CONCURRENCY: String(env.workerConcurrency),
    HOOKLINE_DELIVERY_TIMEOUT_MS: String(env.deliveryTimeoutMs),
    // Each worker process serves its metrics on a port of its own; any free one will do here.
    HOOKLINE_WORKER_PORT: '0',
    ...(env.retentionDays ? { HOOKLINE_RETENTION_DAYS: String(env.retentionDays) } : {}),
    LOG_LEVEL: 'info',
  };
}

/**
 * The checkout whose build is measured: this one unless --hookline-dir
 * names another (an earlier commit, built), so that the same bench measures
 * before and after a change.
 */
let hooklineDir = ROOT;

export function useHooklineDir(dir: string): void {
  hooklineDir = path.resolve(dir);
}

export function hooklineDirInUse(): string {
  return hooklineDir;
}

/** `node bin/hookline.js <role>` with the guard preloaded; output goes to `<logDir>/<name>.log`. */
export function spawnHookline(
  role: 'api' | 'worker' | 'migrate' | 'start',
  name: string,
  env: HooklineEnv,
  logDir: string,
  nodeArgs: string[] = [],
): Proc {
  const child = spawn(process.execPath, [...nodeArgs, '--import', GUARD, path.join(hooklineDir, 'bin', 'hookline.js'), role], {
    cwd: hooklineDir,
    env: hooklineEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return wrap(name, child, path.join(logDir, `${name}.log`));
}

/** A bench child (receiver, raw worker) from bench/out. */
export function forkBench(script: string, name: string, args: string[], logDir: string): Proc {
  const child = fork(path.join(OUT_DIR, script), args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  return wrap(name, child, path.join(logDir, `${name}.log`));
}

/** Waits until `check` is true, failing early when the process exits. */
export async function waitFor(proc: Proc, what: string, check: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new Error(`${proc.name} exited (${exitCode}) before ${what}; see ${proc.logFile}:\n${proc.output().slice(-2000)}`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${proc.name}: no ${what} after ${timeoutMs / 1000} s; see ${proc.logFile}`);
}

// ------------------------------------------------------------------ PostgreSQL

export interface Postgres {
  kind: 'server' | 'embedded';
  version: string;
  maxConnections: number;
  /** The server's postmaster, whose CPU (with its children's) is reported; 0 when unknown. */
  postmasterPid: number;
  /** pg_stat_statements is loaded, and installed in every database made by createDatabase. */
  statements: boolean;
  /** Connections open now, on every database (other clients of a shared server included). */
  connectionsInUse(): Promise<number>;
  /** A fresh database, dropped by cleanup (or by drop()). */
  createDatabase(label: string): Promise<{ name: string; url: string; drop: () => Promise<void> }>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A pool that survives its connections being ended by the server (DROP
 * DATABASE … WITH (FORCE), a restart): pg emits such errors on idle clients,
 * which would otherwise be uncaught.
 */
export function quietPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ connectionTimeoutMillis: 10_000, ...config });
  pool.on('error', (error) => {
    if (process.env.BENCH_DEBUG) console.error(`pool ${config.application_name ?? ''}: ${error.message}`);
  });
  return pool;
}

async function tryConnect(url: string): Promise<pg.Pool | null> {
  const pool = quietPool({ connectionString: url, max: 1, connectionTimeoutMillis: 3_000, application_name: 'hookline-bench-admin' });
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch {
    await pool.end().catch(() => undefined);
    return null;
  }
}

/**
 * The PostgreSQL server at `adminUrl`, or, when it does not answer and
 * `fallback` allows, an embedded PostgreSQL in a temporary directory
 * (Hookline's own startEmbeddedPostgres from dist/), removed at cleanup.
 */
export async function openPostgres(
  adminUrl: string,
  mode: 'auto' | 'server' | 'embedded',
  options: { statements?: boolean } = {},
): Promise<Postgres> {
  assertLoopbackUrl(adminUrl);
  let client = mode === 'embedded' ? null : await tryConnect(adminUrl);
  let kind: Postgres['kind'] = 'server';
  let baseUrl = adminUrl;
  if (!client) {
    if (mode === 'server') throw new Error(`no PostgreSQL answers at ${adminUrl}`);
    kind = 'embedded';
    const dataDir = await mkdtemp(path.join(tmpdir(), 'hookline-bench-pg-'));
    onCleanup('embedded PostgreSQL data', () => rm(dataDir, { recursive: true, force: true }));
    const embeddedModule = pathToFileURL(path.join(ROOT, 'dist', 'src', 'db', 'embedded.js')).href;
    const { startEmbeddedPostgres } = (await import(embeddedModule)) as {
      startEmbeddedPostgres(options: { dataDir: string; persistent?: boolean }): Promise<{ url: string; stop(): Promise<void> }>;
    };
    console.log(
      mode === 'embedded'
        ? `  starting an embedded PostgreSQL in ${dataDir}`
        : `No PostgreSQL at ${adminUrl}: starting an embedded one in ${dataDir}`,
    );
    // Kept on stop (persistent): the whole temporary directory is removed at cleanup instead.
    let embedded = await startEmbeddedPostgres({ dataDir, persistent: true });
    if (options.statements) {
      // pg_stat_statements must be preloaded: set it, then start the server again.
      const setup = await tryConnect(withDatabase(embedded.url, 'postgres'));
      await setup?.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
      // Planning time too: a statement that is parsed and planned on every call pays it each time.
      await setup?.query(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
      await setup?.end();
      await embedded.stop();
      embedded = await startEmbeddedPostgres({ dataDir, persistent: true });
    }
    const running = embedded;
    // Registered after the data-directory removal so that it runs first.
    onCleanup('embedded PostgreSQL', () => running.stop());
    baseUrl = withDatabase(embedded.url, 'postgres');
    client = await tryConnect(baseUrl);
    if (!client) throw new Error('the embedded PostgreSQL does not answer');
  }
  const admin = client;
  onCleanup('admin connection', () => admin.end());
  const version = ((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?').split(' ')[0]!;
  const maxConnections = Number((await admin.query<{ max_connections: string }>('SHOW max_connections')).rows[0]?.max_connections ?? 0);
  const suffix = Math.random().toString(36).slice(2, 8);

  // Databases of an earlier bench that was killed (kill -9) before it could drop them:
  // none of a running bench's databases is without connections for long.
  const orphans = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database d
     WHERE datname LIKE 'hookline\\_bench\\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
  );
  for (const { datname } of orphans.rows) {
    console.log(`dropping ${datname}, left over by an interrupted bench`);
    await admin.query(`DROP DATABASE IF EXISTS "${datname}"`);
  }

  const statements = kind === 'embedded' && options.statements === true;
  // The admin connection's backend is a child of the postmaster.
  const backendPid = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  const postmasterPid = Number(statFields(backendPid)?.[1] ?? 0);
  return {
    kind,
    version,
    maxConnections,
    statements,
    postmasterPid,
    async connectionsInUse() {
      return (
        (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = $1', ['client backend'])).rows[0]
          ?.n ?? 0
      );
    },
    async createDatabase(label: string) {
      const name = `hookline_bench_${suffix}_${label.replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
      if (statements) {
        const db = await tryConnect(withDatabase(baseUrl, name));
        await db?.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        await db?.end();
      }
      const cleanup = onCleanup(`database ${name}`, async () => {
        // Connections of processes that just exited linger for a moment; FORCE ends what is left after 3 s.
        for (let i = 0; i < 30; i++) {
          const open = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (!open.rows[0]?.n) break;
          await sleep(100);
        }
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
      return { name, url: withDatabase(baseUrl, name), drop: () => cleanup.run() };
    },
  };
}
