/**
 * What the generators make and the executor runs: a script of steps on one connection, plain
 * JSON (bytes as hex) so that a failing batch can be saved and replayed as it was run.
 */

export type Layer = 'pre-tls' | 'tls' | 'post-login';
export const LAYERS: readonly Layer[] = ['pre-tls', 'tls', 'post-login'];

/** Client certificates the executor holds (made at start by the PKI). */
export type CertName = 'app' | 'admin' | 'none' | 'foreign' | 'expired' | 'revoked' | 'server-auth';

export type Step =
  /** Starts one input (counted when reached); `note` says what the generator made. */
  | { op: 'mark'; note: string }
  /** Bytes on the connection: through TLS once it is up, else on the TCP socket. */
  | { op: 'write'; hex: string }
  /** Bytes on the TCP socket under TLS (garbage records after a handshake). */
  | { op: 'write-raw'; hex: string }
  | { op: 'pause'; ms: number }
  /** Reads the one-byte answer to an SSLRequest (or GSSENCRequest); the script stops unless it is `expect`. */
  | { op: 'answer'; expect: 'S' | 'N' }
  /** A TLS handshake on the TCP socket with node:tls; the script stops when it fails. */
  | { op: 'tls'; cert: CertName; alpn?: string[]; tls12?: boolean; resume: boolean }
  /** StartupMessage, then waits for ReadyForQuery; the script stops on anything else. */
  | { op: 'login'; params: [string, string][] }
  /**
   * Gets back in step after a framed input and proves the session still answers: Sync,
   * Query ROLLBACK, Sync, then `sql`, whose answer must hold `marker`. The script stops when
   * no answer comes in time (or the connection closed).
   */
  | { op: 'probe'; sql: string; marker: string }
  /** A CancelRequest on a new connection for the BackendKeyData this session got. */
  | { op: 'cancel-own' }
  /** Reads until the peer closes or `ms` pass. */
  | { op: 'read'; ms: number }
  /** Half-close (FIN, after TLS close_notify when up), then wait for the peer briefly. */
  | { op: 'end' }
  /** Abortive close at once. */
  | { op: 'destroy' };

export interface Script {
  /** Index in the run: the PRNG stream that made it. */
  id: number;
  layer: Layer;
  /** The pool (database) a post-login script uses, for reports. */
  target?: string;
  steps: Step[];
}

export function inputsOf(script: Script): number {
  let n = 0;
  for (const s of script.steps) if (s.op === 'mark') n++;
  return n;
}

/** Helper for generators: a write step, or several with pauses when `cuts` split the bytes. */
export function writeSteps(bytes: Buffer, cuts: readonly number[] = [], pauseMs = 0, raw = false): Step[] {
  const op = raw ? 'write-raw' : 'write';
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const out: Step[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p <= from) continue;
    if (out.length > 0) out.push({ op: 'pause', ms: pauseMs });
    out.push({ op, hex: bytes.subarray(from, p).toString('hex') });
    from = p;
  }
  if (out.length === 0 && bytes.length === 0) return [];
  return out;
}
