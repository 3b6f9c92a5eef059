/**
 * auth_query, as PgBouncer runs it: for a role that is not in auth_file, pgmoat logs in to the
 * upstream of the database the client asked for as `auth_user` and runs `auth_query` with the
 * role as $1 (extended protocol, so the role is never spliced into SQL). The second column of
 * the row is the role's stored secret (SCRAM verifier or md5 hash). No row, or a NULL secret:
 * the role is unknown, and the client gets the mock exchange and the usual 28P01.
 *
 * One short connection per lookup: logins that need it are rare next to the sessions they open,
 * and the handshake rate limit bounds them.
 */
import { Backend } from '../protocol/codes.js';
import { BodyReader } from '../protocol/body-reader.js';
import { DROP, FrameScanner, type FrameHandler } from '../protocol/frame-scanner.js';
import { parseErrorFields } from '../protocol/error-response.js';
import { MessageWriter } from '../protocol/message-writer.js';
import * as msg from '../protocol/messages.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { connectUpstream, type UpstreamSession } from '../upstream/connect.js';
import { readFrom, stopReading } from '../upstream/reader.js';
import { classifySecret } from '../auth/userlist.js';
import { clientSecretFrom, type ClientSecret } from '../auth/client-secrets.js';
import { upstreamTarget, type RuntimeConfig } from '../runtime/runtime-config.js';

/** Parse (unnamed), Bind ($1 as text), Execute, Sync. */
function extendedQuery(sql: string, param: string): Buffer {
  const w = new MessageWriter(256);
  w.begin(0x50).cstring('').cstring(sql).int16(0).end(); // Parse
  const value = Buffer.from(param, 'utf8');
  w.begin(0x42).cstring('').cstring('').int16(0).int16(1).int32(value.length).bytes(value).int16(0).end(); // Bind
  w.begin(0x45).cstring('').int32(0).end(); // Execute
  w.begin(0x53).end(); // Sync
  return w.take();
}

/** The columns of the first DataRow (text format; null for SQL NULL). */
function dataRow(buf: Buffer, start: number, end: number): (string | null)[] {
  const body = new BodyReader().reset(buf, start, end, 'DataRow');
  const n = body.int16();
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = body.int32();
    out.push(len < 0 ? null : body.bytes(len).toString('utf8'));
  }
  return out;
}

/** The client is told only that the lookup failed; `reason` (upstream details) goes to the log. */
export class AuthQueryError extends PgmoatError {
  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super('AUTH_QUERY_FAILED', 'could not look up the password (auth_query failed; see the pgmoat log)', {
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

function failed(reason: string, cause?: unknown): AuthQueryError {
  return new AuthQueryError(reason, cause);
}

function runQuery(session: UpstreamSession, sql: string, role: string, timeoutMs: number): Promise<(string | null)[] | undefined> {
  return new Promise((resolve, reject) => {
    let row: (string | null)[] | undefined;
    let error: string | undefined;
    const socket = session.socket;
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stopReading(socket, session.reader, onRead);
      if (socket.writable) socket.end(msg.TERMINATE);
      socket.destroy();
      if (err) reject(err);
      else resolve(row);
    };
    const handler: FrameHandler = {
      onMessage(type, buf, start, end) {
        if (type === Backend.DataRow && row === undefined) {
          try {
            row = dataRow(buf, start, end);
          } catch (e) {
            finish(failed(errorMessage(e)));
          }
        } else if (type === Backend.ErrorResponse) {
          error ??= parseErrorFields(buf.subarray(start, end)).message;
        } else if (type === Backend.ReadyForQuery) {
          finish(error === undefined ? undefined : failed(`auth_query failed upstream: ${error}`));
        }
        return DROP;
      },
      onBadLength: () => finish(failed('the upstream sent a message of invalid length')),
    };
    const scanner = new FrameScanner(handler, { write: () => undefined }, 1024 * 1024);
    scanner.captureAll();
    // Every message is captured and read within the call: safe with a shared read buffer.
    const onRead = (chunk: Buffer): void => scanner.scan(chunk);
    const timer = setTimeout(() => finish(failed(`auth_query did not answer within ${timeoutMs} ms`)), timeoutMs);
    readFrom(socket, session.reader, onRead);
    socket.once('close', () => finish(failed('the upstream closed the connection')));
    socket.on('error', () => undefined);
    socket.write(extendedQuery(sql, role));
    socket.resume();
  });
}

/** Looks a role's secret up upstream; undefined when the role has none. */
export async function runAuthQuery(rc: RuntimeConfig, database: string, role: string): Promise<ClientSecret | undefined> {
  const authUser = rc.config.auth_user;
  if (authUser === undefined) return undefined;
  const db = rc.config.databases[database]!;
  // auth_user's own password: its cleartext auth_file entry, else the database's upstream password when it is that role.
  const password = rc.access.authUserPassword ?? (db.user === authUser ? rc.passwords.get(database) : undefined);
  const target = { ...upstreamTarget(rc, database, authUser), password };
  let session: UpstreamSession;
  try {
    session = await connectUpstream(target);
  } catch (err) {
    throw failed(`auth_user "${authUser}" could not log in upstream (${errorMessage(err)})`, err);
  }
  const row = await runQuery(session, rc.config.auth_query, role, target.connectTimeoutMs > 0 ? target.connectTimeoutMs : 15_000);
  const stored = row?.[1];
  if (stored === undefined || stored === null || stored === '') return undefined;
  let classified;
  try {
    classified = classifySecret(stored);
  } catch {
    throw failed('auth_query returned a malformed SCRAM secret');
  }
  return clientSecretFrom(role, classified, rc.access.mockKey);
}
