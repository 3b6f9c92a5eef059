/**
 * Three `pgmoat serve` processes (peer_id 1, 2, 3, each listing all three as peers, each with its
 * own admin HTTP port for /readyz) in front of one real PostgreSQL, and Debian's HAProxy in TCP
 * mode in front of them with health checks on /readyz: the setup of the issue-17 tests through a
 * balancer (test/cluster/haproxy-*.test.ts). A gateway can be stopped (SIGTERM or SIGKILL) and
 * started again on the same ports; pgbench helpers run it through HAProxy with the client's
 * certificate.
 *
 * `sendProxyV2` makes HAProxy prefix every backend connection with a PROXY v2 header and sets
 * each gateway's `listen.proxy_protocol` (HAProxy on 127.0.0.1 trusted) and each peer's
 * `send_proxy_v2`, so that a test turns the PROXY protocol on with one option.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { freePort } from '../harness/free-port.js';
import { cleanupDir, startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { haveHaproxy, startHaproxy, type BackendState, type RunningHaproxy } from '../harness/haproxy.js';
import { pgTool } from '../harness/pg-binaries.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { jsonLogLines } from '../harness/tls-probe.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { pgmoat } from '../ca/run-pgmoat.js';

/** Why a HAProxy test is skipped, or false when HAProxy is installed. */
export const haproxySkip: string | false = haveHaproxy() ? false : 'haproxy is not installed (apt-get install haproxy)';

export interface HaClusterOptions {
  /** PROXY protocol v2 from HAProxy to the gateways (and between peers, for forwarded cancels). */
  readonly sendProxyV2: boolean;
  readonly balance?: 'roundrobin' | 'random';
  /** Each gateway's pool_size for appdb/app. */
  readonly poolSize: number;
  /** HAProxy's health check interval (ms). */
  readonly checkIntervalMs?: number;
  /** More top-level settings for every gateway (shutdown_drain_delay, ...). */
  readonly gatewaySettings?: Record<string, unknown>;
  /** Initialise pgbench's tables in appdb (scale 1), on PostgreSQL directly. */
  readonly pgbench?: boolean;
  /**
   * Move the test CA's inventory into a PostgreSQL store (database pgmoat_store on the same
   * server, `pgmoat ca migrate`) and have every gateway LISTEN there (`ca.store`, as role
   * pgmoat_gw with SELECT only).
   */
  readonly store?: boolean;
}

/** The role the gateways read the store as (test/cluster/haproxy-revocation.test.ts locks it out). */
export const STORE_GATEWAY_ROLE = 'pgmoat_gw';

export interface HaGateway {
  /** 1, 2, 3: its peer_id; HAProxy calls it `gw<id>`. */
  readonly id: number;
  readonly port: number;
  readonly httpPort: number;
  readonly configPath: string;
  proc: ChildProcess;
  output(): string;
  logs(): Record<string, unknown>[];
  /** Sends `signal` and resolves with the exit code (null when a signal ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts `pgmoat serve` again on the same ports and config (after it exited). */
  start(): Promise<void>;
}

export interface HaCluster {
  readonly upstream: PgServer;
  readonly pki: Pki;
  readonly app: ClientFiles;
  readonly gws: readonly HaGateway[];
  readonly hap: RunningHaproxy;
  /** Superuser connections to PostgreSQL directly (a small pool), to watch pg_stat_activity. */
  readonly monitor: pg.Pool;
  /** node-postgres settings for appdb through HAProxy with the app certificate. */
  pgConfig(): pg.ClientConfig;
  /** HAProxy's view of gateway `id` ("UP", "DOWN", ...). */
  backend(id: number): Promise<BackendState>;
  /** Waits until HAProxy's status of gateway `id` is `status`. */
  waitBackend(id: number, status: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** GET /readyz on an admin port: its status code, or 0 when nothing answers. */
export function readyz(httpPort: number): Promise<number> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port: httpPort, path: '/readyz' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', () => resolve(0));
  });
}

