/**
 * The admin HTTP listener (`admin.http`): /metrics (Prometheus text), /healthz (the process is
 * up and its event loop answers) and /readyz (readiness.ts). Plain HTTP, or HTTPS with
 * `admin.http.tls`; with `admin.http.tls.ca` a client must present a certificate chaining to that
 * CA, which is separate from the CA of PostgreSQL clients. Only GET and HEAD are answered.
 *
 * With `ca`, OpenSSL's chain check (Node's rejectUnauthorized) ends the handshake of a client
 * whose certificate does not verify, and of one whose extendedKeyUsage lacks clientAuth
 * (INVALID_PURPOSE). It passes a CA:TRUE leaf and a leaf without extendedKeyUsage: the purpose
 * policy of the gateway's clients (src/tls/cert-usage.ts) is applied here too, and such a client
 * gets 403 naming the reason, whatever it asks for. The listener grants no identity: any client
 * the admin CA vouches for reads the same pages; its certificate is read only to be refused, and
 * only once its chain verified.
 *
 * With `admin.http.tls.reload_on_change` (the default) the listener follows its certificate, key
 * and CA bundle as the gateway follows its own (runtime/tls-file-watch.ts): the same checks, the
 * same log lines (`what` is admin.http.tls), new connections get the new set. A reload (SIGHUP,
 * RELOAD) applies the same checks and is refused when they fail.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { TlsFileWatch, samePaths } from '../runtime/tls-file-watch.js';
import { checkTlsMaterial, leafSummary, type TlsMaterialText } from '../tls/tls-material.js';
import type { Logger } from 'pino';
import type { AdminConfig } from '../config/schema.js';
import { readPrivateFile } from '../util/private-file.js';
import { errorMessage } from '../util/errors.js';
import { listenFailure } from '../util/listen-error.js';
import type { Readiness } from './readiness.js';
import { certificateFacts, certificateUsage } from '../tls/peer-identity.js';
import { usageProblem, type UsagePolicy } from '../tls/cert-usage.js';
import { certRefusalMessage } from '../util/cert-refusal.js';
import { readTextFile } from '../util/file-problem.js';
import { Dashboard, DASHBOARD_PREFIX } from './dashboard/handler.js';
import type { DashboardSource } from './dashboard/types.js';

export type AdminHttpConfig = NonNullable<AdminConfig['http']>;

export interface AdminHttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A promise in a cluster primary, which asks its workers. */
  readiness(): Readiness | Promise<Readiness>;
  /** What the dashboard (admin.http.dashboard) shows and does; without it the dashboard is off. */
  dashboard?: DashboardSource;
}


const NAMES = { cert: 'admin.http.tls.cert', key: 'admin.http.tls.key', ca: 'admin.http.tls.ca' };

function readMaterial(cfg: AdminHttpConfig): TlsMaterialText | undefined {
  const t = cfg.tls;
  if (!t) return undefined;
  return {
    cert: readTextFile(t.cert, NAMES.cert),
    key: readPrivateFile(t.key, NAMES.key).toString('utf8'),
    ca: t.ca ? readTextFile(t.ca, NAMES.ca) : undefined,
  };
}

function secureOptions(m: TlsMaterialText): SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca !== undefined ? { ca: m.ca } : {}), minVersion: 'TLSv1.2' };
}

function usagePolicy(cfg: AdminHttpConfig): UsagePolicy {
  return { allowWithoutEku: cfg.tls?.allow_client_certs_without_eku ?? false };
}

/**
 * The verdict on the client certificate of a connection to the mutual-TLS listener: undefined when
 * it may be served, else what the client is told. Decided once per connection (keep-alive requests
 * share it), resumed TLS sessions included: the certificate comes with the session.
 */
function refusalFor(socket: TLSSocket, policy: UsagePolicy): string | undefined {
  // rejectUnauthorized already closed unverified clients; this holds if that ever changes.
  if (!socket.authorized) return 'client certificate could not be verified';
  const cert = socket.getPeerCertificate(false);
  if (!certificateFacts(cert)) return 'connection requires a valid client certificate: none was sent';
  const problem = usageProblem(certificateUsage(cert), policy);
  return problem ? certRefusalMessage('not-for-client-use', problem) : undefined;
}

