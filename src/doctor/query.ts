/**
 * Step 8: one real query over the logged-in session. A gateway answers the login itself (from a
 * pool whose server parameters it already knows) and reaches PostgreSQL only when a statement
 * needs a server connection, so only an answered query proves that the whole path works: the
 * gateway's own login to the upstream, its TLS to it, the database behind it.
 */
import type { TLSSocket } from 'node:tls';
import { Backend } from '../protocol/codes.js';
import { parseErrorFields, type ErrorFields } from '../protocol/error-response.js';
import { MessageReader } from '../protocol/message-reader.js';
import * as msg from '../protocol/messages.js';
import { errorMessage } from '../util/errors.js';

export const DOCTOR_QUERY = 'SELECT 1';

/** Larger than any answer to SELECT 1 or an ErrorResponse with a long detail. */
const MAX_MESSAGE = 1 << 20;

export type QueryOutcome =
  | { kind: 'rows'; value: string | null }
  /** An ErrorResponse (ERROR or FATAL), then ReadyForQuery or a close. */
  | { kind: 'error'; fields: ErrorFields }
  | { kind: 'closed' }
  | { kind: 'timeout' }
  | { kind: 'socket-error'; error: NodeJS.ErrnoException }
  | { kind: 'protocol'; message: string };

function firstColumn(body: Buffer): string | null {
  // DataRow: int16 column count, then per column int32 length (-1: NULL) and the bytes.
  if (body.length < 6 || body.readInt16BE(0) < 1) return null;
  const len = body.readInt32BE(2);
  return len < 0 ? null : body.toString('utf8', 6, 6 + len);
}

/** Sends DOCTOR_QUERY and reads up to ReadyForQuery; the socket is closed (after Terminate) before this resolves. */
export function runQuery(socket: TLSSocket, timeoutMs: number): Promise<QueryOutcome> {
  return new Promise((resolve) => {
    const reader = new MessageReader(MAX_MESSAGE);
    let value: string | null = null;
    let rows = false;
    let error: ErrorFields | undefined;
    let settled = false;
    const settle = (o: QueryOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.on('error', () => undefined);
      if (o.kind === 'rows' || (o.kind === 'error' && !socket.destroyed)) socket.end(msg.TERMINATE);
      else socket.destroy();
      resolve(o);
    };
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      try {
        for (let m = reader.next(); m; m = reader.next()) {
          switch (m.type) {
            case Backend.DataRow:
              if (!rows) value = firstColumn(m.body);
              rows = true;
              break;
            case Backend.ErrorResponse:
              error ??= parseErrorFields(m.body);
              // A FATAL is followed by a close, not ReadyForQuery.
              if (error.severity === 'FATAL' || error.severity === 'PANIC') return settle({ kind: 'error', fields: error });
              break;
            case Backend.ReadyForQuery:
              return settle(error ? { kind: 'error', fields: error } : rows ? { kind: 'rows', value } : { kind: 'protocol', message: 'the server answered SELECT 1 without a row' });
            default:
              // RowDescription, CommandComplete, NoticeResponse, ParameterStatus: nothing to check.
              break;
          }
        }
      } catch (err) {
        settle({ kind: 'protocol', message: `the server sent an invalid message: ${errorMessage(err)}` });
      }
    };
    const onClose = (): void => settle(error ? { kind: 'error', fields: error } : { kind: 'closed' });
    const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', (e: NodeJS.ErrnoException) => settle(error ? { kind: 'error', fields: error } : { kind: 'socket-error', error: e }));
    socket.write(msg.query(DOCTOR_QUERY));
    socket.resume();
  });
}
