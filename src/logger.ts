import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'hookline' },
    // Secrets and tokens never reach a log line, whatever object is logged.
    redact: {
      paths: ['authorization', 'token', 'secret', 'secrets', '*.authorization', '*.token', '*.secret', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
