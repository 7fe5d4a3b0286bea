/**
 * A start-up failure that the person starting Hookline can act on: the
 * message names the cause and what to do, and the CLI prints it alone, without
 * a stack trace, before exiting with a non-zero code.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** Node's error code (EACCES, EADDRINUSE, …) of a system error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
