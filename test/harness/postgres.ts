/**
 * A throwaway real PostgreSQL for tests: initdb into a temp dir, a free port, SSL files and
 * pg_hba.conf chosen by the test. When the tests run as root, the server runs as an
 * unprivileged user (initdb and postgres refuse root) and owns copies of the files it reads.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPgBinDir, pgTool } from './pg-binaries.js';
import { freePort } from './free-port.js';

export interface PgSslFiles {
  /** PEM text of the server certificate (chain). */
  cert: string;
  /** PEM text of the server key. */
  key: string;
  /** PEM text of the CA bundle for client certificates. */
  ca?: string;
  /** PEM text of a CRL. */
  crl?: string;
}

export interface StartPostgresOptions {
  ssl?: PgSslFiles;
  /** Full pg_hba.conf text. Default: trust for local and loopback. */
  hba?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number | boolean>;
  /** Extra SQL run as the superuser once the server is up. */
  setupSql?: string;
}

export interface PgServer {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The bootstrap superuser. */
  readonly superuser: string;
  /** The running postmaster's process id (fault tests stop and continue it); undefined while stopped. */
  readonly postmasterPid: number | undefined;
  /** Runs SQL through psql over the unix socket as the superuser and returns stdout (unaligned, tuples only). */
  sql(sql: string, db?: string): string;
  /** Replaces (or adds) a file in the data dir, owned by the server user, mode 0600. */
  writeDataFile(name: string, text: string): void;
  /** Rewrites pg_hba.conf and reloads. */
  setHba(text: string): void;
  /** SIGHUP: re-read config, hba, SSL files. */
  reload(): void;
  /** Fast shutdown, then start again on the same port and data dir. */
  restart(): Promise<void>;
  /** Fast shutdown without removing the data dir (use start() to come back). */
  stopServer(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes the data dir. Safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULT_HBA = [
  'local all all trust',
  'host all all 127.0.0.1/32 trust',
  'host all all ::1/128 trust',
  '',
].join('\n');

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A failing test must not leave a postmaster behind: kill what is still running on exit.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

interface RunAs {
  uid: number;
  gid: number;
  user: string;
}

function unprivilegedUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      return { uid, gid, user };
    } catch {
      // try the next one
    }
  }
  throw new Error('tests run as root but no unprivileged user (postgres or nobody) exists to run PostgreSQL as');
}

function confValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return `'${v.replace(/'/g, "''")}'`;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PgServer> {
  installExitHook();
  const bin = findPgBinDir();
  const runAs = unprivilegedUser();
  const base = mkdtempSync(join(tmpdir(), 'pgmoat-pg-'));
  const dataDir = join(base, 'data');
  const sockDir = base;
  const superuser = 'postgres';
  const owned = (path: string, mode: number): void => {
    chmodSync(path, mode);
    if (runAs) chownSync(path, runAs.uid, runAs.gid);
  };
  owned(base, 0o700);
  const spawnOpts = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};

  execFileSync(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: base, ...spawnOpts },
  );

  const writeDataFile = (name: string, text: string): void => {
    const path = join(dataDir, name);
    writeFileSync(path, text);
    owned(path, 0o600);
  };

  const port = await freePort();
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: sockDir,
    max_connections: 200,
    fsync: false,
    synchronous_commit: false,
    full_page_writes: false,
    logging_collector: false,
    log_min_messages: 'warning',
    ...options.settings,
  };
  if (options.ssl) {
    writeDataFile('server.crt', options.ssl.cert);
    writeDataFile('server.key', options.ssl.key);
    settings.ssl = true;
    settings.ssl_cert_file = 'server.crt';
    settings.ssl_key_file = 'server.key';
    if (options.ssl.ca) {
      writeDataFile('ca.crt', options.ssl.ca);
      settings.ssl_ca_file = 'ca.crt';
    }
    if (options.ssl.crl) {
      writeDataFile('crl.pem', options.ssl.crl);
      settings.ssl_crl_file = 'crl.pem';
    }
  }
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${confValue(v)}`)
    .join('\n');
  writeDataFile('postgresql.auto.conf', conf + '\n');
  writeDataFile('pg_hba.conf', options.hba ?? DEFAULT_HBA);

  let child: ChildProcess | undefined;
  let stopped = false;

  const start = async (): Promise<void> => {
    const proc = spawn(join(bin, 'postgres'), ['-D', dataDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: base,
      ...spawnOpts,
    });
    child = proc;
    running.add(proc);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start within 30 s:\n${log}`)), 30_000);
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (chunk: string) => {
        if (log.length < 20_000) log += chunk;
        if (log.includes('ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        running.delete(proc);
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited with code ${code} during start:\n${log}`));
      });
    });
    // Keep draining stderr so the server never blocks on a full pipe.
    proc.stderr!.resume();
  };

  const stopServer = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => {
        clearTimeout(timer);
        running.delete(proc);
        resolve();
      });
      proc.kill('SIGINT'); // fast shutdown: roll back open transactions, end sessions
    });
  };

  await start();

  const server: PgServer = {
    host: '127.0.0.1',
    port,
    dataDir,
    superuser,
    get postmasterPid(): number | undefined {
      return child?.pid;
    },
    sql(sql: string, db = 'postgres'): string {
      return execFileSync(
        pgTool('psql'),
        // Through stdin, so that each statement runs on its own (CREATE DATABASE refuses a transaction block).
        ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', sockDir, '-p', String(port), '-U', superuser, '-d', db, '-f', '-'],
        { encoding: 'utf8', input: sql, stdio: ['pipe', 'pipe', 'pipe'] },
      ).trim();
    },
    writeDataFile,
    setHba(text: string): void {
      writeDataFile('pg_hba.conf', text);
      server.reload();
    },
    reload(): void {
      child?.kill('SIGHUP');
    },
    restart: async () => {
      await stopServer();
      await start();
    },
    stopServer,
    start,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopServer();
      rmSync(base, { recursive: true, force: true });
    },
  };
  if (options.setupSql) server.sql(options.setupSql);
  return server;
}

/** Reads a file the server wrote (for debugging tests). */
export function readServerFile(server: PgServer, name: string): string | undefined {
  const path = join(server.dataDir, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
