/**
 * The one error type pgmoat raises. `code` is stable (scripts and tests match on it);
 * `sqlstate` is set when a PostgreSQL client will see the error, and the session layer
 * turns it into an ErrorResponse in one place (protocol/error-response.ts).
 */
export class PgmoatError extends Error {
  readonly code: string;
  readonly sqlstate: string | undefined;
  /** FATAL errors end the client session; ERROR ones end only the statement. */
  readonly severity: 'ERROR' | 'FATAL';
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      sqlstate?: string;
      severity?: 'ERROR' | 'FATAL';
      detail?: string;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgmoatError';
    this.code = code;
    this.sqlstate = options.sqlstate;
    this.severity = options.severity ?? 'FATAL';
    this.detail = options.detail;
    this.hint = options.hint;
  }
}

export function isPgmoatError(err: unknown): err is PgmoatError {
  return err instanceof PgmoatError;
}

/** A message for any thrown value, without ever printing a stack to a user. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${String(value)}`);
}
