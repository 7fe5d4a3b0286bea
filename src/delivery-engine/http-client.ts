import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, buildConnector } from 'undici';
import { isBlockedAddress } from '../net/address-policy.js';

/**
 * The HTTP client of the delivery worker: one shared
 * undici Agent, HTTP/1.1 only, no redirects, a total deadline per attempt,
 * a bounded read of the response, private addresses refused at connect time,
 * and failures reported as values, never thrown.
 */

export type AttemptErrorCode = 'timeout' | 'connection_refused' | 'connection_reset' | 'dns' | 'blocked_address' | 'tls' | 'other';

/**
 * The outcome of one attempt. `status` is set only when a complete response
 * arrived within the deadline (the body read to its end or to the byte cap);
 * when the deadline or a broken connection cut the body short, `status` is
 * null, `errorCode` says why and `error` names the status that had arrived.
 * So `status !== null` and `errorCode === null` always go together.
 */
export interface AttemptResult {
  status: number | null;
  /** At most maxResponseBytes of the body, as UTF-8 text ('' for an empty body); null when no response arrived. */
  body: string | null;
  /** A short message for people: no stack trace, no request content. */
  error: string | null;
  errorCode: AttemptErrorCode | null;
  /** From the start of send() to the last byte read or the failure, fractional milliseconds. */
  durationMs: number;
  /** The Retry-After header as sent, whatever the status. */
  retryAfter: string | null;
}

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface DeliveryHttpClientOptions {
  /** Per attempt, from the start of send() to the last byte. */
  timeoutMs: number;
  /** false: https only, and no connection to loopback, private, link-local or reserved addresses. */
  allowPrivate: boolean;
  /**
   * The User-Agent header, e.g. `Hookline/0.1.0`; it replaces any User-Agent among the request's headers.
   * Unset, the request's own goes as it is (`hookline listen` forwards what the API signed and sent).
   */
  userAgent?: string;
  /** Bytes of the response body kept; the rest is not read. Default 4096. */
  maxResponseBytes?: number;
  /** Connections per origin; unlimited when unset. */
  connections?: number;
  /** Host name resolution (see dns.ts); getaddrinfo when unset. */
  resolve?: HostResolver;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 4096;

/** Raised inside the connector when the destination policy refuses a connection. */
export class BlockedDestinationError extends Error {
  readonly code = 'HOOKLINE_BLOCKED_DESTINATION';

  constructor(message: string) {
    super(message);
    this.name = 'BlockedDestinationError';
  }
}

/** The abort reason of the per-attempt deadline. */
class DeadlineExceededError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timeout after ${timeoutMs} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/** Resolves a host name to every address it has. */
export type HostResolver = (hostname: string, options: LookupOptions) => Promise<LookupAddress[]>;

const systemResolver: HostResolver = (hostname, options) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/**
 * A `lookup` for net/tls.connect that fails when any address of the name is
 * blocked, before a connection is attempted. Any rather than all: a name that
 * mixes public and private answers is how DNS rebinding is done, and
 * checkDestination refuses such a name when the subscription is saved too.
 */
export function blockingLookup(resolve: HostResolver = systemResolver, block = true): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options).then(
      (addresses) => {
        // Called outside the promise chain so that an exception in the callback is not swallowed as a rejection.
        if (addresses.length === 0) {
          const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          process.nextTick(callback, err, '', 0);
          return;
        }
        const blocked = block ? addresses.find((a) => isBlockedAddress(a.address)) : undefined;
        if (blocked) {
          process.nextTick(callback, new BlockedDestinationError(`blocked address: ${hostname} resolves to a private or reserved address`), '', 0);
        } else if (options.all) {
          process.nextTick(callback, null, addresses);
        } else {
          process.nextTick(callback, null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      (err: NodeJS.ErrnoException) => process.nextTick(callback, err, '', 0),
    );
  };
}

/**
 * The destination policy at connect time. Three checks, because each covers
 * what the others cannot: net.connect skips `lookup` for an IP literal, so a
 * literal host is checked here; a name is checked by blockingLookup before
 * any packet is sent; and the address actually connected is checked last, in
 * case some path (a future Node, happy eyeballs) reached an address that
 * neither of the first two saw.
 */
export function destinationGuardedConnector(options: { connectTimeoutMs: number; resolve?: HostResolver }): buildConnector.connector {
  const connect = buildConnector({
    allowH2: false,
    timeout: options.connectTimeoutMs,
    lookup: blockingLookup(options.resolve),
  });
  return (target, callback) => {
    if (target.protocol !== 'https:') {
      callback(new BlockedDestinationError('plain http refused: https required'), null);
      return;
    }
    if (isIP(target.hostname) && isBlockedAddress(target.hostname)) {
      callback(new BlockedDestinationError(`blocked address ${target.hostname}`), null);
      return;
    }
    connect(target, (err, socket) => {
      if (err) {
        callback(err, null);
        return;
      }
      const remote = socket!.remoteAddress;
      if (remote === undefined || isBlockedAddress(remote)) {
        socket!.destroy();
        callback(new BlockedDestinationError('blocked address: the connected address is private or reserved'), null);
        return;
      }
      callback(null, socket!);
    });
  };
}

/** An endpoint URL as a request needs it. */
interface Target {
  protocol: string;
  origin: string;
  /** Path and query. */
  path: string;
  hostname: string;
}

/** Endpoint URLs kept parsed, at most; the oldest goes first. */
const MAX_TARGETS = 4_096;

function isUserAgent(name: string): boolean {
  return name.length === 10 && name.toLowerCase() === 'user-agent';
}

/** A user-agent header spelt otherwise than in lower case (a subscription's own headers may bring one). */
function hasOtherUserAgent(headers: Record<string, string>): boolean {
  for (const name in headers) if (name !== 'user-agent' && isUserAgent(name)) return true;
  return false;
}

export class DeliveryHttpClient {
  private readonly targets = new Map<string, Target>();
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly userAgent: string | undefined;
  private readonly maxResponseBytes: number;

  constructor(options: DeliveryHttpClientOptions) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new RangeError('timeoutMs must be a positive number');
    this.timeoutMs = options.timeoutMs;
    this.userAgent = options.userAgent;
    this.maxResponseBytes = Math.max(0, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    this.agent = new Agent({
      connect: options.allowPrivate
        ? buildConnector({ allowH2: false, timeout: options.timeoutMs, lookup: blockingLookup(options.resolve, false) })
        : destinationGuardedConnector({ connectTimeoutMs: options.timeoutMs, ...(options.resolve ? { resolve: options.resolve } : {}) }),
      // undici 8 negotiates HTTP/2 by default; deliveries are plain HTTP/1.1 POSTs.
      allowH2: false,
      // Both are idle timers (headersTimeout from the request sent, bodyTimeout between chunks):
      // a body that trickles a byte a second never trips them, hence the deadline in send().
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // Below the 5 s that Node's and many servers' keep-alive default to, so that we
      // drop an idle socket before the server does and a POST never meets a closed one.
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 4_000,
      pipelining: 1,
      ...(options.connections !== undefined ? { connections: options.connections } : {}),
    });
  }

  /** One POST. Redirects are not followed: a 3xx is returned like any other status. Never throws. */
  async send(request: DeliveryRequest): Promise<AttemptResult> {
    const started = performance.now();
    const result = (outcome: Partial<AttemptResult>): AttemptResult => ({
      status: null,
      body: null,
      error: null,
      errorCode: null,
      retryAfter: null,
      ...outcome,
      durationMs: performance.now() - started,
    });

    const url = this.target(request.url);
    if (url === undefined) return result({ error: 'invalid URL', errorCode: 'other' });
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return result({ error: `unsupported URL scheme ${url.protocol}`, errorCode: 'other' });
    }

    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(new DeadlineExceededError(this.timeoutMs)), this.timeoutMs);
    let status: number | null = null;
    try {
      const response = await this.agent.request({
        origin: url.origin,
        path: url.path,
        method: 'POST',
        headers: this.headers(request.headers),
        body: request.body,
        signal: controller.signal,
      });
      status = response.statusCode;
      const body = await readCapped(response.body, this.maxResponseBytes);
      return result({ status, body, retryAfter: firstHeader(response.headers['retry-after']) });
    } catch (err) {
      const failure = describeFailure(err, { timeoutMs: this.timeoutMs, hostname: url.hostname });
      const error = status === null ? failure.message : `${failure.message} (status ${status} received, response body incomplete)`;
      return result({ error, errorCode: failure.code });
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Waits for requests in flight (each bounded by the deadline) and closes every connection. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The parts of an endpoint's URL a request needs, parsed once per URL (an endpoint's every delivery goes to the same one). */
  private target(url: string): Target | undefined {
    let target = this.targets.get(url);
    if (target === undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return undefined;
      }
      target = { protocol: parsed.protocol, origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, hostname: parsed.hostname };
      if (this.targets.size >= MAX_TARGETS) this.targets.delete(this.targets.keys().next().value!);
      this.targets.set(url, target);
    }
    return target;
  }

  private headers(headers: Record<string, string>): Record<string, string> {
    if (this.userAgent === undefined) return headers;
    // Usually the request's own user-agent is already this one, under no other spelling: nothing to copy.
    if (headers['user-agent'] === this.userAgent && !hasOtherUserAgent(headers)) return headers;
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!isUserAgent(name)) out[name] = value;
    }
    out['user-agent'] = this.userAgent;
    return out;
  }
}

