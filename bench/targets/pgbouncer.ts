/**
 * PgBouncer configured like pgmoat: client-side mutual TLS (verify-full, auth_type=cert so the
 * certificate's CN is the user), transaction pooling, the same pool size and certificates,
 * plain TCP upstream. PgBouncer refuses to run as root, so when we are root it runs as the
 * `postgres` user from a directory of copies it owns.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Pki } from '../../test/harness/cert-factory.js';
import { freePort } from '../../test/harness/free-port.js';
import { BENCH_DB, BENCH_ROLE } from './postgres.js';
import { stopProcess, waitForPort, type RunningPooler } from './pooler.js';
import { processTree } from './process-stats.js';

export const PGBOUNCER_INSTALL_HINT = 'PgBouncer is not installed: apt-get install pgbouncer (the benchmark runs without it)';

export function findPgbouncer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, 'pgbouncer'))) return join(dir, 'pgbouncer');
  }
  return undefined;
}

export function pgbouncerVersion(bin: string): string {
  const first = execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  return first.replace(/^PgBouncer\s+/i, '').trim();
}

/** Orders versions like "1.25.2" and "1.18.0" newest first (numeric parts; anything after them is ignored). */
export function newerPgbouncerFirst(a: string, b: string): number {
  const parts = (v: string): number[] => (v.match(/^\d+(?:\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (y[i] ?? 0) - (x[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** PgBouncer 1.23 made SIGQUIT its immediate shutdown (SIGTERM became "wait for the clients"). */
export function pgbouncerHasSigquitShutdown(version: string): boolean {
  return newerPgbouncerFirst(version, '1.23') <= 0;
}

/** max_prepared_statements arrived in PgBouncer 1.21. */
export function pgbouncerHasPreparedStatements(version: string): boolean {
  return newerPgbouncerFirst(version, '1.21') <= 0;
}

interface RunAs {
  uid: number;
  gid: number;
}

function unprivileged(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface PgbouncerOptions {
  bin: string;
  version: string;
  pki: Pki;
  upstreamPort: number;
  poolSize: number;
  maxClientConn: number;
  /** Where its log goes (kept after the run). */
  logPath: string;
}

export async function startPgbouncer(o: PgbouncerOptions): Promise<RunningPooler> {
  const runAs = unprivileged();
  const dir = mkdtempSync('/tmp/pgmoat-bench-pgbouncer-');
  const own = (path: string, mode: number): void => {
    chmodSync(path, mode);
    if (runAs) chownSync(path, runAs.uid, runAs.gid);
  };
  own(dir, 0o700);
  const file = (name: string, text: string, mode = 0o600): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    own(path, mode);
    return path;
  };
  const port = await freePort();
  const ca = file('ca.crt', o.pki.main.caPem);
  const cert = file('server.crt', o.pki.server.certPem);
  const key = file('server.key', o.pki.server.keyPem);
  // auth_type=cert takes the user from the certificate; the auth_file only names it.
  const userlist = file('userlist.txt', `"${BENCH_ROLE}" ""\n`);
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'cert',
    auth_file: userlist,
    pool_mode: 'transaction',
    default_pool_size: o.poolSize,
    max_client_conn: o.maxClientConn,
    client_tls_sslmode: 'verify-full',
    client_tls_ca_file: ca,
    client_tls_cert_file: cert,
    client_tls_key_file: key,
    server_tls_sslmode: 'disable',
    // Like pgmoat's default: a connection idle for 30 s is checked before reuse.
    server_check_delay: 30,
  };
  if (pgbouncerHasPreparedStatements(o.version)) settings.max_prepared_statements = 200;
  const ini = [
    '[databases]',
    `${BENCH_DB} = host=127.0.0.1 port=${o.upstreamPort} dbname=${BENCH_DB} user=${BENCH_ROLE}`,
    '',
    '[pgbouncer]',
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
    '',
  ].join('\n');
  const iniPath = file('pgbouncer.ini', ini);
  const logPath = o.logPath;
  const logFd = openSync(logPath, 'a');
  const proc = spawn(o.bin, [iniPath], { stdio: ['ignore', logFd, logFd], cwd: dir, ...(runAs ?? {}) });
  closeSync(logFd);
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.on('exit', killOnExit);
  try {
    await waitForPort(port, proc, logPath);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`PgBouncer ${(err as Error).message}`);
  }
  return {
    label: 'PgBouncer',
    port,
    logPath,
    pids: () => processTree(proc.pid!),
    async stop() {
      // Immediate shutdown: SIGTERM before PgBouncer 1.23 (SIGINT would wait for clients); from
      // 1.23 on, SIGTERM waits for every client to leave and SIGQUIT is the immediate one.
      await stopProcess(proc, 5000, pgbouncerHasSigquitShutdown(o.version) ? 'SIGQUIT' : 'SIGTERM');
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
