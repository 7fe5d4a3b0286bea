import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

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
    format === 'pretty' ? pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true }) : undefined;
  const options = {
    level,
    base: { service: 'hookline' },
    // Secrets and tokens never reach a log line, whatever object is logged.
    redact: {
      paths: ['authorization', 'token', 'secret', 'secrets', '*.authorization', '*.token', '*.secret', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
