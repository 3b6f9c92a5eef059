/**
 * What the fault tests share: one PKI, one PostgreSQL (optionally initialised for pgbench) and
 * the `app` client certificate per file; a gateway per test with its own settings; pgbench run
 * through the gateway as a child process; processes stopped with SIGSTOP always continued.
 */
import { before, after } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { APP_SETUP_SQL, clientTlsSection, nodeSsl, plainUpstream } from '../gateway/helpers.js';

export interface FaultSetup {
  upstream: PgServer;
  pki: Pki;
  app: ClientFiles;
}

/** Registers the file's before/after hooks; the returned object is filled in by `before`. */
export function useFaultSetup(opts: { pgbench?: boolean } = {}): FaultSetup {
  const setup = {} as FaultSetup;
  before(async () => {
    setup.pki = await makePki();
    setup.app = await setup.pki.client('app');
    setup.upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
    if (opts.pgbench) {
      // Initialised on the upstream directly, not through pgmoat.
      execFileSync(pgTool('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(setup.upstream.port), '-U', 'app', 'appdb'], { stdio: 'ignore' });
    }
  });
  after(async () => {
    for (const pid of stopped) resume(pid);
    await setup.upstream?.stop();
    setup.pki?.cleanup();
  });
  return setup;
}

/** A gateway with one database `appdb` on the file's PostgreSQL, for the length of `fn`. */
export async function withGateway(
  setup: FaultSetup,
  top: Record<string, unknown>,
  db: Record<string, unknown>,
  fn: (gw: RunningGateway) => Promise<void>,
): Promise<void> {
  const gw = await startGateway({ tls: clientTlsSection(setup.pki), ...top, databases: { appdb: plainUpstream(setup.upstream, 'appdb', db) } });
  try {
    await fn(gw);
  } finally {
    await gw.stop();
  }
}

/** A node-postgres client of `app`; a query that gets no answer fails after `queryTimeoutMs`. */
export function appClient(setup: FaultSetup, gw: RunningGateway, opts: { applicationName?: string; queryTimeoutMs?: number } = {}): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: gw.port,
    user: 'app',
    database: 'appdb',
    application_name: opts.applicationName ?? 'pgmoat-test',
    ssl: nodeSsl(setup.app),
    query_timeout: opts.queryTimeoutMs ?? 20_000,
  });
  c.on('error', () => undefined);
  return c;
}

export async function backendPid(c: pg.Client): Promise<number> {
  return (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
}

export interface PgbenchRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** pgbench through the gateway with `app`'s certificate (verify-full); killed after `killAfterMs`. */
export function pgbench(setup: FaultSetup, port: number, args: string[], killAfterMs = 120_000): Promise<PgbenchRun> {
  const { app } = setup;
  const child = spawn(pgTool('pgbench'), [...args, '-h', '127.0.0.1', '-p', String(port), '-U', 'app', 'appdb'], {
    env: { ...process.env, PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath, PGCONNECT_TIMEOUT: '20' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** pgbench's lines for clients it gave up on. */
export function abortedClients(stderr: string): string[] {
  return stderr.split('\n').filter((l) => / aborted /.test(l));
}

/** Processes a test stopped: continued by the file's `after` even when the test fails. */
const stopped = new Set<number>();

export function pause(pid: number): void {
  process.kill(pid, 'SIGSTOP');
  stopped.add(pid);
}

export function resume(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // already gone
  }
  stopped.delete(pid);
}
