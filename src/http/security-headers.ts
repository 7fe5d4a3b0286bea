import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** A year, as Stripe and GitHub send; without includeSubDomains, which would bind the operator's other hosts. */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600;

/**
 * The headers every response of the API carries (helmet): nosniff, no
 * referrer, same-origin opener and resources, no legacy XSS auditor. HSTS
 * only on a response to a request that came over https, directly or as a
 * trusted proxy says (`trust proxy`), so that a plain-http development
 * server never pins a browser to https. The pages set their own CSP (see
 * pagePolicy): a framing rule that names the allowed embedders replaces
 * X-Frame-Options, which cannot name them.
 */
export function securityHeaders(): RequestHandler {
  const common = helmet({
    contentSecurityPolicy: false,
    strictTransportSecurity: false,
    xFrameOptions: false,
  });
  const hsts = helmet.strictTransportSecurity({ maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false });
  return (req, res, next) => {
    common(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (req.secure) return hsts(req, res, next);
      next();
    });
  };
}

/** A page's Content-Security-Policy with the frame-ancestors the operator allows appended. */
export function pagePolicy(directives: readonly string[], frameAncestors: string): string {
  return [...directives, `frame-ancestors ${frameAncestors}`].join('; ');
}
