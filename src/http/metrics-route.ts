import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { bearerToken } from '../graphql/auth.js';
import type { Metrics } from '../metrics/metrics.js';

/** GET /metrics: the Prometheus text, behind a bearer token when one is set. */
export function metricsHandler(metrics: Metrics, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    if (expected) {
      const presented = bearerToken(req.headers.authorization);
      if (!presented || !timingSafeEqual(digest(presented), expected)) {
        res.status(401).set('www-authenticate', 'Bearer').json({ error: 'send the metrics token as "Authorization: Bearer <token>"' });
        return;
      }
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

/** Equal-length digests, so that the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
