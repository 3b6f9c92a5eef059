/**
 * A logged-in client. Its bytes go to the server connection it is linked with, looked into only
 * for what pooling needs: Terminate, and the Query/Sync/FunctionCall count that tells when the
 * server will be idle again. Without a server it holds its bytes and asks the pool for one.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Frontend } from '../protocol/codes.js';
import { DROP, FORWARD, FrameScanner, captureTable, type FrameAction, type FrameHandler, type FrameOutput } from '../protocol/frame-scanner.js';
import { READY_IDLE } from '../protocol/messages.js';
import { PgmoatError } from '../util/errors.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import type { ServerConnection } from './server-connection.js';
import type { ClientPool } from './pool-port.js';
import { answerLeadingSynthetic, type ClientStatements } from './tx-statements.js';

export type ClientPhase = 'idle' | 'waiting' | 'active' | 'closed';

const COUNTED = [Frontend.Query, Frontend.Sync, Frontend.FunctionCall];
const EXTENDED = [Frontend.Parse, Frontend.Bind, Frontend.Describe, Frontend.Execute, Frontend.Close, Frontend.Flush];
/** Every client scanner captures the same types: one table for all of them. */
const CLIENT_CAPTURE = captureTable([...COUNTED, ...EXTENDED, Frontend.Terminate]);

/** A chunk that is exactly one Terminate message. */
function isTerminate(chunk: Buffer): boolean {
  return chunk.length === 5 && chunk[0] === Frontend.Terminate && chunk.readInt32BE(1) === 4;
}

/** Where a refused client's messages go: nowhere. */
const DISCARD: FrameOutput = { write: () => undefined };

let nextClientId = 1;

export interface ClientInfo {
  socket: Socket | TLSSocket;
  remoteAddress: string;
  remotePort: number;
  /** The load balancer's address when a PROXY header gave remoteAddress. */
  via?: string | undefined;
  database: string;
  role: string;
  identity: PeerIdentity | undefined;
  tlsProtocol: string | undefined;
  tlsCipher: string | undefined;
  /** Settings from the startup packet, applied on every server the client gets. */
  settings: Map<string, string>;
  cancelPid: number;
  cancelSecret: number;
}

export class ClientSession implements FrameHandler, FrameOutput {
  readonly id = nextClientId++;
  phase: ClientPhase = 'idle';
  server: ServerConnection<ClientSession> | null = null;
  readonly socket: Socket | TLSSocket;
  readonly scanner: FrameScanner;
  readonly connectedAt = Date.now();
  /** When it started waiting for a server (janitor: query_wait_timeout). */
  waitingSince = 0;
  /** Last time it sent anything (janitor: client_idle_timeout). */
  lastActivity = Date.now();
  bytesIn = 0;
  bytesOut = 0;
  private stash: Buffer[] = [];
  /** The other of two stash arrays swapped on every link, so that replaying allocates nothing. */
  private spareStash: Buffer[] = [];
  private drainWait = false;
  /** Reading was paused to wait for a server (not for a slow server: that is drainWait). */
  private pausedForServer = false;
  /**
   * Linked, but the pool is still applying this client's startup settings on the server: what
   * arrives meanwhile joins the stash, to go after what came first (set by the pool's link).
   */
  settingUp = false;
  /** Transaction mode with prepared statements: the client's statement names. */
  private readonly statements: ClientStatements | undefined;
  private readonly writeToClient = (buf: Buffer): void => {
    this.socket.write(buf);
  };
  /**
   * Set while the work a client sent during a wait that failed is answered with this ERROR
   * instead of a server (see refuseWaiting); null otherwise.
   */
  private refusal: Buffer | null = null;
  /** The refusal was sent for the extended-protocol batch in progress (once per batch, as PostgreSQL). */
  private refusalSent = false;
  /** Every refused message so far was answered up to its ReadyForQuery (no batch open). */
  private refusalAtSync = true;
  /**
   * Reading is paused until the client takes what pgmoat answered by itself (refusals, prepares
   * answered without a server): a client that sends and never reads must not make pgmoat buffer.
   */
  private clientDrainWait = false;
  private readonly onClientDrain = (): void => {
    this.clientDrainWait = false;
    if (this.phase !== 'closed' && !this.pausedForServer && !this.drainWait) this.socket.resume();
  };

