import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics/metrics.js';
import { METRICS_UNAUTHORIZED, metricsAuthorization } from '../metrics/token.js';

/** GET /metrics: the Prometheus text, behind a bearer token when one is set. */
export function metricsHandler(metrics: Metrics, token: string | undefined): RequestHandler {
  const authorized = metricsAuthorization(token);
  return async (req, res) => {
    if (!authorized(req.headers.authorization)) {
      res.status(401).set('www-authenticate', 'Bearer').json(METRICS_UNAUTHORIZED);
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}
