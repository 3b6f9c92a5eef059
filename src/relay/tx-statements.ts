/**
 * Transaction mode with named prepared statements. Client side: Parse, Bind, Describe and
 * Close that name a statement are rewritten to the statement's server-side name, and a Parse is
 * inserted on a server connection that has not prepared it yet. Server side: responses are
 * matched against the RequestQueue so that answers to inserted requests are hidden and answers
 * to skipped ones are made up, each in its place in the stream.
 */
import { cstringEnd } from '../protocol/body-reader.js';
import { Backend, Frontend } from '../protocol/codes.js';
import { DROP, FORWARD, type FrameAction, type FrameScanner } from '../protocol/frame-scanner.js';
import { MessageWriter } from '../protocol/message-writer.js';
import { READY_IDLE } from '../protocol/messages.js';
import type { StatementDef, StatementRegistry, ServerStatementCache } from './statement-registry.js';
import { HIDE, PASS, SYNTH, type RequestQueue } from './request-queue.js';

const PARSE_COMPLETE = Buffer.from([Backend.ParseComplete, 0, 0, 0, 4]);
const CLOSE_COMPLETE = Buffer.from([Backend.CloseComplete, 0, 0, 0, 4]);

/** Server message types looked into in transaction mode with statement tracking. */
export const TRACKED_RESPONSES = [
  Backend.ParseComplete,
  Backend.BindComplete,
  Backend.CloseComplete,
  Backend.RowDescription,
  Backend.NoData,
  Backend.CommandComplete,
  Backend.EmptyQueryResponse,
  Backend.PortalSuspended,
  Backend.ErrorResponse,
  Backend.ReadyForQuery,
];

/** What the client side needs of the server connection it is linked with. */
export interface TrackedServer {
  readonly queue: RequestQueue;
  readonly statements: ServerStatementCache;
}

const writer = new MessageWriter(256);

/** A copy of a message whose statement name at [nameStart, nameEnd) is replaced. */
function withStatementName(type: number, buf: Buffer, start: number, end: number, nameStart: number, nameEnd: number, name: string): Buffer {
  writer.reset().begin(type);
  writer.bytes(buf.subarray(start, nameStart));
  writer.cstring(name);
  writer.bytes(buf.subarray(nameEnd + 1, end));
  return writer.end().take();
}

/** Per-client state: its statement names and what they stand for. */
export class ClientStatements {
  readonly byName = new Map<string, StatementDef>();

  constructor(private readonly registry: StatementRegistry) {}

  /** Makes sure `def` is prepared on the server, writing a hidden Parse (and an eviction Close) if not. */
  private ensurePrepared(scanner: FrameScanner, server: TrackedServer, def: StatementDef, hidden: boolean): boolean {
    if (server.statements.has(def.serverName)) return true;
    const evicted = server.statements.add(def.serverName);
    if (evicted !== undefined) {
      writer.reset().begin(Frontend.Close).int8(0x53).cstring(evicted).end();
      scanner.emit(writer.take());
      server.queue.push(Frontend.Close, HIDE);
    }
    scanner.emit(def.parseMessage);
    server.queue.push(Frontend.Parse, hidden ? HIDE : PASS, def.serverName);
    return false;
  }

  /**
   * A client without a server (between transactions) that only prepares statements (libpq's
   * PQprepare: Parse + Sync) is answered by pgmoat: the statement is prepared on a server when
   * first bound. Without this a client that prepares synchronously while another client of its
   * own process holds the last server connection (pgbench -M prepared) would wait forever.
   * Returns the offset of the first message that needs a server.
   */
  answerWithoutServer(chunk: Buffer, write: (buf: Buffer) => void): number {
    let i = 0;
    while (chunk.length - i >= 5) {
      const type = chunk[i]!;
      const len = chunk.readInt32BE(i + 1);
      const end = i + 1 + len;
      if (len < 4 || end > chunk.length) break;
      const start = i + 5;
      if (type === Frontend.Parse) {
        const nameEnd = cstringEnd(chunk, start, end);
        if (nameEnd <= start) break;
        this.byName.set(chunk.toString('utf8', start, nameEnd), this.registry.lookup(chunk, nameEnd + 1, end));
        write(PARSE_COMPLETE);
      } else if (type === Frontend.Close && chunk[start] === 0x53) {
        const nameEnd = cstringEnd(chunk, start + 1, end);
        if (nameEnd <= start + 1) break;
        this.byName.delete(chunk.toString('utf8', start + 1, nameEnd));
        write(CLOSE_COMPLETE);
      } else if (type === Frontend.Sync) {
        write(READY_IDLE);
      } else if (type !== Frontend.Flush) {
        break;
      }
      i = end;
    }
    return i;
  }

