/**
 * Limits and field checks of a subscription, as pure functions: the GraphQL
 * input classes apply them as class-validator decorators, and they have
 * their own unit tests.
 */
import { MAX_EVENT_NAME_LENGTH } from '../limits.js';

export const MAX_URL_LENGTH = 2048;
export const MAX_DESCRIPTION_LENGTH = 500;
export const MAX_CHANNELS = 100;
export const MAX_EVENTS = 500;
/** Of a channel or an event listed in a subscription. */
export const MAX_NAME_LENGTH = MAX_EVENT_NAME_LENGTH;
export const MAX_HEADERS = 20;
export const MAX_HEADER_NAME_LENGTH = 256;
export const MAX_HEADER_VALUE_LENGTH = 4096;
export const MIN_RATE_LIMIT = 1;
export const MAX_RATE_LIMIT = 10_000;

/**
 * Headers a subscription cannot set: the ones Hookline sends itself (a
 * custom value would break signing or the body's framing), and the ones the
 * HTTP client owns. authorization is allowed: receivers use it.
 */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'host',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'proxy-connection',
]);

/** RFC 9110 token: the characters a field name may have. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field value: visible characters, spaces and tabs; no CR, LF or NUL (header injection). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Why a string is not a usable endpoint URL (syntax and scheme only; the destination policy is the service's). */
export function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL, e.g. https://example.com/webhooks';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not contain credentials; send them in an authorization header instead';
  if (!url.hostname) return 'must name a host';
  return undefined;
}

/** Every reason why a value is not a usable `headers` object; empty when it is. */
export function headersProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return ['must be an object of header names to string values, e.g. {"authorization": "Bearer ..."}'];
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const problems: string[] = [];
  if (entries.length > MAX_HEADERS) problems.push(`must have at most ${MAX_HEADERS} headers`);
  const seen = new Set<string>();
  for (const [name, headerValue] of entries) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name) || name.length > MAX_HEADER_NAME_LENGTH) {
      problems.push(`"${printable(name)}" is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~, at most ${MAX_HEADER_NAME_LENGTH})`);
      continue;
    }
    if (RESERVED_HEADERS.has(lower)) problems.push(`${name} is set by Hookline and cannot be overridden`);
    if (seen.has(lower)) problems.push(`${name} is given more than once (header names are case-insensitive)`);
    seen.add(lower);
    if (typeof headerValue !== 'string') {
      problems.push(`the value of ${name} must be a string`);
    } else if (!FIELD_VALUE.test(headerValue)) {
      problems.push(`the value of ${name} has characters HTTP forbids in a header (line breaks or control characters)`);
    } else if (headerValue.length > MAX_HEADER_VALUE_LENGTH) {
      problems.push(`the value of ${name} must be at most ${MAX_HEADER_VALUE_LENGTH} characters`);
    }
  }
  return problems;
}

/** A bad header name as it can be shown in an error message: control characters escaped, bounded. */
function printable(name: string): string {
  const escaped = JSON.stringify(name.slice(0, 64)).slice(1, -1);
  return name.length > 64 ? `${escaped}…` : escaped;
}

export const REDACTED = '[redacted]';

/**
 * Header values often carry the receiver's credentials (authorization,
 * API keys): roles that may read a subscription but not its secrets see the
 * header names only.
 */
export function redactHeaderValues(headers: Record<string, string> | null): Record<string, string> | null {
  if (headers === null) return null;
  return Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED]));
}

/**
 * An endpoint URL without the values of its query string, which often hold
 * the receiver's tokens (`?token=…`): what roles that may not read secrets see.
 */
export function redactQueryValues(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return REDACTED;
  }
  if (parsed.search === '') return url;
  const names = [...parsed.searchParams.keys()];
  parsed.search = '';
  return `${parsed.href}?${names.map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(REDACTED)}`).join('&')}`;
}
