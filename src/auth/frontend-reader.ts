/**
 * Reads whole typed messages from a client during authentication (between the StartupMessage
 * and AuthenticationOk), when only a few small messages are expected. Lengths are checked
 * before anything is buffered; bytes after the last message read are handed back by detach().
 */
import type { Socket } from 'node:net';
import { BadMessageLength, MessageReader, type WholeMessage } from '../protocol/message-reader.js';
import { PgmoatError } from '../util/errors.js';

export type FrontendMessage = WholeMessage;

/** The client went away (or the login deadline passed) before answering. */
export class AuthAbandoned extends PgmoatError {
  constructor(code: 'AUTH_ABANDONED' | 'AUTH_TIMEOUT', message: string) {
    super(code, message);
  }
}

export class FrontendReader {
  private readonly messages: MessageReader;
  private waiter: { resolve: (m: FrontendMessage) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.messages.push(chunk);
    this.deliver();
  };
  private readonly onEnd = (): void => this.fail(new AuthAbandoned('AUTH_ABANDONED', 'the client closed the connection during authentication'));
  private readonly onAbort = (): void => this.fail(new AuthAbandoned('AUTH_TIMEOUT', 'the client did not complete authentication within client_login_timeout'));

  constructor(
    private readonly socket: Socket,
    initial: Buffer | undefined,
    maxLength: number,
    private readonly signal?: AbortSignal,
  ) {
    this.messages = new MessageReader(maxLength);
    if (initial) this.messages.push(initial);
    socket.on('data', this.onData);
    socket.on('close', this.onEnd);
    socket.on('end', this.onEnd);
    socket.on('error', this.onEnd);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  /** The next whole message; rejects when the client leaves, times out or sends a bad length. */
  next(): Promise<FrontendMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
      if (this.waiter) this.socket.resume();
    });
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) return;
    let m: WholeMessage | undefined;
    try {
      m = this.messages.next();
    } catch (err) {
      if (!(err instanceof BadMessageLength)) throw err;
      this.fail(new PgmoatError('BAD_AUTH_MESSAGE', `invalid message length ${err.length} during authentication`));
      return;
    }
    if (!m) return;
    this.waiter = undefined;
    this.socket.pause();
    // A copy: the caller may keep it past the bytes it was read from.
    w.resolve({ type: m.type, body: Buffer.from(m.body) });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  /** Stops reading; returns what arrived after the last message (a pipelining client). */
  detach(): Buffer | undefined {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onEnd);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onEnd);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.socket.pause();
    return this.messages.rest();
  }
}
