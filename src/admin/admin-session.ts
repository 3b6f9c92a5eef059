/**
 * One admin console connection after login. It speaks the simple Query protocol only: each Query
 * message is split into statements, run one after the other, and answered with result sets and
 * one ReadyForQuery. Extended-protocol messages get one ERROR and are skipped up to their Sync.
 * Commands run one at a time; reading pauses while one runs (PAUSE may take a while).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Frontend } from '../protocol/codes.js';
import { errorResponseFor } from '../protocol/error-response.js';
import { MessageReader } from '../protocol/message-reader.js';
import * as msg from '../protocol/messages.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { parseCommand, splitStatements, type AdminCommand } from './command-parse.js';
import { encodeResult, type CommandResult } from './result-set.js';
import type { AdminSessionView } from './show-tables.js';

/** Admin commands are short; anything longer is not one of ours. */
const MAX_MESSAGE = 64 * 1024;

const EXTENDED: readonly number[] = [Frontend.Parse, Frontend.Bind, Frontend.Describe, Frontend.Execute, Frontend.Close, Frontend.Flush, Frontend.FunctionCall];

export interface AdminSessionHost {
  /** Throws a FATAL PgmoatError when the session's identity may no longer use the console. */
  recheck(session: AdminSession): void;
  execute(session: AdminSession, command: AdminCommand): Promise<CommandResult>;
  closed(session: AdminSession): void;
}

let nextAdminId = 1;

export class AdminSession implements AdminSessionView {
  readonly id = nextAdminId++;
  readonly connectedAt = Date.now();
  lastActivity = Date.now();
  private readonly messages = new MessageReader(MAX_MESSAGE);
  private draining = false;
  private skipToSync = false;
  private closedAlready = false;

  constructor(
    readonly socket: Socket | TLSSocket,
    readonly identity: PeerIdentity,
    readonly user: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly tls: string,
    readonly applicationName: string,
    private readonly host: AdminSessionHost,
  ) {}

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get closed(): boolean {
    return this.closedAlready;
  }

  start(leftover: Buffer | undefined): void {
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => undefined); // 'close' follows
    this.socket.on('close', () => this.close());
    if (leftover && leftover.length > 0) this.onData(leftover);
    this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    if (this.closedAlready) return;
    this.lastActivity = Date.now();
    this.messages.push(chunk);
    void this.drain();
  }

  /** Handles every complete message, one at a time, awaiting each command. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.closedAlready) {
        // A bad length throws BadMessageLength (08P01), which closes the session below.
        const m = this.messages.next();
        if (m === undefined) return;
        this.socket.pause();
        try {
          await this.onMessage(m.type, m.body);
        } finally {
          if (!this.closedAlready) this.socket.resume();
        }
      }
    } catch (err) {
      this.close(isPgmoatError(err) ? err : new PgmoatError('ADMIN_INTERNAL', errorMessage(err)));
    } finally {
      this.draining = false;
    }
  }

  private async onMessage(type: number, body: Buffer): Promise<void> {
    if (type === Frontend.Terminate) {
      this.close();
      return;
    }
    if (type === Frontend.Sync) {
      this.skipToSync = false;
      this.write([msg.READY_IDLE]);
      return;
    }
    if (EXTENDED.includes(type)) {
      if (!this.skipToSync) {
        this.skipToSync = true;
        this.write([errorResponseFor(new PgmoatError('ADMIN_SIMPLE_ONLY', 'the admin console accepts only simple queries', { severity: 'ERROR' }))]);
      }
      return;
    }
    if (type !== Frontend.Query) {
      this.close(new PgmoatError('ADMIN_PROTOCOL', `unexpected message type 0x${type.toString(16)}`));
      return;
    }
    const nul = body.indexOf(0);
    if (nul < 0) {
      this.close(new PgmoatError('ADMIN_PROTOCOL', 'invalid Query message'));
      return;
    }
    await this.runQuery(body.toString('utf8', 0, nul));
  }

  private async runQuery(sql: string): Promise<void> {
    const statements = splitStatements(sql);
    if (statements.length === 0) {
      this.write([msg.emptyQueryResponse(), msg.READY_IDLE]);
      return;
    }
    for (const stmt of statements) {
      this.host.recheck(this); // FATAL (thrown) when the identity lost its rights
      let result: CommandResult;
      try {
        result = await this.host.execute(this, parseCommand(stmt));
      } catch (err) {
        if (isPgmoatError(err) && err.severity === 'FATAL') throw err;
        const e = isPgmoatError(err) ? err : new PgmoatError('ADMIN_INTERNAL', errorMessage(err), { severity: 'ERROR' });
        this.write([errorResponseFor(e)]);
        break;
      }
      if (this.closedAlready) return;
      this.write(encodeResult(result));
    }
    this.write([msg.READY_IDLE]);
  }

  private write(parts: Buffer[]): void {
    if (this.closedAlready || !this.socket.writable) return;
    this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** Ends the session, with one ErrorResponse first when given. */
  close(error?: PgmoatError): void {
    if (this.closedAlready) return;
    this.closedAlready = true;
    this.messages.rest();
    const s = this.socket;
    if (error && s.writable) {
      s.end(errorResponseFor(error));
      setTimeout(() => s.destroy(), 1000).unref();
    } else {
      s.destroy();
    }
    this.host.closed(this);
  }
}
