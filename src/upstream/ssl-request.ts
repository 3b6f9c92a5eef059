/**
 * Sends SSLRequest and reads the server's one-byte answer: the one routine for the upstream
 * dialer, `pgmoat doctor` and the quick start's refusal probe. Each caller words the outcome its
 * own way; what the bytes mean is protocol/ssl-answer.ts.
 */
import type { Socket } from 'node:net';
import * as msg from '../protocol/messages.js';
import { classifySslAnswer, type SslAnswer } from '../protocol/ssl-answer.js';
import { readFrom, stopReading, type UpstreamReader } from './reader.js';

export type SslRequestOutcome =
  | SslAnswer
  /** The server closed the connection before answering. */
  | { kind: 'closed' }
  | { kind: 'socket-error'; error: NodeJS.ErrnoException }
  | { kind: 'aborted'; reason: unknown };

/**
 * On 'tls' (go on with the TLS handshake) and 'plain' the socket is left open and paused; on
 * every other outcome it is destroyed. Bytes after the answer in the same read are 'injected'
 * (CVE-2021-23222), never handed on. `reader`: read through it instead of 'data' events.
 */
export function requestSsl(socket: Socket, signal: AbortSignal, reader: UpstreamReader | null = null): Promise<SslRequestOutcome> {
  return new Promise((resolve) => {
    const end = (outcome: SslRequestOutcome): void => {
      stopReading(socket, reader, onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (outcome.kind === 'tls' || outcome.kind === 'plain') {
        socket.pause();
      } else {
        socket.on('error', () => undefined); // whatever the teardown raises is of no interest
        socket.destroy();
      }
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => end(classifySslAnswer(chunk));
    const onError = (error: NodeJS.ErrnoException): void => end({ kind: 'socket-error', error });
    const onClose = (): void => end({ kind: 'closed' });
    const onAbort = (): void => end({ kind: 'aborted', reason: signal.reason });
    if (signal.aborted) {
      onAbort();
      return;
    }
    readFrom(socket, reader, onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(msg.SSL_REQUEST);
  });
}