  /** A message from the client, body at buf[start, end). */
  onClientMessage(type: number, buf: Buffer, start: number, end: number, scanner: FrameScanner, server: TrackedServer): FrameAction {
    const queue = server.queue;
    switch (type) {
      case Frontend.Parse: {
        const nameEnd = cstringEnd(buf, start, end);
        if (nameEnd <= start) {
          queue.push(type, PASS);
          return FORWARD;
        }
        const name = buf.toString('utf8', start, nameEnd);
        const def = this.registry.lookup(buf, nameEnd + 1, end);
        this.byName.set(name, def);
        if (this.ensurePrepared(scanner, server, def, false)) queue.push(type, SYNTH);
        return DROP;
      }
      case Frontend.Bind: {
        const portalEnd = cstringEnd(buf, start, end);
        const nameEnd = portalEnd < 0 ? -1 : cstringEnd(buf, portalEnd + 1, end);
        const def = nameEnd > portalEnd + 1 ? this.byName.get(buf.toString('utf8', portalEnd + 1, nameEnd)) : undefined;
        if (def === undefined) {
          queue.push(type, PASS);
          return FORWARD;
        }
        this.ensurePrepared(scanner, server, def, true);
        scanner.emit(withStatementName(type, buf, start, end, portalEnd + 1, nameEnd, def.serverName));
        queue.push(type, PASS);
        return DROP;
      }
      case Frontend.Describe:
      case Frontend.Close: {
        const nameEnd = cstringEnd(buf, start + 1, end);
        const def = buf[start] === 0x53 && nameEnd > start + 1 ? this.byName.get(buf.toString('utf8', start + 1, nameEnd)) : undefined;
        if (def === undefined) {
          queue.push(type, PASS);
          return FORWARD;
        }
        if (type === Frontend.Close) {
          // The server keeps it cached for other clients; this client just forgets the name.
          this.byName.delete(buf.toString('utf8', start + 1, nameEnd));
          queue.push(type, SYNTH);
          return DROP;
        }
        this.ensurePrepared(scanner, server, def, true);
        scanner.emit(withStatementName(type, buf, start, end, start + 1, nameEnd, def.serverName));
        queue.push(type, PASS);
        return DROP;
      }
      case Frontend.Execute:
      case Frontend.Sync:
      case Frontend.Query:
      case Frontend.FunctionCall:
        queue.push(type, PASS);
        return FORWARD;
      default:
        return FORWARD;
    }
  }
}

/** Whether a response completes the request of kind `head` (false: part of a longer answer). */
function completes(type: number, head: number): boolean {
  switch (type) {
    case Backend.ParseComplete:
      return head === Frontend.Parse;
    case Backend.BindComplete:
      return head === Frontend.Bind;
    case Backend.CloseComplete:
      return head === Frontend.Close;
    case Backend.RowDescription:
    case Backend.NoData:
      return head === Frontend.Describe;
    case Backend.CommandComplete:
    case Backend.EmptyQueryResponse:
    case Backend.PortalSuspended:
      return head === Frontend.Execute;
    case Backend.ReadyForQuery:
      return head === Frontend.Sync || head === Frontend.Query || head === Frontend.FunctionCall;
    default:
      return false;
  }
}

/** Answers the requests pgmoat skipped that are now at the head of the queue. */
function emitSynthetic(queue: RequestQueue, scanner: FrameScanner): void {
  for (let e = queue.peek(); e !== undefined && e.action === SYNTH; e = queue.peek()) {
    scanner.emit(e.kind === Frontend.Parse ? PARSE_COMPLETE : CLOSE_COMPLETE);
    queue.shift();
  }
}

/**
 * A response from the server, body at buf[start, end). Returns DROP when it was hidden or
 * already written (so that made-up answers could follow it in order).
 */
export function onServerResponse(type: number, buf: Buffer, start: number, end: number, scanner: FrameScanner, server: TrackedServer): FrameAction {
  const queue = server.queue;
  const head = queue.peek();
  if (head === undefined) return FORWARD;
  if (type === Backend.ErrorResponse) {
    // A simple Query or FunctionCall still ends with its ReadyForQuery.
    if (head.kind === Frontend.Query || head.kind === Frontend.FunctionCall) return FORWARD;
    // Extended protocol: the server skips everything up to the next Sync.
    for (let e = queue.peek(); e !== undefined && e.kind !== Frontend.Sync; e = queue.peek()) {
      if (e.kind === Frontend.Parse && e.statement !== undefined) server.statements.delete(e.statement);
      queue.shift();
    }
    return FORWARD;
  }
  if (!completes(type, head.kind)) return FORWARD;
  const action = head.action;
  queue.shift();
  if (action === HIDE) {
    emitSynthetic(queue, scanner);
    return DROP;
  }
  if (queue.peek()?.action !== SYNTH) return FORWARD;
  // Made-up answers must come after this message: write it now, then them.
  scanner.emit(buf.subarray(start - 5, end));
  emitSynthetic(queue, scanner);
  return DROP;
}

/** Made-up answers now at the head of the queue go out (after whatever the scanner is on). */
export function flushLeadingSynthetic(server: TrackedServer, scanner: FrameScanner): void {
  emitSynthetic(server.queue, scanner);
}

/** True when made-up answers are at the head of the queue (they follow the message being handled). */
export function hasLeadingSynthetic(queue: RequestQueue): boolean {
  return queue.peek()?.action === SYNTH;
}

/** True when a ReadyForQuery answers the request at the head of the queue. */
export function completesReady(queue: RequestQueue): boolean {
  const head = queue.peek();
  return head !== undefined && completes(Backend.ReadyForQuery, head.kind);
}

/**
 * When nothing else is owed before them, answers to skipped requests go straight to the client:
 * no server response will come to carry them.
 */
export function answerLeadingSynthetic(queue: RequestQueue, write: (buf: Buffer) => void): void {
  for (let e = queue.peek(); e !== undefined && e.action === SYNTH; e = queue.peek()) {
    write(e.kind === Frontend.Parse ? PARSE_COMPLETE : CLOSE_COMPLETE);
    queue.shift();
  }
}
