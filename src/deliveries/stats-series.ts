import type { DataSource } from 'typeorm';
import type { Scope } from '../domain.js';
import { InputError, NotFoundError } from '../errors.js';
import { isUuid } from '../ids.js';

export const MIN_BUCKET_SECONDS = 60;
export const MAX_BUCKET_SECONDS = 86_400;
/** Enough points for a chart; more only costs the database. */
export const MAX_BUCKETS = 500;
const DEFAULT_RANGE_MS = 24 * 3600 * 1000;

/** One interval of a subscription's delivery history. */
export interface StatsBucket {
  start: Date;
  /** Deliveries created in the interval, by their status now. */
  succeeded: number;
  failed: number;
  pending: number;
  cancelled: number;
  /** Attempts started in the interval. */
  attempts: number;
  failedAttempts: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

export interface SeriesRange {
  since?: Date | null;
  until?: Date | null;
  bucketSeconds: number;
}

/**
 * The interval starts from `since` to `until` (default: the last 24 hours),
 * aligned to multiples of the bucket on the epoch so that a chart polled
 * again keeps the same buckets. Pure.
 */
export function seriesBuckets(range: SeriesRange, now: Date): { startSeconds: number; count: number } {
  const { bucketSeconds } = range;
  if (!Number.isInteger(bucketSeconds) || bucketSeconds < MIN_BUCKET_SECONDS || bucketSeconds > MAX_BUCKET_SECONDS) {
    throw InputError.field('bucketSeconds', `must be a whole number between ${MIN_BUCKET_SECONDS} and ${MAX_BUCKET_SECONDS}`);
  }
  const until = range.until ?? now;
  const since = range.since ?? new Date(until.getTime() - DEFAULT_RANGE_MS);
  if (since.getTime() >= until.getTime()) throw InputError.field('since', 'must be before until');
  const startSeconds = Math.floor(since.getTime() / 1000 / bucketSeconds) * bucketSeconds;
  const count = Math.ceil((until.getTime() / 1000 - startSeconds) / bucketSeconds);
  if (count > MAX_BUCKETS) {
    throw InputError.field(
      'bucketSeconds',
      `gives ${count} intervals between since and until; at most ${MAX_BUCKETS}: use a larger bucket or a shorter range`,
    );
  }
  return { startSeconds, count };
}

/** Time series of a subscription's deliveries and attempts, for charts. */
export class StatsSeriesService {
  constructor(private readonly db: DataSource) {}

  async series(scope: Scope, subscriptionId: string, range: SeriesRange): Promise<StatsBucket[]> {
    const { startSeconds, count } = seriesBuckets(range, new Date());
    if (!isUuid(subscriptionId)) throw new NotFoundError('Webhook subscription', subscriptionId);
    const endSeconds = startSeconds + count * range.bucketSeconds;
    const params = [subscriptionId, scope.accountId, scope.environment, startSeconds, endSeconds, range.bucketSeconds, count];
    // Deliveries carry their scope; attempts are reached through the subscription, checked in scope first.
    const rows = (await this.db.query(
      `WITH sub AS (
         SELECT id FROM webhook_subscriptions WHERE id = $1 AND account_id = $2 AND environment = $3
       ),
       d AS (
         SELECT floor((extract(epoch FROM created_at) - $4) / $6)::int AS i,
                count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS succeeded,
                count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
                count(*) FILTER (WHERE status IN ('PENDING', 'RETRYING'))::int AS pending,
                count(*) FILTER (WHERE status = 'CANCELLED')::int AS cancelled
         FROM deliveries
         WHERE subscription_id = (SELECT id FROM sub) AND account_id = $2 AND environment = $3
           AND created_at >= to_timestamp($4) AND created_at < to_timestamp($5)
         GROUP BY 1
       ),
       a AS (
         SELECT floor((extract(epoch FROM started_at) - $4) / $6)::int AS i,
                count(*)::int AS attempts,
                count(*) FILTER (WHERE NOT succeeded)::int AS failed_attempts,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
         FROM delivery_attempts
         WHERE subscription_id = (SELECT id FROM sub)
           AND started_at >= to_timestamp($4) AND started_at < to_timestamp($5)
         GROUP BY 1
       )
       SELECT (SELECT count(*) FROM sub)::int AS found, b.i,
              coalesce(d.succeeded, 0) AS succeeded, coalesce(d.failed, 0) AS failed,
              coalesce(d.pending, 0) AS pending, coalesce(d.cancelled, 0) AS cancelled,
              coalesce(a.attempts, 0) AS attempts, coalesce(a.failed_attempts, 0) AS failed_attempts, a.p50, a.p95
       FROM generate_series(0, $7 - 1) AS b(i)
       LEFT JOIN d ON d.i = b.i LEFT JOIN a ON a.i = b.i
       ORDER BY b.i`,
      params,
    )) as Array<{
      found: number;
      i: number;
      succeeded: number;
      failed: number;
      pending: number;
      cancelled: number;
      attempts: number;
      failed_attempts: number;
      p50: number | null;
      p95: number | null;
    }>;
    if (!rows[0]?.found) throw new NotFoundError('Webhook subscription', subscriptionId);
    return rows.map((r) => ({
      start: new Date((startSeconds + r.i * range.bucketSeconds) * 1000),
      succeeded: r.succeeded,
      failed: r.failed,
      pending: r.pending,
      cancelled: r.cancelled,
      attempts: r.attempts,
      failedAttempts: r.failed_attempts,
      latencyP50Ms: r.p50 === null ? null : Math.round(r.p50),
      latencyP95Ms: r.p95 === null ? null : Math.round(r.p95),
    }));
  }
}
