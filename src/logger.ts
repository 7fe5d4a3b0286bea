import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Properties of errors that carry data rather than describe the failure:
 * TypeORM's QueryFailedError has the statement and its parameters (event
 * data, token hashes, ciphertexts), pg errors have `detail` ("Key (x)=(…)
 * already exists"), `where` and `internalQuery`; HTTP errors may carry
 * request or response headers and bodies.
 */
const ERROR_DATA = new Set([
  'parameters',
  'query',
  'driverError',
  'detail',
  'where',
  'internalQuery',
  'hint',
  'headers',
  'body',
  'data',
  'config',
  'request',
  'response',
]);

/** pino's error serializer, without the properties that carry data, through causes and aggregated errors too. */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const key of Object.keys(serialized)) if (ERROR_DATA.has(key)) delete serialized[key];
  if (depth < 3 && error.cause instanceof Error) serialized.cause = serializeError(error.cause, depth + 1);
  else delete serialized.cause;
  if (error instanceof AggregateError) serialized.aggregateErrors = depth < 3 ? error.errors.map((e) => serializeError(e, depth + 1)) : undefined;
  return serialized;
}

export type LogFormat = 'pretty' | 'json';

/**
 * Pretty lines for a person at a terminal, JSON lines for everything else (a
 * log collector, a pipe, a test); HOOKLINE_LOG_FORMAT overrides the choice.
 */
export function resolveLogFormat(format: LogFormat | undefined, stream: { isTTY?: boolean } = process.stdout): LogFormat {
  return format ?? (stream.isTTY ? 'pretty' : 'json');
}

export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  // Formatted in this thread rather than in a transport's worker: a log line
  // written just before an exit is not lost, and there is no thread to stop.
  const destination: DestinationStream | undefined =
    format === 'pretty'
      ? pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true })
      : undefined;
  const options = {
    level,
    base: { service: 'hookline' },
    serializers: { err: serializeError, error: serializeError },
    // Secrets, tokens, header values, event data and receiver bodies never
    // reach a log line, whatever object is logged.
    redact: {
      paths: [
        'authorization',
        'token',
        'secret',
        'secrets',
        'headers',
        'data',
        'body',
        'parameters',
        '*.authorization',
        '*.token',
        '*.secret',
        '*.secrets',
        '*.headers',
        '*.data',
        '*.body',
        '*.parameters',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