  constructor(
    readonly pool: ClientPool<ClientSession>,
    readonly info: ClientInfo,
    maxPacketSize: number,
  ) {
    this.socket = info.socket;
    this.statements = pool.newClientStatements();
    this.scanner = new FrameScanner(this, this, maxPacketSize, CLIENT_CAPTURE);
  }

  /** Starts reading; `leftover` is what arrived with the startup packet. */
  start(leftover: Buffer | undefined): void {
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined); // 'close' follows
    this.socket.on('close', () => this.pool.closeClient(this, 'client closed the connection'));
    if (leftover && leftover.length > 0) this.onData(leftover);
    this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.bytesIn += chunk.length;
    if (this.phase === 'active' && !this.settingUp) {
      this.scanner.scan(chunk);
      return;
    }
    if (this.phase === 'closed') return;
    if (this.refusal !== null) {
      this.scanner.scan(chunk);
      this.endRefusalIfDone();
      this.holdUntilClientDrains();
      return;
    }
    // Leaving between transactions (or before the first) needs no server: queueing for one just
    // to drop the Terminate kept the client, and its slot, waiting behind busy servers.
    if (this.phase === 'idle' && this.stash.length === 0 && isTerminate(chunk)) {
      this.scanner.stop();
      this.pool.closeClient(this, 'client sent Terminate');
      return;
    }
    if (this.phase === 'idle' && this.statements !== undefined && this.stash.length === 0) {
      const used = this.statements.answerWithoutServer(chunk, this.writeToClient);
      if (used === chunk.length) {
        this.holdUntilClientDrains();
        return;
      }
      if (used > 0) chunk = chunk.subarray(used);
    }
    this.stash.push(chunk);
    // A free server links at once and the stash is replayed inside this call: pausing and
    // resuming the socket (a tick and two events) is only worth it when the client must wait,
    // for a server or for its session settings to be applied on one.
    if (this.phase === 'idle') this.pool.requestServer(this);
    // (A cast: TypeScript keeps the phase narrowed across the call that changed it.)
    if (((this.phase as ClientPhase) === 'waiting' || this.settingUp) && !this.pausedForServer) {
      this.pausedForServer = true;
      this.socket.pause();
    }
  }

  /** What arrived while waiting, to replay; the stash starts again empty (two arrays swapped: no allocation). */
  private takeStash(): Buffer[] {
    const stash = this.stash;
    this.stash = this.spareStash;
    this.spareStash = stash;
    return stash;
  }

  /** The pool linked a server: replay what arrived while waiting. */
  onLinked(): void {
    this.settingUp = false;
    this.scanner.setOutput(this);
    const stash = this.takeStash();
    for (let i = 0; i < stash.length; i++) {
      const chunk = stash[i]!;
      if (this.phase !== 'active') {
        // A transaction ended inside the stash: keep the rest for the next server.
        this.stash.push(chunk);
        continue;
      }
      this.scanner.scan(chunk);
    }
    stash.length = 0;
    if (this.stash.length > 0 && this.phase === 'idle') {
      this.pool.requestServer(this);
      return;
    }
    if (this.pausedForServer && (this.phase === 'active' || (this.phase === 'idle' && this.stash.length === 0))) {
      this.pausedForServer = false;
      if (!this.drainWait) this.socket.resume();
    }
  }

  /** The pool took the server back between transactions. */
  onUnlinked(): void {
    if (this.stash.length > 0 && this.phase === 'idle') this.pool.requestServer(this);
  }

  write(buf: Buffer): void {
    const server = this.server;
    if (server === null) return;
    if (!server.socket.write(buf) && !this.drainWait) {
      this.drainWait = true;
      this.socket.pause();
    }
  }

  onServerDrain(): void {
    if (!this.drainWait) return;
    this.drainWait = false;
    if (this.phase === 'active') this.socket.resume();
  }

  /**
   * The pool could not give this client a server (query_wait_timeout, or the upstream refused a
   * login): instead of ending the session, every request it sent meanwhile is answered with
   * `error` (an ERROR, once per extended-protocol batch) and ReadyForQuery, as PostgreSQL answers
   * a failed statement. The session stays and may try again. The client is 'idle' by now and
   * stood at a message boundary when it began to wait, so its stash starts a request.
   */
  refuseWaiting(error: Buffer): void {
    this.refusal = error;
    this.refusalSent = false;
    this.refusalAtSync = true;
    this.scanner.setOutput(DISCARD);
    const stash = this.takeStash();
    for (let i = 0; i < stash.length && this.phase === 'idle'; i++) this.scanner.scan(stash[i]!);
    stash.length = 0;
    this.endRefusalIfDone();
    if (this.pausedForServer && this.phase === 'idle') {
      // Read on: the rest of a refused batch (up to its Sync) must be read to be answered.
      this.pausedForServer = false;
      if (!this.drainWait) this.socket.resume();
    }
    this.holdUntilClientDrains();
  }

  private holdUntilClientDrains(): void {
    if (this.clientDrainWait || !this.socket.writableNeedDrain || this.phase === 'closed') return;
    this.clientDrainWait = true;
    this.socket.pause();
    this.socket.once('drain', this.onClientDrain);
  }

  private endRefusalIfDone(): void {
    if (this.refusal === null || !this.refusalAtSync || !this.scanner.atBoundary) return;
    this.refusal = null;
    this.scanner.setOutput(this);
  }

  private onRefusedMessage(type: number, refusal: Buffer): FrameAction {
    switch (type) {
      case Frontend.Query:
      case Frontend.FunctionCall:
        this.socket.write(refusal);
        this.socket.write(READY_IDLE);
        this.refusalSent = false;
        this.refusalAtSync = true;
        break;
      case Frontend.Sync:
        // The batch's error went out with its first message; a Sync alone gets ReadyForQuery
        // alone, as PostgreSQL answers it.
        this.socket.write(READY_IDLE);
        this.refusalSent = false;
        this.refusalAtSync = true;
        break;
      default:
        // Parse, Bind, Describe, Execute, Close, Flush: the batch failed; answer once, then wait for its Sync.
        if (!this.refusalSent) this.socket.write(refusal);
        this.refusalSent = true;
        this.refusalAtSync = false;
    }
    return DROP;
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): FrameAction {
    const server = this.server;
    if (type === Frontend.Terminate) {
      this.scanner.stop();
      this.pool.closeClient(this, 'client sent Terminate');
      return DROP;
    }
    if (this.refusal !== null) return this.onRefusedMessage(type, this.refusal);
    if (this.statements !== undefined && server !== null && server.tracking) {
      const action = this.statements.onClientMessage(type, buf, start, end, this.scanner, server);
      answerLeadingSynthetic(server.queue, this.writeToClient);
      server.outstanding = server.queue.length;
      // After an error the server skips everything up to the next Sync, a Query included, whatever
      // the queue says: until that Sync is sent the server must not go back to the pool.
      if (type === Frontend.Sync) server.extendedOpen = false;
      else if (type !== Frontend.FunctionCall && type !== Frontend.Query) server.extendedOpen = true;
      if (server.busySince === 0 && server.outstanding > 0) server.busySince = this.lastActivity;
      return action;
    }
    switch (type) {
      case Frontend.Sync:
      case Frontend.Query:
        if (server) {
          // query_timeout counts from the read that brought the request (no clock read of its own).
          if (server.outstanding++ === 0) server.busySince = this.lastActivity;
          // Only a Sync ends an extended-protocol batch: after an error in it the server skips a Query too.
          if (type === Frontend.Sync) server.extendedOpen = false;
        }
        return FORWARD;
      case Frontend.FunctionCall:
        if (server && server.outstanding++ === 0) server.busySince = this.lastActivity;
        return FORWARD;
      default:
        if (server) server.extendedOpen = true;
        return FORWARD;
    }
  }

  onBadLength(_type: number, length: number): void {
    this.pool.closeClient(
      this,
      'invalid message length',
      new PgmoatError(length < 4 ? 'BAD_MESSAGE_LENGTH' : 'MESSAGE_TOO_LARGE', `invalid message length ${length} (max_packet_size is ${this.scanner.maxLength})`),
    );
  }

  /** Ends the connection, with one ErrorResponse first when given. */
  destroy(error: Buffer | undefined): void {
    this.scanner.stop();
    this.stash.length = 0;
    const s = this.socket;
    if (s.destroyed) return;
    if (error && s.writable) {
      s.end(error);
      // A client that never reads must not keep the socket: give it a moment, then cut.
      setTimeout(() => s.destroy(), 2000).unref();
    } else {
      s.destroy();
    }
  }
}