export async function startHaCluster(opts: HaClusterOptions): Promise<HaCluster> {
  const pki = await makePki();
  const upstream = await startPostgres({
    setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;',
    // Three pools of poolSize, the monitor, pgbench's init: room above the default 100.
    settings: { max_connections: Math.max(100, 3 * opts.poolSize + 20) },
  });
  const app = await pki.client('app');
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-haproxy-cluster-'));
  chmodSync(dir, 0o700);
  const gws: HaGateway[] = [];
  let hap: RunningHaproxy | undefined;
  let monitor: pg.Pool | undefined;
  const close = async (): Promise<void> => {
    await monitor?.end().catch(() => undefined);
    await hap?.stop();
    for (const g of gws) await g.stop('SIGKILL');
    await upstream.stop();
    pki.cleanup();
    cleanupDir(dir);
  };
  try {
    if (opts.pgbench) await pgbenchInit(upstream);
    const store = opts.store ? await migrateToStore(pki, upstream) : undefined;
    const ports = [await freePort(), await freePort(), await freePort()];
    const httpPorts = [await freePort(), await freePort(), await freePort()];
    const peers = Object.fromEntries(ports.map((port, i) => [i + 1, { host: '127.0.0.1', port, ...(opts.sendProxyV2 ? { send_proxy_v2: true } : {}) }]));
    for (const [i, port] of ports.entries()) {
      const sub = mkdtempSync(join(dir, `gw${i + 1}-`));
      const configPath = writeConfig(sub, {
        listen: { host: '127.0.0.1', port, ...(opts.sendProxyV2 ? { proxy_protocol: { trusted: ['127.0.0.1'] } } : {}) },
        admin: { http: { host: '127.0.0.1', port: httpPorts[i] } },
        log: { level: 'info' },
        peer_id: i + 1,
        peers,
        pool_mode: 'transaction',
        ...opts.gatewaySettings,
        ...(store ? { ca: { store } } : {}),
        // With the store, no gateway reads crl.pem: revocations reach them through the store alone.
        tls: store ? withoutCrl(clientTlsSection(pki)) : clientTlsSection(pki),
        databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: opts.poolSize }) },
      });
      gws.push(await gatewayProcess(i + 1, port, httpPorts[i]!, configPath));
    }
    hap = await startHaproxy({
      backends: gws.map((g) => ({ name: `gw${g.id}`, port: g.port, checkPort: g.httpPort })),
      sendProxyV2: opts.sendProxyV2,
      balance: opts.balance ?? 'roundrobin',
      checkIntervalMs: opts.checkIntervalMs ?? 200,
    });
    monitor = new pg.Pool({ host: '127.0.0.1', port: upstream.port, user: upstream.superuser, database: 'postgres', max: 3 });
    const h = hap;
    const backend = async (id: number): Promise<BackendState> => {
      const b = (await h.backends()).find((s) => s.name === `gw${id}`);
      if (!b) throw new Error(`HAProxy has no backend gw${id}`);
      return b;
    };
    const cluster: HaCluster = {
      upstream,
      pki,
      app,
      gws,
      hap,
      monitor,
      pgConfig: () => ({ host: h.host, port: h.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) }),
      backend,
      waitBackend: (id, status, timeoutMs = 30_000) => waitFor(async () => (await backend(id)).status.startsWith(status), `HAProxy to see gw${id} ${status}`, timeoutMs),
      close,
    };
    for (const g of gws) await cluster.waitBackend(g.id, 'UP');
    return cluster;
  } catch (err) {
    await close();
    throw err;
  }
}

function withoutCrl(tls: Record<string, unknown>): Record<string, unknown> {
  const { crl: _crl, ...rest } = tls;
  return rest;
}

/** Migrates the test CA into a store on `upstream`; returns the URL the gateways read it with. */
async function migrateToStore(pki: Pki, upstream: PgServer): Promise<string> {
  upstream.sql(`CREATE DATABASE pgmoat_store; CREATE ROLE ${STORE_GATEWAY_ROLE} LOGIN;`);
  const caUrl = `postgres://${upstream.superuser}@127.0.0.1:${upstream.port}/pgmoat_store`;
  const r = await pgmoat(['ca', 'migrate', '--dir', pki.main.dir, '--to', caUrl]);
  if (r.code !== 0) throw new Error(`pgmoat ca migrate failed:\n${r.stderr}`);
  upstream.sql(`GRANT USAGE ON SCHEMA pgmoat TO ${STORE_GATEWAY_ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA pgmoat TO ${STORE_GATEWAY_ROLE};`, 'pgmoat_store');
  return `postgres://${STORE_GATEWAY_ROLE}@127.0.0.1:${upstream.port}/pgmoat_store`;
}

async function gatewayProcess(id: number, port: number, httpPort: number, configPath: string): Promise<HaGateway> {
  let p = await startGatewayProcess(configPath);
  const g: HaGateway = {
    id,
    port,
    httpPort,
    configPath,
    proc: p.proc,
    output: () => p.output(),
    logs: () => jsonLogLines(p.output()),
    // The harness's stop waits for an exit that already happened when a signal ended the process.
    stop: (signal) => (p.proc.exitCode !== null || p.proc.signalCode !== null ? Promise.resolve(p.proc.exitCode) : p.stop(signal)),
    async start() {
      p = await startGatewayProcess(configPath);
      g.proc = p.proc;
    },
  };
  return g;
}

// ---- pgbench through HAProxy ------------------------------------------------------------------

export interface PgbenchRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function pgbench(args: string[], env: NodeJS.ProcessEnv = {}): Promise<PgbenchRun> {
  return new Promise((resolve) => {
    execFile(pgTool('pgbench'), args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function pgbenchInit(upstream: PgServer): Promise<void> {
  const r = await pgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb']);
  if (r.code !== 0) throw new Error(`pgbench -i failed:\n${r.stderr}`);
}

/** pgbench `args` against appdb through HAProxy with sslmode=verify-full and the app certificate. */
export function pgbenchThrough(c: HaCluster, args: string[]): Promise<PgbenchRun> {
  return pgbench([...args, '-h', c.hap.host, '-p', String(c.hap.port), '-U', 'app', 'appdb'], {
    PGSSLMODE: 'verify-full',
    PGSSLCERT: c.app.certPath,
    PGSSLKEY: c.app.keyPath,
    PGSSLROOTCERT: c.app.caPath,
    PGCONNECT_TIMEOUT: '10',
  });
}

export interface PgbenchFigures {
  /** "number of transactions actually processed: N/M": N. */
  readonly processed: number;
  /** "number of failed transactions" (pgbench 15; 0 when absent). */
  readonly failed: number;
  /** Clients pgbench reports as aborted ("client N aborted ..."). */
  readonly aborted: number;
  /** stderr lines that report an error (not the closing "Run was aborted" summary). */
  readonly errorLines: string[];
}

export function pgbenchFigures(r: PgbenchRun): PgbenchFigures {
  const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  const lines = r.stderr.split('\n');
  return {
    processed: processed ? Number(processed[1]) : 0,
    failed: failed ? Number(failed[1]) : 0,
    aborted: new Set(lines.map((l) => /client (\d+) aborted/.exec(l)?.[1]).filter((x) => x !== undefined)).size,
    errorLines: lines.filter((l) => /aborted|error|FATAL|could not|closed|lost/i.test(l) && !/Run was aborted/.test(l)),
  };
}
