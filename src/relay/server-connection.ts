/**
 * One logged-in connection to an upstream PostgreSQL. It relays the server's messages to the
 * client it is linked with, looking only into ReadyForQuery and ParameterStatus, and runs
 * pgmoat's own queries (reset, settings, checks) with their results kept from any client.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Backend, TxStatus } from '../protocol/codes.js';
import { DROP, FORWARD, FrameScanner, type FrameAction, type FrameHandler, type FrameOutput } from '../protocol/frame-scanner.js';
import { parseErrorFields, type ErrorFields } from '../protocol/error-response.js';
import { readParameterStatus } from '../protocol/parameter-status.js';
import * as msg from '../protocol/messages.js';
import { PgmoatError } from '../util/errors.js';
import type { UpstreamSession } from '../upstream/connect.js';
import type { ServerPool } from './pool-port.js';
import { ServerStatementCache } from './statement-registry.js';
import { RequestQueue } from './request-queue.js';
import { readFrom, writableFor } from '../upstream/reader.js';
import { TRACKED_RESPONSES, onServerResponse, completesReady, flushLeadingSynthetic, hasLeadingSynthetic } from './tx-statements.js';

export type ServerPhase = 'idle' | 'active' | 'internal' | 'closed';
/** Why pgmoat runs a query of its own on a server connection. */
export type InternalPurpose = 'check' | 'reset' | 'settings';

const RELAY_TYPES = [Backend.ReadyForQuery, Backend.ParameterStatus];

let nextServerId = 1;

/** The side of a client session that its server connection touches while relaying. */
export interface LinkedClient {
  readonly socket: Socket;
  /** The server's socket drained: the client may read again. */
  onServerDrain(): void;
}

export class ServerConnection<Client extends LinkedClient = LinkedClient> implements FrameHandler, FrameOutput {
  readonly id = nextServerId++;
  phase: ServerPhase = 'idle';
  client: Client | null = null;
  readonly socket: Socket | TLSSocket;
  readonly params: Map<string, string>;
  readonly backendPid: number;
  readonly backendSecret: number;
  readonly tlsProtocol: string | undefined;
  readonly scanner: FrameScanner;
  readonly createdAt = Date.now();
  /** When it last went idle in the pool (janitor: server_idle_timeout). */
  idleSince = Date.now();
  txStatus: number = TxStatus.Idle;
  /** Last ReadyForQuery (janitor: idle_transaction_timeout counts from the end of the last answer). */
  lastResponseAt = Date.now();
  /** When the transaction in progress began (metrics); 0 outside one. */
  txStartedAt = 0;
  /** Queries and Syncs forwarded whose ReadyForQuery has not come back yet. */
  outstanding = 0;
  /** Since when the server owes an answer (query_timeout); 0 when it owes none. */
  busySince = 0;
  /** Extended-protocol messages sent since the last Sync. */
  extendedOpen = false;
  /** How many times a client was given this connection (server_check_query skips fresh ones). */
  timesLinked = 0;
  /** Retire at the next chance (server_lifetime, RECONNECT). */
  retire = false;
  /** The tracked settings of a client that were applied on this connection (transaction mode). */
  appliedFor: Client | null = null;
  /** Transaction mode with prepared statements: what this server still owes, and what it has prepared. */
  readonly tracking: boolean;
  readonly queue = new RequestQueue();
  readonly statements: ServerStatementCache;
  private readonly relayTypes: readonly number[];
  private internalDone: ((error: ErrorFields | undefined) => void) | null = null;
  /** When pgmoat's own query in progress must have answered (internal_query_timeout); 0 = none running or no limit. */
  internalDeadline = 0;
  /** What that query is for, in log lines. */
  internalPurpose: InternalPurpose = 'check';
  /** A clean ReadyForQuery was forwarded in this read: the pool may take the server back after it. */
  private readyToRelease = false;
  private internalError: ErrorFields | undefined;
  private drainWait = false;

