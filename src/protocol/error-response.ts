/**
 * ErrorResponse and NoticeResponse: build the ones pgmoat sends, read the ones servers send.
 * This is the one place where a PgmoatError turns into wire bytes.
 */
import { Backend } from './codes.js';
import { MessageWriter } from './message-writer.js';
import { SqlState } from '../util/sqlstate.js';
import { PgmoatError } from '../util/errors.js';

export interface ErrorFields {
  severity: string;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Field R: PostgreSQL's source routine; pgmoat's error code on the errors pgmoat raises. */
  routine?: string;
}

const writer = new MessageWriter(256);

function fieldsMessage(type: number, f: ErrorFields): Buffer {
  writer.reset().begin(type);
  writer.int8(0x53).cstring(f.severity); // S: localized severity
  writer.int8(0x56).cstring(f.severity); // V: non-localized severity
  writer.int8(0x43).cstring(f.code); // C
  writer.int8(0x4d).cstring(f.message); // M
  if (f.detail) writer.int8(0x44).cstring(f.detail);
  if (f.hint) writer.int8(0x48).cstring(f.hint);
  if (f.routine) writer.int8(0x52).cstring(f.routine);
  writer.int8(0).end();
  return writer.take();
}

export function errorResponse(f: ErrorFields): Buffer {
  return fieldsMessage(Backend.ErrorResponse, f);
}

export function noticeResponse(message: string, severity = 'NOTICE', code = '00000', detail?: string): Buffer {
  return fieldsMessage(Backend.NoticeResponse, { severity, code, message, ...(detail ? { detail } : {}) });
}

/**
 * The ErrorResponse a client sees for an error pgmoat raised. Its code goes in the routine
 * field, where a client library shows it (node-postgres and postgres.js: `routine`; psql
 * VERBOSITY verbose: LOCATION), so that programs and the doctor match on the code, not the text.
 */
export function errorResponseFor(err: PgmoatError): Buffer {
  return errorResponse({
    severity: err.severity,
    code: err.sqlstate ?? SqlState.INTERNAL_ERROR,
    message: err.message,
    ...(err.detail ? { detail: err.detail } : {}),
    ...(err.hint ? { hint: err.hint } : {}),
    routine: err.code,
  });
}

/** Reads the fields of an ErrorResponse/NoticeResponse body (after the length). */
export function parseErrorFields(body: Buffer): ErrorFields & { fields: Map<string, string> } {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const code = body[i]!;
    if (code === 0) break;
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(code), body.toString('utf8', i + 1, end));
    i = end + 1;
  }
  return {
    severity: fields.get('V') ?? fields.get('S') ?? 'ERROR',
    code: fields.get('C') ?? SqlState.INTERNAL_ERROR,
    message: fields.get('M') ?? '',
    ...(fields.has('D') ? { detail: fields.get('D')! } : {}),
    ...(fields.has('H') ? { hint: fields.get('H')! } : {}),
    ...(fields.has('R') ? { routine: fields.get('R')! } : {}),
    fields,
  };
}
