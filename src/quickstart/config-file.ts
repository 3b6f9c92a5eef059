/** The pgmoat.yaml the quick start writes into DIR (again on every run: it follows --port and --upstream). */
import { stringify } from 'yaml';
import type { TlsMode } from '../config/schema.js';

export const QUICKSTART_DATABASE = 'demo';

export interface QuickstartUpstream {
  host: string;
  port: number;
  user: string;
  dbname: string;
  /** Relative to DIR. */
  passwordFile?: string;
  tlsMode: TlsMode;
  /** Server connections per (database, role): 1 for PGlite, which is a single backend. */
  poolSize: number;
  /** The embedded PostgreSQL is a loopback-only child of this process. */
  embedded: boolean;
}

export function quickstartConfig(opts: { port: number; environment: string; upstream: QuickstartUpstream }): string {
  const u = opts.upstream;
  const config = {
    listen: { host: '127.0.0.1', port: opts.port },
    log: { level: 'info', format: 'pretty' },
    // Clients hold a pooled server connection only during a transaction: with PGlite's single
    // backend, psql and an application can then be connected at the same time.
    pool_mode: 'transaction',
    shutdown_timeout: '2s',
    tls: { mode: 'verify-full', cert: 'server.crt', key: 'server.key', ca: 'ca.crt', crl: 'crl.pem' },
    databases: {
      [QUICKSTART_DATABASE]: {
        host: u.host,
        port: u.port,
        dbname: u.dbname,
        user: u.user,
        ...(u.passwordFile ? { password_file: u.passwordFile } : {}),
        environment: opts.environment,
        pool_size: u.poolSize,
        tls: { mode: u.tlsMode },
      },
    },
  };
  const header = [
    '# Written by `pgmoat quickstart`, which rewrites it on every run (copy it to keep changes).',
    '# Clients need a certificate from ca.crt (verify-full) whose CN is the role they log in as;',
    `# the database "${QUICKSTART_DATABASE}" is for certificates of environment "${opts.environment}" only.`,
    u.embedded
      ? '# Upstream: the embedded PGlite on a loopback port (plain TCP: it never leaves this machine).'
      : '# Upstream: the PostgreSQL given with --upstream.',
    '',
  ].join('\n');
  return header + stringify(config);
}
