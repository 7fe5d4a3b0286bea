import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { RequestHandler } from 'express';
import getRawBody from 'raw-body';

/**
 * After a body is refused as too large, the rest of its upload is still
 * read and thrown away for this long at most (a lingering close): a client
 * that is still sending then gets to read the 413, where closing at once
 * would reset the connection under its write and lose the answer.
 */
const LINGER_MS = 2_000;
/** And this much of it at most: a larger upload is cut off after the answer. */
const LINGER_BYTES = 16 * 1024 * 1024;

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
 * and the rest of the upload is only read and thrown away for a moment
 * (LINGER_MS) before the connection is closed.
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
          // Answer now, then close once the client has read the answer: the rest of the upload is never inflated or kept.
          res.set('connection', 'close');
          res.once('finish', () => lingerThenClose(req));
        }
        next(httpError(status, status === 413 ? 'request body too large' : 'invalid request body'));
      },
    );
  };
}

/** Reads and throws away what is left of a refused upload, within LINGER_MS and LINGER_BYTES, then closes the connection. */
function lingerThenClose(req: Parameters<RequestHandler>[0]): void {
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    req.destroy();
  };
  const timer = setTimeout(close, LINGER_MS);
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) close();
  });
  req.once('end', close);
  req.once('error', close);
  req.resume();
}
