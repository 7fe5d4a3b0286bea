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
 */
export class RequestRateLimiter {
  private readonly byKey: RateLimiterAbstract;
  private readonly byAddress: RateLimiterAbstract;
  /** Limiters of keys' own budgets, by requests per window; they share the key counters. */
  private readonly byBudget = new Map<number, RateLimiterAbstract>();

  constructor(
    private readonly db: DataSource,
    private readonly settings: RateLimitSettings,
    private readonly logger: Logger,
    /** Told of every refused request. */
    private readonly onLimited: (by: 'key' | 'address') => void = () => {},
  ) {
    this.byKey = this.limiter(db, 'key', settings.rateLimitPerKey);
    this.byAddress = this.limiter(db, 'address', settings.rateLimitPerAddress);
  }

  private limiter(db: DataSource, keyPrefix: string, points: number): RateLimiterAbstract {
    const duration = this.settings.rateLimitWindowSeconds;
    return new RateLimiterPostgres({
      storeClient: db,
      storeType: 'typeorm',
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      keyPrefix,
      points,
      duration,
      inMemoryBlockOnConsumed: points,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
    });
  }

  private keyLimiter(principal: Principal): RateLimiterAbstract {
    if (!principal.rateLimitPerSecond) return this.byKey;
    const points = principal.rateLimitPerSecond * this.settings.rateLimitWindowSeconds;
    let limiter = this.byBudget.get(points);
    if (!limiter) {
      limiter = this.limiter(this.db, 'key', points);
      this.byBudget.set(points, limiter);
    }
    return limiter;
  }

  /** Counts one request; throws RATE_LIMITED when the key's or address's window is used up. */
  async consume(principal: Principal | null, address: string | undefined): Promise<void> {
    const [limiter, key] = principal ? [this.keyLimiter(principal), principal.apiKeyId] : [this.byAddress, addressKey(address)];
    try {
      await limiter.consume(key);
    } catch (result) {
      if (result instanceof RateLimiterRes) {
        this.onLimited(principal ? 'key' : 'address');
        throw rateLimited(result.msBeforeNext);
      }
      // Both the shared store and the fallback failed: let the request through and say so.
      this.logger.warn({ err: result }, 'rate limit could not be counted');
    }
  }
}

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
