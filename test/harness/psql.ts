/** psql run asynchronously (an in-process gateway must keep its event loop turning). */
import { execFile } from 'node:child_process';
import { pgTool } from './pg-binaries.js';

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ClientCertFiles {
  certPath: string;
  keyPath: string;
  caPath: string;
}

/** A libpq connection string for a gateway or server on 127.0.0.1. */
export function conninfo(port: number, opts: { user: string; dbname: string; sslmode?: string; cert?: ClientCertFiles; host?: string; extra?: string }): string {
  const parts = [`host=${opts.host ?? '127.0.0.1'}`, `port=${port}`, `user=${opts.user}`, `dbname=${opts.dbname}`, `sslmode=${opts.sslmode ?? 'verify-full'}`, 'connect_timeout=10'];
  if (opts.cert) parts.push(`sslcert=${opts.cert.certPath}`, `sslkey=${opts.cert.keyPath}`, `sslrootcert=${opts.cert.caPath}`);
  if (opts.extra) parts.push(opts.extra);
  return parts.join(' ');
}

export function psql(conn: string, sql: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(
      pgTool('psql'),
      ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, conn],
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...opts.env }, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}