  constructor(
    readonly pool: ServerPool<ServerConnection<Client>>,
    upstream: UpstreamSession,
    maxPacketSize: number,
  ) {
    this.socket = upstream.socket;
    this.params = upstream.params;
    this.backendPid = upstream.pid;
    this.backendSecret = upstream.secret;
    this.tlsProtocol = upstream.tlsProtocol;
    this.tracking = pool.tracksStatements;
    this.statements = new ServerStatementCache(pool.settings.maxPreparedStatements);
    this.relayTypes = this.tracking ? [...RELAY_TYPES, ...TRACKED_RESPONSES] : RELAY_TYPES;
    this.scanner = new FrameScanner(this, this, maxPacketSize);
    this.scanner.captureTypes(this.relayTypes);
    readFrom(this.socket, upstream.reader, (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined); // 'close' follows and does the work
    this.socket.on('close', () => this.pool.serverClosedByUpstream(this));
    this.socket.on('drain', () => this.client?.onServerDrain());
    this.socket.resume();
  }

  /**
   * One read from the server. ReadyForQuery is forwarded in place, so that a whole answer goes to
   * the client in one write (the scanner joins what it sends on); the pool takes the server back
   * only after the read is relayed.
   */
  private onData(chunk: Buffer): void {
    this.scanner.scan(chunk);
    if (this.readyToRelease) {
      this.readyToRelease = false;
      this.pool.releaseAfterReady(this);
    }
  }

  /** Bytes from the server to the linked client, holding the server back while the client is slow. */
  write(buf: Buffer): void {
    const client = this.client;
    if (client === null) return; // async messages after the transaction ended: nobody to tell
    // A view of the shared read buffer must not outlive this read (see upstream/reader.ts).
    if (!client.socket.write(writableFor(client.socket, buf)) && !this.drainWait) {
      this.drainWait = true;
      this.socket.pause();
      // A client that goes away never drains (its write returned false because it was gone):
      // resume on close too, or the server would never read the reply to its reset query.
      const resume = (): void => {
        client.socket.off('drain', resume);
        client.socket.off('close', resume);
        if (!this.drainWait) return;
        this.drainWait = false;
        if (this.phase !== 'closed') this.socket.resume();
      };
      client.socket.once('drain', resume);
      client.socket.once('close', resume);
    }
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): FrameAction {
    if (this.internalDone !== null) return this.onInternalMessage(type, buf, start, end);
    if (type === Backend.ReadyForQuery) {
      this.txStatus = buf[start]!;
      this.lastResponseAt = Date.now();
      if (this.tracking) {
        if (completesReady(this.queue)) this.queue.shift();
        this.outstanding = this.queue.length;
      } else if (this.outstanding > 0) {
        this.outstanding--;
      }
      // The next request in a pipeline has been waiting since at most now.
      this.busySince = this.outstanding === 0 ? 0 : this.lastResponseAt;
      // Statement mode: a transaction block ends the session before the client sees it open.
      if (this.txStatus !== TxStatus.Idle && this.pool.refuseTransaction(this)) return DROP;
      if (this.pool.onServerReady(this)) this.readyToRelease = true;
      if (this.tracking && hasLeadingSynthetic(this.queue)) {
        // Made-up answers owed after this ReadyForQuery: it goes out first, then they.
        this.scanner.emit(buf.subarray(start - 5, end));
        flushLeadingSynthetic(this, this.scanner);
        return DROP;
      }
      return FORWARD;
    }
    if (type === Backend.ParameterStatus) {
      readParameterStatus(buf, start, end, this.params);
      return FORWARD;
    }
    if (this.tracking) {
      const action = onServerResponse(type, buf, start, end, this.scanner, this);
      this.outstanding = this.queue.length;
      if (this.outstanding === 0) this.busySince = 0;
      return action;
    }
    return FORWARD;
  }


  /** True when nothing is pending: idle, no unanswered query, no open extended-protocol batch. */
  get clean(): boolean {
    return this.txStatus === TxStatus.Idle && this.outstanding === 0 && !this.extendedOpen;
  }

  /**
   * Runs a query of pgmoat's own; every message of its answer is swallowed. `done` gets the
   * server's ErrorResponse when it failed.
   */
  runInternal(sql: string, purpose: InternalPurpose, done: (error: ErrorFields | undefined) => void): void {
    // Two at once would hand the first one's answer to the second (a pool bug): the connection
    // goes rather than the gateway.
    if (this.internalDone !== null) {
      this.pool.closeServer(this, `${purpose} query started while the ${this.internalPurpose} query runs`, undefined, 'error');
      return;
    }
    const timeout = this.pool.settings.internalQueryTimeout;
    this.internalDeadline = timeout > 0 ? Date.now() + timeout : 0;
    this.internalPurpose = purpose;
    this.internalDone = done;
    this.internalError = undefined;
    this.scanner.captureAll();
    this.socket.write(msg.query(sql));
  }

  private onInternalMessage(type: number, buf: Buffer, start: number, end: number): FrameAction {
    if (type === Backend.ErrorResponse) {
      this.internalError ??= parseErrorFields(buf.subarray(start, end));
    } else if (type === Backend.ParameterStatus) {
      readParameterStatus(buf, start, end, this.params);
    } else if (type === Backend.ReadyForQuery) {
      this.txStatus = buf[start]!;
      const done = this.internalDone!;
      this.internalDone = null;
      this.internalDeadline = 0;
      this.scanner.capture.fill(0);
      this.scanner.captureTypes(this.relayTypes);
      done(this.internalError);
    }
    return DROP;
  }

  onBadLength(_type: number, length: number): void {
    // Over the limit is a setting the client's query ran into; under 4 is a broken server.
    const tooLarge = length > this.scanner.maxLength;
    const message = tooLarge
      ? `server sent a message of ${length} bytes, over max_packet_size (${this.scanner.maxLength} bytes)`
      : `server sent a message of invalid length ${length}`;
    this.pool.closeServer(
      this,
      message,
      new PgmoatError(tooLarge ? 'SERVER_MESSAGE_TOO_LARGE' : 'SERVER_PROTOCOL', message),
    );
  }

  destroy(): void {
    this.scanner.stop();
    if (!this.socket.destroyed) {
      if (this.socket.writable) this.socket.end(msg.TERMINATE);
      this.socket.destroy();
    }
  }
}
