import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import ipaddr from 'ipaddr.js';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import type { Principal } from '../accounts/service.js';
import type { ApiSettings } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Requests per window for one API key, and from one client address for requests without a valid key. */
export type RateLimitSettings = Pick<ApiSettings, 'rateLimitPerKey' | 'rateLimitPerAddress' | 'rateLimitWindowSeconds'>;

/** The table of the shared counters, made by a migration. */
export const RATE_LIMIT_TABLE = 'rate_limits';

/**
 * Fixed-window request limits kept in PostgreSQL, so that every API process
 * counts against the same budget of a key. A key over its budget is then
 * refused from memory until the window ends, without a statement per
 * request; if the database cannot be reached the process falls back to a
 * counter of its own rather than refusing everyone. A key with a budget of
 * its own (rateLimitPerSecond) counts in the same row against that budget.
 *
 * Where a hundredth of a budget is more than one request, a process takes
 * that much of it from the shared counter at a time and counts requests
 * against it in memory: a busy key costs a statement per hundredth of its
 * budget, not one per request. The fleet never admits more than the
 * budget; a process may be refused while another still holds requests it
 * took, at most a hundredth of the budget each, until the window ends.
 * When less than that is left in a window, the process gives it back and
 * counts requests one by one.
 */
export class RequestRateLimiter {
  /** The limiters, by counter prefix, budget (requests per window) and whether they block in memory; a key's own budget shares its counter. */
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  /**
   * Requests this process took from a counter and has not used yet, by
   * prefix, budget and key, each until its window ends; `spent` once a share
   * no longer fit in the window.
   */
  private readonly reserved = new Map<string, { left: number; until: number; spent: boolean }>();

  constructor(
    private readonly db: DataSource,
    private readonly settings: RateLimitSettings,
    private readonly logger: Logger,
    /** Told of every refused request. */
    private readonly onLimited: (by: 'key' | 'address') => void = () => {},
  ) {}

  /**
   * The limiter of a counter prefix and budget. One that takes shares does
   * not block in memory: a share that does not fit is given back, and the
   * window goes on one request at a time.
   */
  private limiter(keyPrefix: string, points: number, blockInMemory = true): RateLimiterAbstract {
    const name = `${keyPrefix}:${points}:${blockInMemory}`;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      const duration = this.settings.rateLimitWindowSeconds;
      limiter = new RateLimiterPostgres({
        storeClient: this.db,
        storeType: 'typeorm',
        tableName: RATE_LIMIT_TABLE,
        tableCreated: true,
        keyPrefix,
        points,
        duration,
        ...(blockInMemory ? { inMemoryBlockOnConsumed: points } : {}),
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
      });
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  /** Counts one request; throws RATE_LIMITED when the key's or address's window is used up. */
  async consume(principal: Principal | null, address: string | undefined): Promise<void> {
    const { rateLimitPerKey, rateLimitPerAddress, rateLimitWindowSeconds } = this.settings;
    const [prefix, points, key] = principal
      ? ['key', principal.rateLimitPerSecond ? principal.rateLimitPerSecond * rateLimitWindowSeconds : rateLimitPerKey, principal.apiKeyId]
      : ['address', rateLimitPerAddress, addressKey(address)];
    if (await this.takeReserved(prefix, points, key)) return;
    try {
      await this.limiter(prefix, points).consume(key);
    } catch (result) {
      if (result instanceof RateLimiterRes) {
        this.onLimited(principal ? 'key' : 'address');
        throw rateLimited(result.msBeforeNext);
      }
      // Both the shared store and the fallback failed: let the request through and say so.
      this.logger.warn({ err: result }, 'rate limit could not be counted');
    }
  }

  /**
   * Counts the request against what this process took of the counter, or
   * takes a hundredth of the budget now; false when the budget is too small
   * for that, when less than that is left in the window, or when the
   * counter cannot be reached: the request is then counted on its own.
   */
  private async takeReserved(prefix: string, points: number, key: string): Promise<boolean> {
    const share = Math.floor(points * RESERVED_SHARE);
    if (share <= 1) return false;
    const slot = `${prefix}:${points}:${key}`;
    const held = this.reserved.get(slot);
    if (held && held.until > Date.now()) {
      if (held.left > 0) {
        held.left -= 1;
        return true;
      }
      // The rest of the window goes one request at a time, and is refused from memory once it is used up.
      if (held.spent) return false;
    }
    const taker = this.limiter(prefix, points, false);
    let taken: RateLimiterRes;
    try {
      taken = await taker.consume(key, share);
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) return false;
      // The counter holds less than a share: give it back, so that it is not spent on nothing.
      await taker.reward(key, share).catch(() => undefined);
      this.reserve(slot, 0, Date.now() + result.msBeforeNext, true);
      return false;
    }
    this.reserve(slot, share - 1, Date.now() + taken.msBeforeNext, false);
    return true;
  }

  private reserve(slot: string, left: number, until: number, spent: boolean): void {
    const current = this.reserved.get(slot);
    if (current && current.until > Date.now()) {
      // Concurrent requests of the key may each have taken a share: together they are this process's.
      current.left += left;
      current.spent ||= spent;
      return;
    }
    if (this.reserved.size >= MAX_RESERVATIONS) this.forgetEnded();
    this.reserved.set(slot, { left, until, spent });
  }

  private forgetEnded(): void {
    const now = Date.now();
    for (const [slot, held] of this.reserved) if (held.until <= now) this.reserved.delete(slot);
  }
}

/** The share of a budget that a process takes from the shared counter at once. */
const RESERVED_SHARE = 0.01;
/** Reservations kept before the ended ones are swept. */
const MAX_RESERVATIONS = 10_000;

/** The error a request over its limit gets: RATE_LIMITED, HTTP 429 and Retry-After. */
function rateLimited(msBeforeNext: number): GraphQLError {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  const error = new AppError('RATE_LIMITED', `Too many requests; retry after ${retryAfterSeconds} s`, { retryAfterSeconds });
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: error.code,
      retryAfterSeconds,
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/**
 * The counter of a client address. An IPv6 client usually holds a whole /64,
 * so its requests count against that prefix, as one IPv4 address's do.
 */
export function addressKey(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray().slice(0, 8);
  return `${ipaddr.fromByteArray([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]).toString()}/64`;
}
