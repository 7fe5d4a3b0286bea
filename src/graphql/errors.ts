import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ArgumentValidationError } from 'type-graphql';
import type { ValidationError } from 'class-validator';
import { AppError, type FieldError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isTokenLimitError, tokenLimitMessage } from './limits.js';

/** Codes of errors that GraphQL itself raises about the request; their messages are safe to show. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

function flattenValidationErrors(errors: ValidationError[], prefix: string): FieldError[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}

/** `Variable "$input" got invalid value ... at "input.url"; ...` names the field; keep that. */
function fieldsOfCoercionError(message: string): FieldError[] {
  const at = /at "([^"]+)"/.exec(message)?.[1];
  const variable = /Variable "\$([^"]+)"/.exec(message)?.[1];
  const argument = /Argument "([^"]+)"/.exec(message)?.[1];
  const field = at ?? variable ?? argument;
  return field ? [{ field, message }] : [];
}

/**
 * Apollo's formatError: known errors keep their code and message, anything
 * else becomes a bare INTERNAL_SERVER_ERROR so that no stack trace, SQL or
 * secret leaves the server. The original is logged.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const unwrapped = unwrapResolverError(error);
    // Errors raised before execution (the rate limit, in the context) wrap theirs without a path.
    const original = unwrapped instanceof GraphQLError && unwrapped.originalError instanceof AppError ? unwrapped.originalError : unwrapped;
    const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
    if (original instanceof AppError) {
      return { ...base, message: original.message, extensions: { ...original.extensions, code: original.code } };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = flattenValidationErrors(original.extensions.validationErrors as ValidationError[], 'input');
      const message = fields.length ? fields.map((f) => `${f.field}: ${f.message}`).join('; ') : 'Invalid input';
      return { ...base, message, extensions: { code: 'BAD_USER_INPUT', fields } };
    }
    const code = formatted.extensions?.code;
    if (code === 'GRAPHQL_PARSE_FAILED' && isTokenLimitError(formatted.message)) {
      return { message: tokenLimitMessage(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
    }
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
      const extensions: Record<string, unknown> = { code };
      if (code === 'BAD_USER_INPUT') extensions.fields = fieldsOfCoercionError(formatted.message);
      return { ...base, extensions };
    }
    logger.error({ err: original }, 'unexpected error in a GraphQL operation');
    return { ...base, message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
