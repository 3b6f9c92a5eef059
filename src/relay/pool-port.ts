/**
 * What the relay needs from the pool that owns its connections. The pool implements these two
 * interfaces and passes itself to each connection it makes; the relay knows nothing else of the
 * pool, so relay/ ranks below pool/ and neither imports the other both ways. Generic over the
 * connection types so that this file imports neither of them.
 */
import type { PoolSettings } from '../config/effective.js';
import type { ErrorFields } from '../protocol/error-response.js';
import type { UpstreamTarget } from '../upstream/target.js';
import type { PgmoatError } from '../util/errors.js';
import type { ClientStatements } from './tx-statements.js';

export type PoolLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The pool as a client session sees it. */
export interface ClientPool<Client> {
  readonly key: string;
  /** A statement tracker for a new client, when the pool tracks prepared statements. */
  newClientStatements(): ClientStatements | undefined;
  /** The client has bytes for a server and holds none. */
  requestServer(client: Client): void;
  /** The client is gone or must go; `error` is sent to it first when given. */
  closeClient(client: Client, reason: string, error?: PgmoatError | ErrorFields): void;
}

/** The pool as a server connection sees it. */
export interface ServerPool<Server> {
  readonly key: string;
  readonly target: UpstreamTarget;
  readonly settings: PoolSettings;
  readonly tracksStatements: boolean;
  serverClosedByUpstream(server: Server): void;
  /** Statement mode: a ReadyForQuery inside a transaction; true when the pool ended the client for it. */
  refuseTransaction(server: Server): boolean;
  /** A ReadyForQuery, counted; true when the server may go back to the pool once this read is relayed. */
  onServerReady(server: Server): boolean;
  releaseAfterReady(server: Server): void;
  closeServer(server: Server, reason: string, clientError?: PgmoatError, level?: PoolLogLevel): void;
}
