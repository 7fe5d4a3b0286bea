import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, isNotFound, isRefused, isTransient } from '../../src/cli/api-client.js';
import { RECONNECT_BACKOFF, backoffDelay, sleep } from '../../src/cli/backoff.js';
import { CliError, EXIT } from '../../src/cli/errors.js';
import { forwardedHeaders } from '../../src/cli/listen.js';
import {
  parseIdleExpiry,
  parseList,
  resolveApiSettings,
  resolveListenSettings,
  sameSelection,
  subscriptionChannels,
  type ListenFlags,
} from '../../src/cli/options.js';
import {
  isValidListenName,
  parseState,
  readState,
  removeState,
  stateDirectory,
  stateFilePath,
  writeState,
  type ListenState,
} from '../../src/cli/state.js';
import { parseEventData } from '../../src/cli/trigger.js';
import { isProcessRunning } from '../../src/processes.js';

function usageError(run: () => unknown): CliError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.usage);
    return error as CliError;
  }
  throw new Error('expected a usage error');
}

describe('backoffDelay', () => {
  it('doubles from half a second to thirty seconds, drawn from the upper half of each ceiling', () => {
    const lowest = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, RECONNECT_BACKOFF, () => 0));
    const highest = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, RECONNECT_BACKOFF, () => 1));
    expect(highest).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(lowest).toEqual(highest.map((ms) => ms / 2));
  });

  it('stays within its bounds with the real random source, however many tries', () => {
    for (let attempt = 0; attempt < 2_000; attempt += 7) {
      const ms = backoffDelay(attempt);
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThanOrEqual(30_000);
    }
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, RECONNECT_BACKOFF, () => 1)).toBe(30_000);
    expect(backoffDelay(-3, RECONNECT_BACKOFF, () => 1)).toBe(500);
  });

  it('sleep ends early when its signal aborts, and never rejects', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(1_000);
    await sleep(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('API errors', () => {
  it('retries what may pass (no answer, 5xx, 429, rate limit, internal error) and nothing else', () => {
    expect(isTransient(new ApiError('connection refused', 'network'))).toBe(true);
    expect(isTransient(new ApiError('HTTP 502', 'http', undefined, 502))).toBe(true);
    expect(isTransient(new ApiError('HTTP 429', 'http', undefined, 429))).toBe(true);
    expect(isTransient(new ApiError('slow down', 'graphql', 'RATE_LIMITED', 429, 3))).toBe(true);
    expect(isTransient(new ApiError('oops', 'graphql', 'INTERNAL_SERVER_ERROR', 200))).toBe(true);
    expect(isTransient(new ApiError('HTTP 404', 'http', undefined, 404))).toBe(false);
    expect(isTransient(new ApiError('revoked', 'graphql', 'UNAUTHENTICATED', 200))).toBe(false);
    expect(isTransient(new ApiError('bad', 'graphql', 'BAD_USER_INPUT', 200))).toBe(false);
    expect(isTransient(new Error('not an API error'))).toBe(false);
  });

  it('tells a refused key and a missing subscription apart', () => {
    expect(isRefused(new ApiError('revoked', 'graphql', 'UNAUTHENTICATED'))).toBe(true);
    expect(isRefused(new ApiError('role', 'graphql', 'FORBIDDEN'))).toBe(true);
    expect(isRefused(new ApiError('gone', 'graphql', 'NOT_FOUND'))).toBe(false);
    expect(isNotFound(new ApiError('gone', 'graphql', 'NOT_FOUND'))).toBe(true);
  });
});

describe('listen options', () => {
  const flags: ListenFlags = { forwardTo: 'http://localhost:3000/hooks', channels: 'invoices', name: 'default', expireAfterIdle: '86400', key: 'k' };

  it('splits lists, trimming and dropping empties and repeats', () => {
    expect(parseList(' invoices, bills,,invoices ')).toEqual(['invoices', 'bills']);
    expect(parseList(undefined)).toEqual([]);
  });

  it('derives channels from event names, and refuses a channel that --events would starve', () => {
    expect(subscriptionChannels([], ['invoices.paid', 'bills.created', 'invoices.sent'])).toEqual(['invoices', 'bills']);
    expect(subscriptionChannels(['invoices'], ['invoices.paid'])).toEqual(['invoices']);
    expect(subscriptionChannels(['invoices', 'bills'], [])).toEqual(['invoices', 'bills']);
    expect(usageError(() => subscriptionChannels(['bills'], ['invoices.paid'])).message).toContain('--channels bills would receive nothing');
    expect(usageError(() => subscriptionChannels([], [])).message).toContain('--channels');
    expect(usageError(() => subscriptionChannels([], ['invoices'])).message).toContain('invoices is not an event name');
    expect(usageError(() => subscriptionChannels([], ['invoices.'])).message).toContain('is not an event name');
  });

  it('takes the idle expiry in seconds within the API range, or never', () => {
    expect(parseIdleExpiry('60')).toBe(60);
    expect(parseIdleExpiry('2592000')).toBe(2_592_000);
    expect(parseIdleExpiry('never')).toBeNull();
    for (const bad of ['59', '2592001', '1e3', '-60', '', 'soon', '90.5']) usageError(() => parseIdleExpiry(bad));
  });

  it('falls back to HOOKLINE_API_URL and HOOKLINE_API_KEY, and to a local API', () => {
    expect(resolveApiSettings({}, { HOOKLINE_API_KEY: 'env-key' })).toEqual({ api: 'http://localhost:4000/graphql', key: 'env-key' });
    expect(
      resolveApiSettings({ api: 'https://hooks.example.com/graphql', key: 'flag' }, { HOOKLINE_API_URL: 'http://x/graphql', HOOKLINE_API_KEY: 'e' }),
    ).toEqual({ api: 'https://hooks.example.com/graphql', key: 'flag' });
    expect(resolveApiSettings({}, { HOOKLINE_API_URL: 'http://api.internal:4000/graphql', HOOKLINE_API_KEY: 'e' }).api).toBe(
      'http://api.internal:4000/graphql',
    );
    expect(usageError(() => resolveApiSettings({}, {})).message).toContain('HOOKLINE_API_KEY');
    expect(usageError(() => resolveApiSettings({ api: 'ftp://x', key: 'k' }, {})).message).toContain('--api');
    expect(usageError(() => resolveApiSettings({ api: 'localhost:4000', key: 'k' }, {})).message).toContain('--api');
  });

  it('checks --forward-to and --name', () => {
    expect(resolveListenSettings(flags, {})).toMatchObject({
      forwardTo: 'http://localhost:3000/hooks',
      channels: ['invoices'],
      events: [],
      live: false,
    });
    expect(usageError(() => resolveListenSettings({ ...flags, forwardTo: 'localhost:3000' }, {})).message).toContain('--forward-to');
    expect(usageError(() => resolveListenSettings({ ...flags, forwardTo: 'file:///etc/passwd' }, {})).message).toContain('--forward-to');
    expect(usageError(() => resolveListenSettings({ ...flags, name: '../../etc' }, {})).message).toContain('--name');
  });

  it('compares selections whatever their order', () => {
    expect(sameSelection({ channels: ['a', 'b'], events: [] }, { channels: ['b', 'a'], events: [] })).toBe(true);
    expect(sameSelection({ channels: ['a'], events: ['a.x'] }, { channels: ['a'], events: [] })).toBe(false);
    expect(sameSelection({ channels: ['a', 'b'], events: [] }, { channels: ['a'], events: [] })).toBe(false);
  });
});

describe('forwarded headers', () => {
  it('keeps the delivery headers, signature and user agent included, and drops those of the hop', () => {
    const headers = {
      'webhook-id': 'd1',
      'webhook-timestamp': '1',
      'webhook-signature': 'v1,x',
      'content-type': 'application/json',
      'user-agent': 'Hookline/1.0.0',
      'Content-Length': '12',
      host: 'api',
      connection: 'close',
    };
    expect(forwardedHeaders(headers)).toEqual({
      'webhook-id': 'd1',
      'webhook-timestamp': '1',
      'webhook-signature': 'v1,x',
      'content-type': 'application/json',
      'user-agent': 'Hookline/1.0.0',
    });
  });
});

describe('trigger data', () => {
  it('parses JSON and names a parse failure as a usage error', () => {
    expect(parseEventData('{"a":1}')).toEqual({ a: 1 });
    expect(usageError(() => parseEventData('{a:1}')).message).toContain('--data is not valid JSON');
  });
});

describe('listen state file', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const state: ListenState = {
    version: 1,
    name: 'default',
    api: 'http://localhost:4000/graphql',
    accountId: 'a',
    environment: 'STAGING',
    subscriptionId: 's',
    secret: 'whsec_abc',
    channels: ['invoices'],
    events: [],
    expireAfterIdleSeconds: 86_400,
    pid: 123,
    hostname: 'h',
    createdAt: '2026-01-01T00:00:00.000Z',
  };

  it('lives under XDG_STATE_HOME, else ~/.local/state, one file per name', () => {
    expect(stateDirectory({ XDG_STATE_HOME: '/x/state' }, '/home/u')).toBe('/x/state/hookline');
    expect(stateDirectory({}, '/home/u')).toBe('/home/u/.local/state/hookline');
    expect(stateDirectory({ XDG_STATE_HOME: '' }, '/home/u')).toBe('/home/u/.local/state/hookline');
    expect(stateDirectory({ XDG_STATE_HOME: 'relative' }, '/home/u')).toBe('/home/u/.local/state/hookline');
    expect(stateFilePath('ci-1', {}, '/home/u')).toBe('/home/u/.local/state/hookline/listen-ci-1.json');
    expect(() => stateFilePath('a/b', {}, '/home/u')).toThrow(RangeError);
  });

  it('accepts names that make a plain file name only', () => {
    for (const name of ['default', 'ci-1', 'my_app.v2', 'A']) expect(isValidListenName(name)).toBe(true);
    for (const name of ['', '.hidden', '-x', 'a/b', '..', 'a b', 'x'.repeat(65)]) expect(isValidListenName(name)).toBe(false);
  });

  it('is written private to its user and read back; a foreign or broken file reads as none', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hookline-state-'));
    const file = path.join(dir, 'state', 'hookline', 'listen-default.json');
    expect(await readState(file)).toEqual({ state: null, unreadable: false });
    await writeState(file, state);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(await readState(file)).toEqual({ state });
    expect(parseState(await readFile(file, 'utf8'))).toEqual(state);

    await writeFile(file, '{"version":2}');
    expect(await readState(file)).toEqual({ state: null, unreadable: true });
    expect(parseState('not json')).toBeNull();
    expect(parseState(JSON.stringify({ ...state, secret: 7 }))).toBeNull();
    expect(parseState(JSON.stringify({ ...state, channels: 'invoices' }))).toBeNull();

    await removeState(file);
    await removeState(file);
    expect(await readState(file)).toEqual({ state: null, unreadable: false });
  });

  it('knows a running process from one that is gone', () => {
    expect(isProcessRunning(process.pid)).toBe(true);
    expect(isProcessRunning(0)).toBe(false);
    expect(isProcessRunning(2 ** 22 + 1)).toBe(false);
  });
});
