/**
 * Test-only: a socket without a network, enough of net.Socket for ClientSession and
 * ServerConnection. What pgmoat writes is recorded; what the peer sends is pushed in with
 * receive(). 'close' follows destroy() asynchronously, as it does on a real socket.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

export class FakeSocket extends EventEmitter {
  /** Everything written, in order (copies: the relay may pass views of a shared buffer). */
  readonly written: Buffer[] = [];
  paused = false;
  destroyed = false;
  writable = true;
  ended = false;
  bytesWritten = 0;
  writableNeedDrain = false;
  /** false: write() reports a full buffer, as a socket whose peer stopped reading. */
  accepting = true;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 5432;

  /** This object where the code under test wants a net.Socket. */
  get asSocket(): Socket {
    // A cast: the fake implements only the part of net.Socket that the relay uses.
    return this as unknown as Socket;
  }

  write(buf: Buffer | Uint8Array): boolean {
    if (this.destroyed) return false;
    this.written.push(Buffer.from(buf));
    this.bytesWritten += buf.length;
    if (!this.accepting) this.writableNeedDrain = true;
    return this.accepting;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  end(buf?: Buffer): this {
    if (buf !== undefined) this.write(buf);
    this.ended = true;
    this.writable = false;
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    setImmediate(() => this.emit('close', false));
    return this;
  }

  // ---- the peer's side --------------------------------------------------------------------

  /** Bytes from the peer. */
  receive(buf: Buffer): void {
    if (!this.destroyed) this.emit('data', buf);
  }

  /** The peer hung up. */
  hangUp(): void {
    this.destroy();
  }

  /** The peer reads again: write() accepts and 'drain' is emitted. */
  drain(): void {
    this.accepting = true;
    this.writableNeedDrain = false;
    this.emit('drain');
  }

  /** Everything written since the last take, joined. */
  take(): Buffer {
    const out = Buffer.concat(this.written);
    this.written.length = 0;
    return out;
  }
}
