/**
 * Proves to the person running the quick start that the gateway refuses clients without a
 * certificate: it connects twice, as an attacker would, and reports what the gateway answered.
 *   plain: a StartupMessage without any TLS;
 *   tls:   SSLRequest, a TLS handshake (the gateway's certificate verified) but no client certificate.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseErrorFields } from '../protocol/error-response.js';
import { SSL_REQUEST, startupMessage } from '../protocol/messages.js';
import { errorMessage } from '../util/errors.js';

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
  let buf = Buffer.alloc(0);
  let done = false;
  const finish = (refused: boolean, answer: string): void => {
    if (done) return;
    done = true;
    socket.destroy();
    onDone(refused, answer);
  };
  socket.setTimeout(PROBE_TIMEOUT_MS, () => finish(false, 'no answer within 10 s'));
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length > MAX_ANSWER) return finish(false, 'an oversized answer');
    if (buf.length < 5) return;
    const type = String.fromCharCode(buf[0]!);
    const len = buf.readInt32BE(1);
    if (buf.length < 1 + len) return;
    if (type === 'E') {
      const f = parseErrorFields(buf.subarray(5, 1 + len));
      return finish(true, `${f.severity} ${f.code}: ${f.message}`);
    }
    if (type === 'R' && len >= 8 && buf.readInt32BE(5) === 0) return finish(false, 'AuthenticationOk (a session was offered!)');
    finish(false, `an unexpected message of type ${JSON.stringify(type)}`);
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
    raw.setTimeout(PROBE_TIMEOUT_MS, () => {
      raw.destroy();
      done(false, 'no answer to SSLRequest within 10 s');
    });
    raw.once('connect', () => raw.write(SSL_REQUEST));
    raw.once('data', (reply: Buffer) => {
      raw.setTimeout(0);
      raw.removeAllListeners('error');
      if (reply[0] !== 0x53 /* S */) {
        raw.destroy();
        return done(true, `SSLRequest answered ${JSON.stringify(String.fromCharCode(reply[0] ?? 0))} instead of "S"`);
      }
      // The gateway's certificate is verified as libpq's verify-full would: only the client's is missing.
      const tls = tlsConnect({ socket: raw, host, ca: caPem, ...(isIP(host) ? {} : { servername: host }) });
      tls.once('secureConnect', () => tls.write(startup(database, user)));
      readAnswer(tls, done);
    });
  });
}
