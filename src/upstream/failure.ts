/**
 * Whether a failed attempt to open a server connection is worth retrying while clients wait.
 *
 * A PostgreSQL that is restarting refuses TCP for a moment and answers logins with 57P03
 * ("the database system is starting up" / "is shutting down"); a full server answers 53300.
 * Those pass within seconds, so the pool retries with backoff and the clients keep waiting
 * (within query_wait_timeout) instead of getting PostgreSQL's refusal as a FATAL. A wrong
 * password, a missing database or a certificate that does not verify will not fix itself:
 * those reach the waiting clients at once.
 */
import { PgmoatError } from '../util/errors.js';

/** SQLSTATE classes of login refusals that pass by themselves. */
const TRANSIENT_CLASSES = [
  '08', // connection exception (but the two below)
  '53', // insufficient resources: too_many_connections, out_of_memory, disk_full
  '57', // operator intervention: admin_shutdown, crash_shutdown, cannot_connect_now
];
/** In class 08, a protocol the server does not speak and a connection it rejects for good. */
const PERMANENT_STATES = new Set(['08P01', '08004']);

/** Socket errors (as `err.code`) seen when a server goes away or is not back yet. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

function socketCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
  }
  return undefined;
}

export function isTransientUpstreamFailure(err: unknown): boolean {
  if (!(err instanceof PgmoatError)) return false;
  switch (err.code) {
    case 'UPSTREAM_CONNECT': // TCP refused or reset
    case 'UPSTREAM_TIMEOUT': // server_connect_timeout: a server that is busy starting or overloaded
    case 'UPSTREAM_LOGIN': // the socket failed or closed during the SSL negotiation or the login
      return true;
    case 'UPSTREAM_LOGIN_REFUSED':
      return err.sqlstate !== undefined && TRANSIENT_CLASSES.includes(err.sqlstate.slice(0, 2)) && !PERMANENT_STATES.has(err.sqlstate);
    case 'UPSTREAM_TLS': {
      // A reset during the handshake is the server going away; a certificate that fails is not.
      const code = socketCode(err);
      return code !== undefined && TRANSIENT_SOCKET_CODES.has(code);
    }
    default:
      return false;
  }
}