function firstHeader(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

/**
 * Reads at most maxBytes of a response body and then stops: destroying the
 * stream makes undici close the connection, so that a huge or endless body
 * costs a few KiB and no time. Read by its events rather than an async
 * iterator, whose machinery (a promise per chunk, end-of-stream watchers)
 * was a tenth of what a delivery worker allocated for the usual answer of
 * a few bytes.
 */
function readCapped(body: Readable, maxBytes: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const settle = (truncated: boolean) => {
      detach();
      if (truncated) {
        // undici turns an early destroy into an 'error' (RequestAbortedError) once nobody listens for the body.
        body.on('error', () => {});
        body.destroy();
      }
      const text = decodeCapped(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), truncated);
      // PostgreSQL text cannot hold NUL; the body is recorded as text.
      resolve(text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const room = maxBytes - size;
      if (buffer.length >= room) {
        chunks.push(buffer.subarray(0, room));
        size += room;
        settle(true);
        return;
      }
      chunks.push(buffer);
      size += buffer.length;
    };
    const onEnd = () => settle(false);
    const onError = (error: Error) => {
      detach();
      reject(error);
    };
    // Closed before its end without an error: cut off, as an async iterator would report it.
    const onClose = () => onError(new Error('the response body ended early'));
    if (maxBytes === 0) {
      settle(true);
      return;
    }
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}

/**
 * Bytes of an answer kept up to a cap, as text. When the cap cut the answer
 * (`cut`), a multi-byte character cut in two is held back (TextDecoder's
 * stream mode) rather than shown as U+FFFD; the answer's own U+FFFD stays.
 */
export function decodeCapped(bytes: Uint8Array, cut: boolean): string {
  // A decoder in stream mode keeps the held-back bytes for its next call: each cut answer has its own.
  return cut ? new TextDecoder('utf-8').decode(bytes, { stream: true }) : wholeDecoder.decode(bytes);
}

/** Decodes whole answers; it keeps nothing from one call to the next. */
const wholeDecoder = new TextDecoder('utf-8');

interface Failure {
  code: AttemptErrorCode;
  message: string;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'EAI_ADDRFAMILY']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|EPROTO$)/;

