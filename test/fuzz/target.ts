/**
 * What the fuzzer runs against: a PKI (valid, admin, foreign-CA, expired, revoked and
 * serverAuth-only client certificates), a real PostgreSQL, and `pgmoat serve` as a separate
 * process with two small pools over the same upstream database: `txdb` in transaction mode
 * (where one client's leftovers can hurt the next) and `sessdb` in session mode.
 */
import { mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { freePort } from '../harness/free-port.js';
import { GatewayProcess, treeCpuSeconds } from './gateway-process.js';
import type { CertName } from './script.js';
import type { ClientCert } from './execute.js';
import type { LoginTarget } from './gen-post-login.js';

export interface PoolSpec {
  database: string;
  mode: 'transaction' | 'session';
  size: number;
}

export const POOLS: readonly PoolSpec[] = [
  { database: 'txdb', mode: 'transaction', size: 3 },
  { database: 'sessdb', mode: 'session', size: 3 },
];

/** Post-login scripts: mostly the transaction pool, some session mode, a few admin console sessions. */
export const LOGIN_TARGETS: readonly LoginTarget[] = [
  { database: 'txdb', user: 'app', cert: 'app', weight: 75 },
  { database: 'sessdb', user: 'app', cert: 'app', weight: 18 },
  { database: 'pgmoat', user: 'fuzzadmin', cert: 'admin', weight: 7, admin: true },
];

export const ADMIN_CN = 'fuzzadmin';

export class FuzzTarget {
  gateway!: GatewayProcess;
  /** A superuser connection straight to PostgreSQL (not through pgmoat) for the upstream checks. */
  direct: pg.Client | undefined;

  private constructor(
    readonly pki: Pki,
    readonly pg: PgServer,
    readonly dir: string,
    readonly configPath: string,
    readonly port: number,
    readonly metricsPort: number,
    readonly clients: Record<'app' | 'admin', ClientFiles>,
    readonly certs: Partial<Record<CertName, ClientCert>>,
  ) {}

  static async start(): Promise<FuzzTarget> {
    const pki = await makePki();
    let pgs: PgServer | undefined;
    try {
      const app = await pki.client('app');
      const admin = await pki.client(ADMIN_CN);
      const foreign = await pki.client('app', { ca: 'foreign' });
      const expired = await pki.client('app', { expired: true });
      const serverAuth = await pki.client('app', { serverAuthOnly: true });
      const revoked = await pki.client('app', { revoked: true });
      pgs = await startPostgres({
        settings: { max_connections: 100 },
        // statement_timeout: a safety net, so that no mutated query can keep a backend busy for long.
        setupSql: "CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app; ALTER ROLE app SET statement_timeout = '10s';",
      });
      pgs.sql('CREATE TABLE fuzz_sink (v text); ALTER TABLE fuzz_sink OWNER TO app;', 'appdb');
      const dir = mkdtempSync(join(tmpdir(), 'pgmoat-fuzz-'));
      chmodSync(dir, 0o700);
      const port = await freePort();
      const metricsPort = await freePort();
      const databases: Record<string, unknown> = {};
      for (const p of POOLS) {
        databases[p.database] = {
          host: '127.0.0.1',
          port: pgs.port,
          dbname: 'appdb',
          environment: 'production',
          pool_size: p.size,
          pool_mode: p.mode,
          tls: { mode: 'disable' },
        };
      }
      const config = {
        listen: { host: '127.0.0.1', port },
        tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
        max_client_conn: 2000,
        log: { level: 'info', format: 'json' },
        admin: { identities: [ADMIN_CN], http: { host: '127.0.0.1', port: metricsPort } },
        databases,
      };
      const configPath = join(dir, 'pgmoat.yaml');
      writeFileSync(configPath, stringify(config));
      const pem = (c: ClientFiles): ClientCert => ({ cert: c.certPem, key: c.keyPem });
      const t = new FuzzTarget(pki, pgs, dir, configPath, port, metricsPort, { app, admin }, {
        app: pem(app),
        admin: pem(admin),
        foreign: pem(foreign),
        expired: pem(expired),
        'server-auth': pem(serverAuth),
        revoked: pem(revoked),
      });
      await t.startGateway();
      return t;
    } catch (err) {
      await pgs?.stop();
      pki.cleanup();
      throw err;
    }
  }

  /** CPU seconds of PostgreSQL so far (postmaster, its finished and its live backends). */
  postgresCpuSeconds(): number {
    const pid = Number(readFileSync(join(this.pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return treeCpuSeconds(pid);
  }

  get caPem(): string {
    return this.pki.main.caPem;
  }

  async startGateway(): Promise<void> {
    this.gateway = await GatewayProcess.start(this.configPath, { waitForHttp: true });
  }

  /** After a failure: kill the gateway, end what it left upstream, start a fresh one. */
  async restartGateway(): Promise<void> {
    await this.gateway.kill();
    await this.terminateUpstream();
    await this.startGateway();
  }

  async directClient(): Promise<pg.Client> {
    if (this.direct) return this.direct;
    const c = new pg.Client({ host: '127.0.0.1', port: this.pg.port, user: 'postgres', database: 'appdb' });
    c.on('error', () => {
      this.direct = undefined;
    });
    await c.connect();
    this.direct = c;
    return c;
  }

  /** The upstream backends of role app (pgmoat's server connections), as PostgreSQL sees them. */
  async upstreamBackends(): Promise<{ pid: number; state: string; wait: string; query: string }[]> {
    const c = await this.directClient();
    const r = await c.query<{ pid: number; state: string; wait: string; query: string }>(
      "SELECT pid, coalesce(state, '') AS state, coalesce(wait_event, '') AS wait, left(query, 80) AS query FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend' ORDER BY pid",
    );
    return r.rows;
  }

  async terminateUpstream(): Promise<void> {
    try {
      const c = await this.directClient();
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend'");
    } catch {
      // best effort: the next checks say whether anything is left
    }
  }

  /** A fresh TLS object per client (node-postgres hides the key of the one it is given). */
  ssl(who: 'app' | 'admin'): { cert: string; key: string; ca: string; servername: string } {
    const c = this.clients[who];
    return { cert: c.certPem, key: c.keyPem, ca: this.caPem, servername: 'localhost' };
  }

  async stop(): Promise<void> {
    await this.gateway?.stop();
    await this.direct?.end().catch(() => undefined);
    await this.pg.stop();
    this.pki.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