/**
 * What a reload would put in force on the running listener, checked as the file watch checks it
 * (a pair that matches, a certificate within its validity and not older than the one in force):
 * throws the watch's codes. Nothing to check when the listener is to be replaced.
 */
export function checkAdminHttpReload(current: AdminHttpServer | undefined, next: AdminHttpConfig | undefined): void {
  if (current && next && !listenerChanged(current.config, next)) current.checkTls(next);
}

/** True when a reload needs a new listener rather than new TLS material. */
function listenerChanged(a: AdminHttpConfig | undefined, b: AdminHttpConfig | undefined): boolean {
  if (!a || !b) return a !== b;
  return a.host !== b.host || a.port !== b.port || !a.tls !== !b.tls || !a.tls?.ca !== !b.tls?.ca;
}

/**
 * Makes the admin HTTP listener follow a reloaded `admin.http`: a new listener when the address
 * or the TLS shape changed (the old one closed first), new TLS material otherwise. `set` records
 * each state as it happens, so that a failure to listen leaves no closed listener on record.
 */
export async function followAdminHttp(
  current: AdminHttpServer | undefined,
  next: AdminHttpConfig | undefined,
  start: (cfg: AdminHttpConfig) => Promise<AdminHttpServer>,
  set: (server: AdminHttpServer | undefined) => void,
): Promise<void> {
  if (listenerChanged(current?.config, next)) {
    await current?.close();
    set(undefined);
    if (next) set(await start(next));
  } else if (current && next) {
    current.reloadTls(next);
  }
}

export class AdminHttpServer {
  /** The TLS files following admin.http.tls (reload_on_change). */
  private watch: TlsFileWatch | undefined;

  private constructor(
    private readonly server: HttpServer | HttpsServer,
    private cfg: AdminHttpConfig,
    /** Read at each new connection, so that a reload applies from the next one on. */
    private readonly policy: { current: UsagePolicy },
    private readonly log: Logger,
    /** The TLS set new connections get. */
    private inForce: TlsMaterialText | undefined,
    private readonly handlers: AdminHttpHandlers,
    /** Read at each request: a reload replaces it. */
    private readonly dash: { current: Dashboard | undefined },
  ) {}

  /** The dashboard admin.http.dashboard asks for, when the process can serve one. */
  private static dashboardFor(cfg: AdminHttpConfig, handlers: AdminHttpHandlers, log: Logger): Dashboard | undefined {
    return cfg.dashboard?.enabled && handlers.dashboard ? new Dashboard(cfg.dashboard, handlers.dashboard, log) : undefined;
  }

  /** For tests: the dashboard in force. */
  get dashboard(): Dashboard | undefined {
    return this.dash.current;
  }

  get config(): AdminHttpConfig {
    return this.cfg;
  }

