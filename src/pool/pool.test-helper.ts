/**
 * Test-only: a Pool whose server connections are fake sockets handed out by FakeUpstreams, and
 * clients on fake sockets, so that the pool's state transitions can be driven message by message
 * without PostgreSQL.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import type { PoolSettings } from '../config/effective.js';
import type { UpstreamSession } from '../upstream/connect.js';
import type { UpstreamTarget } from '../upstream/target.js';
import { ClientSession } from '../relay/client-session.js';
import { FakeSocket } from '../relay/fake-socket.test-helper.js';
import { TARGET, loggedInClient, testSettings } from '../relay/fake-pool.test-helper.js';
import { Pool, type Server } from './pool.js';

interface PendingConnect {
  resolve: (s: UpstreamSession) => void;
  reject: (e: Error) => void;
}

/** Stands in for connectUpstream: each connect is answered when the test says (or at once). */
export class FakeUpstreams {
  readonly pending: PendingConnect[] = [];
  /** Every server socket handed out, in order. */
  readonly sockets: FakeSocket[] = [];
  private nextPid = 1000;

  constructor(public autoAccept = true) {}

  readonly connect = (_target: UpstreamTarget): Promise<UpstreamSession> => {
    if (this.autoAccept) return Promise.resolve(this.session());
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  private session(): UpstreamSession {
    const socket = new FakeSocket();
    this.sockets.push(socket);
    const pid = this.nextPid++;
    return {
      socket: socket.asSocket,
      params: new Map([
        ['server_version', '16.0'],
        ['client_encoding', 'UTF8'],
      ]),
      pid,
      secret: pid * 7,
      tlsProtocol: undefined,
      reader: null,
    };
  }

  /** Answers the oldest connect in flight with a new server. */
  accept(): void {
    const p = this.pending.shift();
    if (!p) throw new Error('no connect in flight');
    p.resolve(this.session());
  }

  fail(err: Error): void {
    const p = this.pending.shift();
    if (!p) throw new Error('no connect in flight');
    p.reject(err);
  }
}

export interface LogLine {
  level: number;
  event?: string;
  [k: string]: unknown;
}

export interface TestPool {
  pool: Pool;
  upstreams: FakeUpstreams;
  /** Reasons given to PoolEvents.clientClosed, in order. */
  closed: { client: ClientSession; reason: string }[];
  log: LogLine[];
  logger: Logger;
}

export function makePool(over: Partial<PoolSettings> = {}, opts: { autoAccept?: boolean; mayOpen?: () => boolean } = {}): TestPool {
  const log: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void log.push(JSON.parse(line) as LogLine) });
  const upstreams = new FakeUpstreams(opts.autoAccept ?? true);
  const closed: TestPool['closed'] = [];
  const mayOpen = opts.mayOpen;
  const pool = new Pool(
    'appdb',
    'app',
    TARGET,
    testSettings(over),
    1 << 20,
    logger,
    {
      clientClosed: (client, reason) => closed.push({ client, reason }),
      ...(mayOpen ? { mayOpenServer: () => mayOpen() } : {}),
    },
    upstreams.connect,
  );
  return { pool, upstreams, closed, log, logger };
}

export interface TestClient {
  session: ClientSession;
  socket: FakeSocket;
}

/** A client that finished login and joined the pool (as the gateway does it). */
export function addClient(pool: Pool, startupSettings: Map<string, string> = new Map()): TestClient {
  const socket = new FakeSocket();
  const session = new ClientSession(pool, loggedInClient(socket, pool.database, pool.role, startupSettings), pool.maxPacketSize);
  pool.addClient(session);
  session.start(undefined);
  return { session, socket };
}

/** Lets promise callbacks and setImmediate callbacks (fake 'close' events) run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await tick();
}

/** The pool's server connection on a fake socket. */
export function serverOn(pool: Pool, socket: FakeSocket): Server {
  for (const s of [...pool.idleServers, ...pool.activeServers, ...pool.internalServers]) {
    if (s.socket === socket.asSocket) return s;
  }
  throw new Error('no server of the pool on that socket');
}

/** Phases of the pool's members, as counts, for one assertion. */
export function phases(pool: Pool): Record<string, number> {
  return {
    idleClients: pool.idleClients.size,
    waitingClients: pool.waitingClients.length,
    activeClients: pool.activeClients.size,
    idleServers: pool.idleServers.length,
    activeServers: pool.activeServers.size,
    internalServers: pool.internalServers.size,
    connecting: pool.connecting,
  };
}
