import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { RequestHandler } from 'express';
import getRawBody from 'raw-body';

/** An HTTP error for requestErrorHandler: its status decides the answer. */
function httpError(status: number, message: string): Error & { status: number } {
  return Object.assign(new Error(message), { status });
}

function decoder(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * The JSON body of a GraphQL POST, read and inflated up to `limit` bytes
 * (counted after inflating). Unlike express.json, which reads a refused
 * body to its end before answering, a body that passes the limit is refused
 * there: inflating stops, the 413 goes out at once with Connection: close,
 * and nothing more of the upload is read.
 */
export function jsonBody(limit: number): RequestHandler {
  return (req, res, next) => {
    // Apollo answers a request without a JSON body (a GET, or a POST of another type, which its CSRF check refuses).
    if (req.method !== 'POST' || !req.is('application/json')) {
      req.body ??= {};
      return next();
    }
    const charset = /;\s*charset\s*=\s*"?([^";]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') return next(httpError(415, `unsupported charset ${charset}`));
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const inflate = encoding === 'identity' ? undefined : decoder(encoding);
    if (encoding !== 'identity' && !inflate) return next(httpError(415, `unsupported content encoding ${encoding}`));
    const declared = req.headers['content-length'];
    getRawBody(inflate ? req.pipe(inflate) : req, { limit, encoding: 'utf-8', length: inflate ? undefined : declared }).then(
      (text) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return next(httpError(400, 'invalid JSON'));
        }
        // As express.json's strict mode: a GraphQL request is an object (or a batch).
        if (typeof body !== 'object' || body === null) return next(httpError(400, 'invalid JSON'));
        req.body = body;
        next();
      },
      (error: unknown) => {
        if (inflate) {
          req.unpipe(inflate);
          inflate.destroy();
        }
        const status = (error as { status?: number }).status ?? 400;
        if (status === 413) {
          // Answer now and close: the rest of the upload is never read.
          res.set('connection', 'close');
          res.once('finish', () => req.destroy());
        }
        next(httpError(status, status === 413 ? 'request body too large' : 'invalid request body'));
      },
    );
  };
}
