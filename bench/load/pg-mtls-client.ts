/**
 * A minimal PostgreSQL client for the load generators: SSLRequest, a mutual-TLS handshake with
 * the client certificate, a StartupMessage, and the answer read up to ReadyForQuery. It is its
 * own small wire implementation on purpose: the benchmark must not measure pgmoat with pgmoat's
 * code, and it must cost the client as little as possible.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';

export interface MtlsTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** PEM texts, read once by the caller. */
  cert: string;
  key: string;
  ca: string;
  /** Name checked against the server certificate (and sent as SNI). */
  servername: string;
}

export interface OpenSession {
  socket: TLSSocket;
  /** The TLS session resumed a previous one (ticket accepted). */
  resumed: boolean;
  protocol: string | null;
  cipher: string;
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`, 'utf8');
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(0x00030000, 4);
  body.copy(out, 8);
  return out;
}

/** The text of an ErrorResponse body (the M field), for a readable failure. */
function errorText(body: Buffer): string {
  let i = 0;
  let severity = '';
  let message = '';
  while (i < body.length && body[i] !== 0) {
    const field = body[i]!;
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    const value = body.toString('utf8', i + 1, end);
    if (field === 0x53) severity = value; // S
    if (field === 0x4d) message = value; // M
    i = end + 1;
  }
  return `${severity || 'ERROR'}: ${message}`;
}

/** Waits for ReadyForQuery; rejects on an ErrorResponse or a close. Leaves the socket paused-free. */
function readUntilReady(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('server closed the connection during login'));
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let i = 0;
      while (buf.length - i >= 5) {
        const type = buf[i]!;
        const len = buf.readInt32BE(i + 1);
        if (buf.length - i < len + 1) break;
        if (type === 0x45) {
          cleanup();
          reject(new Error(errorText(buf.subarray(i + 5, i + 1 + len))));
          return;
        }
        if (type === 0x52 && buf.readInt32BE(i + 5) !== 0) {
          cleanup();
          reject(new Error(`server asked for authentication method ${buf.readInt32BE(i + 5)}; the benchmark expects certificate login`));
          return;
        }
        if (type === 0x5a) {
          cleanup();
          resolve();
          return;
        }
        i += len + 1;
      }
      buf = buf.subarray(i);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

/**
 * One secure context per target: building it parses the key and the CA bundle, which would
 * otherwise be paid by every connection and make the client, not the server, the bottleneck.
 */
const contexts = new WeakMap<MtlsTarget, SecureContext>();
function contextFor(t: MtlsTarget): SecureContext {
  let ctx = contexts.get(t);
  if (!ctx) {
    ctx = createSecureContext({ cert: t.cert, key: t.key, ca: t.ca });
    contexts.set(t, ctx);
  }
  return ctx;
}

/**
 * Opens one logged-in session. `session` is a TLS session from an earlier connection to offer
 * for resumption; `onSession` receives the tickets this connection is given.
 */
export function openSession(t: MtlsTarget, session?: Buffer, onSession?: (s: Buffer) => void): Promise<OpenSession> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host: t.host, port: t.port, noDelay: true });
    const fail = (err: Error): void => {
      raw.destroy();
      reject(err);
    };
    raw.once('error', fail);
    raw.once('connect', () => raw.write(SSL_REQUEST));
    raw.once('data', (answer: Buffer) => {
      raw.pause();
      if (answer.length !== 1 || answer[0] !== 0x53) {
        fail(new Error(`server refused SSL (answered ${JSON.stringify(answer.toString('latin1', 0, 16))})`));
        return;
      }
      raw.off('error', fail);
      const socket = tlsConnect({
        socket: raw,
        servername: t.servername,
        secureContext: contextFor(t),
        ...(session ? { session } : {}),
      });
      if (onSession) socket.on('session', onSession);
      socket.once('error', (err) => {
        socket.destroy();
        reject(err);
      });
      socket.once('secureConnect', () => {
        socket.removeAllListeners('error');
        socket.write(startupMessage(t.user, t.database));
        readUntilReady(socket).then(
          () => {
            socket.on('error', () => undefined); // an idle socket may be reset at teardown
            resolve({ socket, resumed: socket.isSessionReused(), protocol: socket.getProtocol(), cipher: socket.getCipher().name });
          },
          (err: Error) => {
            socket.destroy();
            reject(err);
          },
        );
      });
    });
  });
}

/** Sends Terminate and half-closes: what a well-behaved client does. The server closes its side. */
export function closeSession(s: OpenSession): void {
  s.socket.end(TERMINATE);
  // A server that never closes must not keep the socket.
  setTimeout(() => s.socket.destroy(), 5000).unref();
}