  /** Reads the TLS material (errors are PgmoatErrors) and listens. */
  static async start(cfg: AdminHttpConfig, handlers: AdminHttpHandlers, log: Logger): Promise<AdminHttpServer> {
    const material = readMaterial(cfg);
    // A pair that does not match has a clear code rather than OpenSSL's "key values mismatch".
    if (material) checkTlsMaterial(material, NAMES, { refuseExpired: false });
    const tls = material ? secureOptions(material) : undefined;
    const clientCerts = tls?.ca !== undefined;
    const policy = { current: usagePolicy(cfg) };
    const dash = { current: AdminHttpServer.dashboardFor(cfg, handlers, log) };
    const verdicts = new WeakMap<TLSSocket, string | null>();
    const refusal = (socket: TLSSocket): string | undefined => {
      let verdict = verdicts.get(socket);
      if (verdict === undefined) {
        verdict = refusalFor(socket, policy.current) ?? null;
        verdicts.set(socket, verdict);
        if (verdict !== null) {
          // Who it was, only from a chain that verified.
          const identity = socket.authorized ? certificateFacts(socket.getPeerCertificate(false))?.identity : undefined;
          log.warn(
            { event: 'admin_http_refused', reason: verdict, cn: identity?.cn, serial: identity?.serial, issuer: identity?.issuerCn, remote: socket.remoteAddress },
            'admin HTTPS client certificate refused',
          );
        }
      }
      return verdict ?? undefined;
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      const refused = clientCerts ? refusal(req.socket as TLSSocket) : undefined;
      if (refused !== undefined) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
        res.end(req.method === 'HEAD' ? undefined : `${refused}\n`);
        return;
      }
      handle(req, res, handlers, dash.current).catch((err: unknown) => {
        log.error({ event: 'admin_http_error', path: req.url, reason: errorMessage(err) }, 'admin HTTP request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    };
    const server = tls
      ? createHttpsServer({ ...tls, requestCert: clientCerts, rejectUnauthorized: clientCerts }, onRequest)
      : createHttpServer(onRequest);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on('tlsClientError', (err: Error) => log.debug({ event: 'admin_http_tls_failed', reason: errorMessage(err) }, 'admin HTTPS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, 'the admin HTTP listener', cfg.host, cfg.port, 'admin.http.host/admin.http.port in pgmoat.yaml')));
      server.listen({ host: cfg.host, port: cfg.port }, () => resolve());
    });
    server.on('error', (err) => log.error({ event: 'admin_http_error', reason: errorMessage(err) }, 'admin HTTP listener error'));
    const addr = server.address() as AddressInfo;
    log.info({ event: 'admin_http_listening', host: addr.address, port: addr.port, tls: tls !== undefined, client_certificates: clientCerts }, 'admin HTTP listening');
    const running = new AdminHttpServer(server, cfg, policy, log, material, handlers, dash);
    running.followFiles();
    return running;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Reads and checks the TLS files `cfg` names against the set in force; throws their code. */
  checkTls(cfg: AdminHttpConfig): TlsMaterialText | undefined {
    const material = readMaterial(cfg);
    if (material) checkTlsMaterial(material, NAMES, { inForce: leafSummary(this.inForce?.cert) });
    return material;
  }

  /** New certificate, key, CA and purpose policy for new connections (same listener); refused as checkTls refuses. */
  reloadTls(cfg: AdminHttpConfig): void {
    const material = this.checkTls(cfg);
    if (material && 'setSecureContext' in this.server) this.server.setSecureContext(secureOptions(material));
    this.inForce = material;
    this.policy.current = usagePolicy(cfg);
    // A new token file, or the dashboard turned on or off, applies from the next request.
    const dashboard = AdminHttpServer.dashboardFor(cfg, this.handlers, this.log);
    this.dash.current?.close();
    this.dash.current = dashboard;
    this.cfg = cfg;
    this.followFiles();
  }

  /** Starts, keeps (from the set now in force) or stops the watch of the TLS files. */
  private followFiles(): void {
    const t = this.cfg.tls;
    const paths = t && t.reload_on_change && this.inForce ? { cert: t.cert, key: t.key, ca: t.ca } : undefined;
    if (this.watch && paths && samePaths(this.watch.paths, paths)) {
      this.watch.reset(this.inForce!);
      return;
    }
    this.watch?.stop();
    this.watch = undefined;
    if (!paths || !this.inForce || !('setSecureContext' in this.server)) return;
    const server = this.server;
    this.watch = new TlsFileWatch({
      what: 'admin.http.tls',
      paths,
      inForce: this.inForce,
      apply: (next) => {
        server.setSecureContext(secureOptions(next));
        this.inForce = next;
      },
      log: this.log,
      // No janitor here, in a cluster's primary least of all.
      selfPoll: true,
    });
    this.watch.start();
  }

  close(): Promise<void> {
    this.dash.current?.close();
    this.dash.current = undefined;
    this.watch?.stop();
    this.watch = undefined;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, h: AdminHttpHandlers, dashboard: Dashboard | undefined): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (dashboard && (path === DASHBOARD_PREFIX || path.startsWith(`${DASHBOARD_PREFIX}/`))) {
    if (path === DASHBOARD_PREFIX) {
      res.writeHead(308, { location: `${DASHBOARD_PREFIX}/` });
      res.end();
      return;
    }
    await dashboard.handle(req, res, path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
    return;
  }
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  const text = (status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(head ? undefined : body);
  };
  switch (path) {
    case '/metrics': {
      const m = await h.metrics();
      res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
      res.end(head ? undefined : m.body);
      return;
    }
    case '/healthz':
      text(200, 'ok\n');
      return;
    case '/readyz': {
      const r = await h.readiness();
      text(r.ready ? 200 : 503, r.ready ? 'ready\n' : `not ready\n${r.problems.join('\n')}\n`);
      return;
    }
    default:
      text(404, 'not found: try /metrics, /healthz or /readyz\n');
  }
}
