/**
 * The one error type pgmoat raises. `code` is one of the catalogue's (util/error-codes.ts), and
 * so is the SQLSTATE a client sees: the throw site chooses the code, never the SQLSTATE, except
 * for the few codes whose catalogue entry is 'relayed' (the upstream's own SQLSTATE). The
 * session layer turns it into an ErrorResponse in one place (protocol/error-response.ts).
 */
import { catalogueSqlstate, ERROR_CODES, type ErrorCode } from './error-codes.js';

export interface PgmoatErrorOptions {
  /** Taken only for a code whose catalogue entry is 'relayed'; ignored for every other code. */
  sqlstate?: string | undefined;
  severity?: 'ERROR' | 'FATAL';
  detail?: string | undefined;
  hint?: string | undefined;
  cause?: unknown;
}

export class PgmoatError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string | undefined;
  /** FATAL errors end the client session; ERROR ones end only the statement. */
  readonly severity: 'ERROR' | 'FATAL';
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: PgmoatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgmoatError';
    this.code = code;
    this.sqlstate = ERROR_CODES[code].sqlstate === 'relayed' ? options.sqlstate : catalogueSqlstate(code);
    this.severity = options.severity ?? 'FATAL';
    this.detail = options.detail;
    this.hint = options.hint;
  }

  /** The same error (code, SQLSTATE, severity, hint) with another detail: what pgmoat tried meanwhile. */
  withDetail(detail: string): PgmoatError {
    return new PgmoatError(this.code, this.message, { sqlstate: this.sqlstate, severity: this.severity, detail, hint: this.hint, cause: this });
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
