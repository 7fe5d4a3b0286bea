import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * What `hookline listen` keeps between runs, one file per --name: the
 * subscription it created and its signing secret, so that a listen killed
 * without cleaning up (SIGKILL, a closed laptop) resumes the same
 * subscription, with the deliveries that waited and the secret the local
 * app already has. The secret is why the file is private to its user.
 */
export interface ListenState {
  version: 1;
  name: string;
  /** The API URL the subscription lives on. */
  api: string;
  accountId: string;
  environment: string;
  subscriptionId: string;
  secret: string;
  channels: string[];
  events: string[];
  expireAfterIdleSeconds: number | null;
  /** The listen process that uses the subscription, so that a second one with the same name can be refused. */
  pid: number;
  hostname: string;
  createdAt: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A --name becomes part of a file name: letters, digits, dot, dash and underscore only. */
export function isValidListenName(name: string): boolean {
  return NAME.test(name);
}

/** $XDG_STATE_HOME/hookline, or ~/.local/state/hookline (the XDG default) when it is unset, empty or relative. */
export function stateDirectory(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'state');
  return path.join(base, 'hookline');
}

export function stateFilePath(name: string, env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  if (!isValidListenName(name)) throw new RangeError(`invalid listen name: ${name}`);
  return path.join(stateDirectory(env, home), `listen-${name}.json`);
}

/** The state in a file's text, or null when the text is not a state this version wrote. */
export function parseState(text: string): ListenState | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const s = value as Record<string, unknown>;
  const strings = ['name', 'api', 'accountId', 'environment', 'subscriptionId', 'secret', 'hostname', 'createdAt'];
  if (s.version !== 1 || strings.some((key) => typeof s[key] !== 'string')) return null;
  const isStringList = (v: unknown) => Array.isArray(v) && v.every((item) => typeof item === 'string');
  if (!isStringList(s.channels) || !isStringList(s.events)) return null;
  if (typeof s.pid !== 'number' || !Number.isInteger(s.pid)) return null;
  if (s.expireAfterIdleSeconds !== null && typeof s.expireAfterIdleSeconds !== 'number') return null;
  return value as ListenState;
}

export type StateRead = { state: ListenState } | { state: null; unreadable: boolean };

export async function readState(file: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: null, unreadable: false };
    throw error;
  }
  const state = parseState(text);
  return state ? { state } : { state: null, unreadable: true };
}

/** Written whole or not at all (a new file renamed over the old), readable by its user only. */
export async function writeState(file: string, state: ListenState): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing folder as it was.
  await chmod(dir, 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, file);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}
