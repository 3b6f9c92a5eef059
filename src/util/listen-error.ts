/**
 * What a listener that cannot open says: the same words for the gateway, the admin HTTP listener,
 * the renewal service and the quick start, naming the setting that changes the address.
 */
import { PgmoatError, errorMessage } from './errors.js';

/**
 * `what` names the listener ("the gateway"), `setting` how to choose another address
 * ("listen.port in pgmoat.yaml", "--port").
 */
export function listenFailure(err: unknown, what: string, host: string, port: number, setting: string): PgmoatError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new PgmoatError('PORT_BUSY', `${what}: port ${port} on ${host} is already in use (another pgmoat or a PostgreSQL?); choose another with ${setting}`, { cause: err });
    case 'EACCES':
      return new PgmoatError('LISTEN_FAILED', `${what}: not allowed to listen on ${where} (ports below 1024 need privileges); choose a port from 1024 up with ${setting}`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new PgmoatError('LISTEN_FAILED', `${what}: ${host} is not an address of this machine; choose another host with ${setting}`, { cause: err });
    default:
      return new PgmoatError('LISTEN_FAILED', `${what}: cannot listen on ${where}: ${code ?? errorMessage(err)}`, { cause: err });
  }
}
