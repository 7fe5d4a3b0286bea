/**
 * Exit codes of the API client commands (listen, trigger), so that a script
 * or a CI job can tell a wrong command line from a refused key from an API
 * that could not be reached.
 */
export const EXIT = {
  /** Done, or stopped with SIGINT/SIGTERM after cleaning up. */
  ok: 0,
  /** The API could not be reached or failed, or the work could not go on. */
  failed: 1,
  /** The command line is wrong, or it lacks a flag the key needs (--live). */
  usage: 2,
  /** The key was refused, or its role may not do this. */
  refused: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the person running the command can act on: printed as one line, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
