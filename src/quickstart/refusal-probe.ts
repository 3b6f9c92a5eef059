/**
 * Proves to the person running the quick start that the gateway refuses clients without a
 * certificate: it connects twice, as an attacker would, and reports what the gateway answered.
 *   plain: a StartupMessage without any TLS;
 *   tls:   SSLRequest, a TLS handshake (the gateway's certificate verified) but no client certificate.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { AuthCode, Backend } from '../protocol/codes.js';
import { parseErrorFields } from '../protocol/error-response.js';
import { BadMessageLength, MessageReader } from '../protocol/message-reader.js';
import { startupMessage } from '../protocol/messages.js';
import { requestSsl, type SslRequestOutcome } from '../upstream/ssl-request.js';
import { assertNever, errorMessage } from '../util/errors.js';

export interface ProbeOutcome {
  attempt: 'plain' | 'tls-without-certificate';
  /** True when no PostgreSQL session was offered (no AuthenticationOk). */
  refused: boolean;
  /** What the gateway answered: "FATAL 28000: ..." or the TLS / socket error. */
  answer: string;
}

const PROBE_TIMEOUT_MS = 10_000;
const MAX_ANSWER = 64 * 1024;

/** Reads the first backend message after the startup packet and describes it. */
function readAnswer(socket: Socket, onDone: (refused: boolean, answer: string) => void): void {
  const messages = new MessageReader(MAX_ANSWER);
  let done = false;
  const finish = (refused: boolean, answer: string): void => {
    if (done) return;
    done = true;
    socket.destroy();
    onDone(refused, answer);
  };
  socket.setTimeout(PROBE_TIMEOUT_MS, () => finish(false, 'no answer within 10 s'));
  socket.on('data', (chunk: Buffer) => {
    messages.push(chunk);
    let m;
    try {
      m = messages.next();
    } catch (err) {
      if (!(err instanceof BadMessageLength)) throw err;
      return finish(false, err.length > MAX_ANSWER ? 'an oversized answer' : `a message of invalid length ${err.length}`);
    }
    if (m === undefined) return;
    if (m.type === Backend.ErrorResponse) {
      const f = parseErrorFields(m.body);
      return finish(true, `${f.severity} ${f.code}: ${f.message}`);
    }
    if (m.type === Backend.Authentication && m.body.length >= 4 && m.body.readInt32BE(0) === AuthCode.Ok) return finish(false, 'AuthenticationOk (a session was offered!)');
    finish(false, `an unexpected message of type ${JSON.stringify(String.fromCharCode(m.type))}`);
  });
  socket.on('error', (err) => finish(true, `connection failed: ${errorMessage(err)}`));
  socket.on('close', () => finish(true, 'the gateway closed the connection without a word'));
}

function startup(database: string, user: string): Buffer {
  return startupMessage({ user, database });
}

export function probePlain(host: string, port: number, database: string, user: string): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    socket.once('connect', () => socket.write(startup(database, user)));
    readAnswer(socket, (refused, answer) => resolve({ attempt: 'plain', refused, answer }));
  });
}

export function probeTlsWithoutCertificate(host: string, port: number, database: string, user: string, caPem: string): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const done = (refused: boolean, answer: string): void => resolve({ attempt: 'tls-without-certificate', refused, answer });
    const raw = netConnect({ host, port });
    raw.once('error', (err) => done(true, `connection failed: ${errorMessage(err)}`));
    raw.once('connect', () => {
      void requestSsl(raw, AbortSignal.timeout(PROBE_TIMEOUT_MS)).then((answer) => {
        if (answer.kind !== 'tls') return done(answer.kind !== 'aborted', sslRefusal(answer));
        // The gateway's certificate is verified as libpq's verify-full would: only the client's is missing.
        const tls = tlsConnect({ socket: raw, host, ca: caPem, ...(isIP(host) ? {} : { servername: host }) });
        tls.once('secureConnect', () => tls.write(startup(database, user)));
        readAnswer(tls, done);
      });
    });
  });
}

function sslRefusal(answer: Exclude<SslRequestOutcome, { kind: 'tls' }>): string {
  switch (answer.kind) {
    case 'plain':
      return 'SSLRequest answered "N" instead of "S"';
    case 'injected':
      return `SSLRequest answered "S" followed by ${answer.extraBytes} unencrypted bytes`;
    case 'error-response':
      return 'SSLRequest answered "E" instead of "S"';
    case 'foreign':
      return `SSLRequest answered bytes ${answer.firstBytes} instead of "S"`;
    case 'closed':
      return 'the gateway closed the connection without answering the SSLRequest';
    case 'socket-error':
      return `connection failed: ${errorMessage(answer.error)}`;
    case 'aborted':
      return 'no answer to SSLRequest within 10 s';
    default:
      return assertNever(answer, 'SSLRequest answer');
  }
}
