import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '../graphql/auth.js';

/**
 * The check of HOOKLINE_METRICS_TOKEN, shared by the API's /metrics and a
 * worker's: true when no token is set or the Authorization header carries
 * it. Compared as equal-length digests, so that the comparison takes the
 * same time whatever was sent.
 */
export function metricsAuthorization(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (header) => {
    const presented = bearerToken(header);
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };
}

/** The answer to a request without the metrics token. */
export const METRICS_UNAUTHORIZED = { error: 'send the metrics token as "Authorization: Bearer <token>"' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
