/**
 * Shared pieces of the gateway integration tests: a gateway config for one PKI and one upstream,
 * TLS options for the Node clients, and a counting relay in front of an upstream (to prove that
 * a refused client never reached it).
 */
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before } from 'node:test';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';

/**
 * A TCP relay between pgmoat and an upstream PostgreSQL that counts the connections pgmoat
 * opens: the proof, independent of pgmoat's own bookkeeping, that a refused client never made
 * pgmoat reach PostgreSQL. Point a database entry's `port` at `tap.port`.
 */
export class UpstreamTap {
  /** TCP connections accepted so far (each one is pgmoat connecting to the upstream). */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<UpstreamTap> {
    let tap: UpstreamTap | undefined;
    const server = createServer((client) => {
      tap!.connections++;
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [client, upstream]) {
        tap!.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          tap!.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tap = new UpstreamTap(server, (server.address() as AddressInfo).port);
    return tap;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The `tls` section for a verify-full gateway over the PKI's main CA and CRL. */
export function clientTlsSection(pki: Pki, mode = 'verify-full'): Record<string, unknown> {
  return { mode, cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath };
}

/** One plain-TCP upstream database entry. */
export function plainUpstream(pg: PgServer, dbname: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: '127.0.0.1', port: pg.port, dbname, environment: 'production', tls: { mode: 'disable' }, ...extra };
}

/** node:tls options for node-postgres and postgres.js: the client's identity, the main CA to verify pgmoat. */
export function nodeSsl(c: ClientFiles): { cert: string; key: string; ca: string } {
  return { cert: c.certPem, key: c.keyPem, ca: readFileSync(c.caPath, 'utf8') };
}

/** Sum of server connections every pool of the gateway ever opened. */
export function serverConnectsTotal(gw: RunningGateway): number {
  let n = 0;
  for (const pool of gw.gateway.pools.values()) n += pool.stats.serverConnects;
  return n;
}

/** Log lines of one event. */
export function logEvents(gw: RunningGateway, event: string): Record<string, unknown>[] {
  return gw.logs().filter((l) => l.event === event);
}

/** Polls until `check` returns true, or throws with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The upstream of most gateway tests: role `app` owning database `appdb`. */
export const APP_SETUP_SQL = 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;';

/** What useAppGateway starts, handed to its `ready` callback once everything runs. */
export interface AppGateway {
  pki: Pki;
  upstream: PgServer;
  /** The client certificate of role `app` (CN app, environment production). */
  app: ClientFiles;
  gw: RunningGateway;
}

export interface AppGatewayOptions {
  /** SQL for the new PostgreSQL (default APP_SETUP_SQL). */
  setupSql?: string;
  /** The gateway's client-side tls.mode (default verify-full). */
  tlsMode?: string;
  /** Top-level gateway settings besides `tls` and `databases`. */
  gateway?: Record<string, unknown>;
  /** Settings of the one database entry, `appdb` over plain TCP (pool_size, pool_mode, ...). */
  database?: Record<string, unknown>;
}

/**
 * Registers the before/after hooks most gateway test files share: a PKI, a PostgreSQL, a client
 * certificate for `app`, and a gateway with one plain-TCP database `appdb`; `ready` gets them
 * (and may do more set-up), and everything is stopped after the file's tests.
 */
export function useAppGateway(opts: AppGatewayOptions, ready: (parts: AppGateway) => void | Promise<void>): void {
  const started: Partial<AppGateway> = {};
  before(async () => {
    const pki = (started.pki = await makePki());
    const upstream = (started.upstream = await startPostgres({ setupSql: opts.setupSql ?? APP_SETUP_SQL }));
    const app = (started.app = await pki.client('app'));
    const gw = (started.gw = await startGateway({
      tls: clientTlsSection(pki, opts.tlsMode),
      ...opts.gateway,
      databases: { appdb: plainUpstream(upstream, 'appdb', opts.database) },
    }));
    await ready({ pki, upstream, app, gw });
  });
  after(async () => {
    await started.gw?.stop();
    await started.upstream?.stop();
    started.pki?.cleanup();
  });
}

/** A node-postgres client's socket (TLS or plain), which it keeps in an undocumented field. */
export function pgSocket(c: pg.Client): Socket {
  return (c as unknown as { connection: { stream: Socket } }).connection.stream;
}
