/**
 * Test-only: the smallest pool the relay can run against (ClientPool and ServerPool), with no
 * queue and no policy: the test links a client to the server it chooses, so that one client's
 * transactions can be sent to different server connections on purpose.
 */
import type { PoolSettings } from '../config/effective.js';
import type { UpstreamTarget } from '../upstream/target.js';
import type { ErrorFields } from '../protocol/error-response.js';
import type { PgmoatError } from '../util/errors.js';
import { ClientSession, type ClientInfo } from './client-session.js';
import { ServerConnection } from './server-connection.js';
import { StatementRegistry } from './statement-registry.js';
import { ClientStatements } from './tx-statements.js';
import type { ClientPool, ServerPool } from './pool-port.js';
import { FakeSocket } from './fake-socket.test-helper.js';

/** What the gateway knows of a client that logged in without a certificate, on a fake socket. */
export function loggedInClient(socket: FakeSocket, database: string, role: string, settings: Map<string, string> = new Map()): ClientInfo {
  return {
    socket: socket.asSocket,
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    database,
    role,
    identity: undefined,
    tlsProtocol: undefined,
    tlsCipher: undefined,
    settings,
    cancelPid: 1,
    cancelSecret: 2,
  };
}

type Server = ServerConnection<ClientSession>;

export const TARGET: UpstreamTarget = {
  label: 'appdb',
  host: '127.0.0.1',
  port: 5432,
  dbname: 'appdb',
  user: 'app',
  password: undefined,
  tls: { mode: 'disable', minVersion: 'TLSv1.2' },
  connectTimeoutMs: 1000,
};

/** Transaction mode, two servers, no prepared-statement tracking, every timeout and optional query off. */
export function testSettings(over: Partial<PoolSettings> = {}): PoolSettings {
  return {
    poolMode: 'transaction',
    poolSize: 2,
    minPoolSize: 0,
    reservePoolSize: 0,
    reservePoolTimeout: 0,
    maxDbConnections: 0,
    maxUserConnections: 0,
    maxPreparedStatements: 0,
    serverConnectTimeout: 1000,
    serverLoginRetry: 1000,
    internalQueryTimeout: 0,
    serverIdleTimeout: 0,
    serverLifetime: 0,
    serverResetQuery: '',
    serverResetQueryAlways: false,
    serverCheckQuery: '',
    serverCheckDelay: 0,
    queryWaitTimeout: 0,
    queryTimeout: 0,
    clientIdleTimeout: 0,
    idleTransactionTimeout: 0,
    ...over,
  };
}

export class FakePool implements ClientPool<ClientSession>, ServerPool<Server> {
  readonly key = 'appdb/app';
  readonly target = TARGET;
  readonly registry = new StatementRegistry();
  /** Clients that asked for a server, in order. */
  readonly requests: ClientSession[] = [];
  readonly closedClients: { client: ClientSession; reason: string }[] = [];
  readonly closedServers: { server: Server; reason: string }[] = [];
  /** Servers the relay said may go back after a ReadyForQuery (and were unlinked). */
  released = 0;

  constructor(readonly settings: PoolSettings) {}

  get tracksStatements(): boolean {
    return this.settings.poolMode !== 'session' && this.settings.maxPreparedStatements > 0;
  }

  newClientStatements(): ClientStatements | undefined {
    return this.tracksStatements ? new ClientStatements(this.registry) : undefined;
  }

  requestServer(client: ClientSession): void {
    client.phase = 'waiting';
    this.requests.push(client);
  }

  closeClient(client: ClientSession, reason: string, _error?: PgmoatError | ErrorFields): void {
    if (client.phase === 'closed') return;
    client.phase = 'closed';
    this.closedClients.push({ client, reason });
  }

  serverClosedByUpstream(server: Server): void {
    this.closeServer(server, 'server closed the connection');
  }

  refuseTransaction(_server: Server): boolean {
    return false;
  }

  onServerReady(server: Server): boolean {
    return server.client !== null && this.settings.poolMode !== 'session' && server.clean;
  }

  releaseAfterReady(server: Server): void {
    const client = server.client;
    if (client === null || !server.clean || !client.scanner.atBoundary) return;
    server.client = null;
    client.server = null;
    client.phase = 'idle';
    server.phase = 'idle';
    this.released++;
    client.onUnlinked();
  }

  closeServer(server: Server, reason: string): void {
    if (server.phase === 'closed') return;
    server.phase = 'closed';
    this.closedServers.push({ server, reason });
  }

  // ---- what the test does as the pool --------------------------------------------------------

  /** A server connection on a fake socket. */
  openServer(): { server: Server; socket: FakeSocket } {
    const socket = new FakeSocket();
    const server = new ServerConnection<ClientSession>(
      this,
      { socket: socket.asSocket, params: new Map(), pid: 1, secret: 2, tlsProtocol: undefined, reader: null },
      1 << 20,
    );
    return { server, socket };
  }

  /** A logged-in client on a fake socket. */
  addClient(): { client: ClientSession; socket: FakeSocket } {
    const socket = new FakeSocket();
    const client = new ClientSession(this, loggedInClient(socket, 'appdb', 'app'), 1 << 20);
    client.start(undefined);
    return { client, socket };
  }

  /** Gives `server` to the client that asked first, as the pool's link does. */
  link(client: ClientSession, server: Server): void {
    const i = this.requests.indexOf(client);
    if (i >= 0) this.requests.splice(i, 1);
    client.server = server;
    server.client = client;
    client.phase = 'active';
    server.phase = 'active';
    client.onLinked();
  }
}
