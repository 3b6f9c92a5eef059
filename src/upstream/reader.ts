/**
 * Reads of plain-TCP upstream sockets through net's `onread` option: every read lands in one
 * buffer shared by all of them, so a read costs no Buffer allocation, no Readable push and no
 * 'data' event. The price is that a view of a read is valid only during the call that gets it;
 * whoever keeps bytes past that copies them (ServerConnection.write, through `writableFor`).
 *
 * Which sockets: those of tls.mode disable, allow's plain attempt, and prefer, whose answer to the
 * SSLRequest is read here too; a server that answers 'N' stays on this path. When it answers 'S',
 * the TLSSocket wrapped around the socket reads the handle itself and the reader gets nothing more
 * (require and verify-* open their sockets without one). TLS upstreams keep 'data': Node's
 * TLSSocket takes `onread` only when it opens the TCP connection itself, and the SSLRequest must go
 * out in clear first.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What net.connect's `onread` option takes. */
export interface OnReadOption {
  buffer: Uint8Array;
  callback: (bytes: number, buf: Uint8Array) => boolean;
}

/** Large enough for what a server sends in one go; the kernel hands over at most this per read. */
const READ_BUFFER_BYTES = 64 * 1024;

let sharedReadBuffer: Buffer | null = null;

export type ReadSink = (chunk: Buffer) => void;

/** Before the login routes reads and after teardown; the socket is paused in between, so nothing is lost. */
const NOBODY: ReadSink = () => undefined;

/** Routes one socket's reads to whoever holds it: the login exchange first, then its ServerConnection. */
export class UpstreamReader {
  private sink: ReadSink = NOBODY;
  readonly option: OnReadOption;

  constructor() {
    const shared = (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES));
    this.option = {
      buffer: shared,
      callback: (bytes: number): boolean => {
        this.sink(shared.subarray(0, bytes));
        return true;
      },
    };
  }

  /** Sends every later read to `sink`; the views it gets are valid only during each call. */
  routeTo(sink: ReadSink): void {
    this.sink = sink;
  }

  /** Stops delivering (the connection is being torn down). */
  detach(): void {
    this.sink = NOBODY;
  }
}

/**
 * True when a write to `socket` consumes the bytes before it returns. A TLS socket with nothing
 * queued encrypts them at once (Node's TLSWrap either SSL_writes or copies them); anything queued,
 * corked or plain may keep a reference to them.
 */
function takesAtOnce(socket: Socket | TLSSocket): boolean {
  return (socket as TLSSocket).encrypted === true && socket.writableLength === 0 && socket.writableCorked === 0 && !socket.connecting && !socket.destroyed;
}

/**
 * `buf` as it may be written to `socket`: a view of the shared read buffer is copied unless the
 * socket consumes it at once; anything else (a joined or assembled buffer, a constant) goes as is.
 */
export function writableFor(socket: Socket | TLSSocket, buf: Buffer): Buffer {
  return sharedReadBuffer !== null && buf.buffer === sharedReadBuffer.buffer && !takesAtOnce(socket) ? Buffer.from(buf) : buf;
}

/** Sends a socket's reads to `sink`: through its reader when it has one, else as 'data' events. */
export function readFrom(socket: Socket | TLSSocket, reader: UpstreamReader | null, sink: ReadSink): void {
  if (reader) reader.routeTo(sink);
  else socket.on('data', sink);
}

/** Undoes readFrom. */
export function stopReading(socket: Socket | TLSSocket, reader: UpstreamReader | null, sink: ReadSink): void {
  if (reader) reader.detach();
  else socket.off('data', sink);
}
