/**
 * Errors that services raise on purpose. Their code and message reach the
 * client as they are; anything else becomes INTERNAL_SERVER_ERROR with no
 * detail (see graphql/errors.ts).
 */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'EXCLUSIVE_CHANNEL_CONFLICT'
  | 'UNKNOWN_EVENT_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED';

/** One invalid input field: its path (e.g. `input.url`) and why. */
export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} was not found`);
  }
}

export class InputError extends AppError {
  constructor(readonly fields: FieldError[]) {
    super('BAD_USER_INPUT', fields.map((f) => `${f.field}: ${f.message}`).join('; '), { fields });
  }

  static field(field: string, message: string): InputError {
    return new InputError([{ field, message }]);
  }
}