/** The error itself, then what it wraps (undici's `cause`, happy eyeballs' AggregateError), nearest first. */
function errorChain(err: unknown): Array<Error & { code?: unknown }> {
  const chain: Array<Error & { code?: unknown }> = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && chain.length < 8) {
    const next = queue.shift();
    if (!(next instanceof Error) || chain.includes(next)) continue;
    chain.push(next);
    if (next.cause !== undefined) queue.push(next.cause);
    if (next instanceof AggregateError) queue.push(...next.errors);
  }
  return chain;
}

function shortMessage(message: string): string {
  const firstLine = message.split('\n', 1)[0]!.trim();
  return firstLine.length > 200 ? `${firstLine.slice(0, 197)}...` : firstLine || 'request failed';
}

/** Classifies a transport failure by error class and code (undici and Node's errno codes). */
function describeFailure(err: unknown, context: { timeoutMs: number; hostname: string }): Failure {
  const chain = errorChain(err);
  const timeout = { code: 'timeout', message: `timeout after ${context.timeoutMs} ms` } as const;
  for (const e of chain) {
    if (e instanceof DeadlineExceededError || e.name === 'TimeoutError') return timeout;
    if (e instanceof BlockedDestinationError) return { code: 'blocked_address', message: e.message };
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code === undefined) continue;
    if (TIMEOUT_CODES.has(code)) return timeout;
    if (code === 'ECONNREFUSED') return { code: 'connection_refused', message: 'connection refused' };
    if (code === 'UND_ERR_SOCKET') return { code: 'connection_reset', message: 'connection closed by the server' };
    if (RESET_CODES.has(code)) return { code: 'connection_reset', message: 'connection reset' };
    if (code === 'ENOTFOUND') return { code: 'dns', message: `host ${context.hostname} not found` };
    if (DNS_CODES.has(code)) return { code: 'dns', message: `DNS lookup of ${context.hostname} failed (${code})` };
    if (TLS_CODE.test(code)) {
      // OpenSSL's messages carry library paths and hex; its code says the same in a word.
      const readable = !code.startsWith('ERR_SSL_') && code !== 'EPROTO';
      return { code: 'tls', message: readable ? `TLS error: ${shortMessage(e.message)}` : `TLS error (${code})` };
    }
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { code: 'other', message: `host unreachable (${code})` };
  }
  const first = chain[0];
  return { code: 'other', message: first ? shortMessage(first.message) : 'request failed' };
}
