import type { ErrorRequestHandler } from 'express';
import { MAX_REQUEST_BYTES } from '../events/limits.js';

/**
 * A GraphQL request body over the limit is refused as GraphQL errors are,
 * with BAD_USER_INPUT naming it, rather than with the JSON parser's own
 * page; nothing of it was read, so nothing is stored.
 */
export const refuseOversizedBody: ErrorRequestHandler = (error: { type?: string }, _req, res, next) => {
  if (error?.type !== 'entity.too.large') {
    next(error);
    return;
  }
  const message = `The request body is over ${MAX_REQUEST_BYTES} bytes; send fewer events per publishEvents call`;
  res.status(413).json({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT', fields: [{ field: 'body', message }] } }] });
};
