import { Agent } from 'undici';
import { VERSION } from '../version.js';

/**
 * The GraphQL client of the CLI commands that talk to a running Hookline
 * (listen, trigger): one POST per operation with the API key as bearer, over
 * an undici Agent with explicit timeouts. Every failure is an ApiError that
 * says whether it may pass (the API restarting, a network blip) or not (a
 * refused key, a bad input), because listen retries the first kind forever
 * and stops on the second.
 */

export const DEFAULT_API_URL = 'http://localhost:4000/graphql';

/** Generous for answers of 50 pulled deliveries of up to 256 KiB each; a bigger answer is not Hookline's. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
/** Per request unless a call asks for longer (a long poll). */
const DEFAULT_TIMEOUT_MS = 30_000;

export type ApiErrorKind =
  /** No answer: refused or reset connection, DNS, timeout. */
  | 'network'
  /** An HTTP answer that is not a GraphQL answer, or an HTTP 5xx or 429. */
  | 'http'
  /** A GraphQL answer with errors. */
  | 'graphql';

export interface GraphQLErrorEntry {
  message: string;
  extensions?: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly kind: ApiErrorKind,
    /** extensions.code of the first GraphQL error (UNAUTHENTICATED, NOT_FOUND, …). */
    readonly code?: string,
    readonly httpStatus?: number,
    /** Seconds the API asked to wait (RATE_LIMITED). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Codes of GraphQL errors that another try may not meet. */
const PASSING_CODES = new Set(['RATE_LIMITED', 'INTERNAL_SERVER_ERROR']);

/** Whether trying again later may succeed: the API is away, overloaded or restarting. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  if (error.kind === 'network') return true;
  if (error.kind === 'http') return error.httpStatus === undefined || error.httpStatus >= 500 || error.httpStatus === 429;
  return error.code !== undefined && PASSING_CODES.has(error.code);
}

/** The key is unknown, revoked, or may not do this. */
export function isRefused(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN');
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'NOT_FOUND';
}

export interface RequestOptions {
  /** Deadline of the whole request, connect to last byte. */
  timeoutMs?: number;
  /** Aborts the request (a stop); it then fails as a network error. */
  signal?: AbortSignal;
}

/** Checks that the API URL is an http(s) URL; returns it normalised. */
export function parseApiUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not an http or https URL: ${value}`);
  return url.toString();
}

export class ApiClient {
  private readonly agent: Agent;
  private readonly target: URL;

  constructor(
    readonly url: string,
    private readonly key: string,
    /** Longest request the caller will make; the idle timers must not cut it short. */
    longestRequestMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.target = new URL(url);
    this.agent = new Agent({
      connect: { timeout: CONNECT_TIMEOUT_MS },
      // undici 8 negotiates HTTP/2 by default; one small POST at a time needs none of it.
      allowH2: false,
      headersTimeout: longestRequestMs,
      bodyTimeout: longestRequestMs,
      // Below the 5 s keep-alive of Node's HTTP server, so that a request never meets a socket the server just closed.
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 4_000,
    });
  }

  /** The data of one operation; an ApiError for any failure. */
  async request<T>(query: string, variables: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
    let status: number;
    let text: string;
    try {
      const response = await this.agent.request({
        origin: this.target.origin,
        path: `${this.target.pathname}${this.target.search}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${this.key}`,
          'user-agent': `hookline-cli/${VERSION}`,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.any(signals),
      });
      status = response.statusCode;
      text = await readAnswer(response.body);
    } catch (error) {
      throw new ApiError(describeNetworkFailure(error, timeoutMs), 'network');
    }
    let answer: { data?: T | null; errors?: GraphQLErrorEntry[] };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw new ApiError(`HTTP ${status} from ${this.url}, not a GraphQL answer`, 'http', undefined, status);
    }
    const first = answer.errors?.[0];
    if (first) {
      const code = typeof first.extensions?.code === 'string' ? first.extensions.code : undefined;
      const retryAfter = typeof first.extensions?.retryAfterSeconds === 'number' ? first.extensions.retryAfterSeconds : undefined;
      const message = answer.errors!.map((e) => e.message).join('; ');
      throw new ApiError(code ? `${message} (${code})` : message, 'graphql', code, status, retryAfter);
    }
    if (status >= 500 || status === 429) throw new ApiError(`HTTP ${status} from ${this.url}`, 'http', undefined, status);
    if (answer.data === undefined || answer.data === null)
      throw new ApiError(`HTTP ${status} from ${this.url} without data`, 'http', undefined, status);
    return answer.data;
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

async function readAnswer(body: AsyncIterable<Buffer | string> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** A failed request in a few words: its cause's code when it has one (ECONNREFUSED), never a stack. */
function describeNetworkFailure(error: unknown, timeoutMs: number): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (current.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
    if (current.name === 'AbortError') return 'request aborted';
    const code = (current as { code?: unknown }).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND') return 'host not found';
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection closed';
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return `no connection within ${CONNECT_TIMEOUT_MS / 1000} s`;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'answer timed out';
    if (typeof code === 'string' && current.cause === undefined) return `${current.message.split('\n', 1)[0]} (${code})`;
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0];
      continue;
    }
    if (current.cause === undefined) return current.message.split('\n', 1)[0] || 'request failed';
    current = current.cause;
  }
  return 'request failed';
}
