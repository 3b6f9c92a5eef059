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
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AdminConfig } from '../config/schema.js';
import { readPrivateFile } from '../util/private-file.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import type { Readiness } from './readiness.js';
import { certificateFacts, certificateUsage } from '../tls/peer-identity.js';
import { usageProblem, type UsagePolicy } from '../tls/cert-usage.js';
import { certRefusalMessage } from '../util/cert-refusal.js';

export type AdminHttpConfig = NonNullable<AdminConfig['http']>;

export interface AdminHttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A promise in a cluster primary, which asks its workers. */
  readiness(): Readiness | Promise<Readiness>;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new PgmoatError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
}

function tlsOptions(cfg: AdminHttpConfig): SecureContextOptions | undefined {
  const t = cfg.tls;
  if (!t) return undefined;
  return {
    cert: readText(t.cert, 'admin.http.tls.cert'),
    key: readPrivateFile(t.key, 'admin.http.tls.key'),
    ...(t.ca ? { ca: readText(t.ca, 'admin.http.tls.ca') } : {}),
    minVersion: 'TLSv1.2',
  };
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
  private constructor(
    private readonly server: HttpServer | HttpsServer,
    readonly config: AdminHttpConfig,
    /** Read at each new connection, so that a reload applies from the next one on. */
    private readonly policy: { current: UsagePolicy },
  ) {}

  /** Reads the TLS material (errors are PgmoatErrors) and listens. */
  static async start(cfg: AdminHttpConfig, handlers: AdminHttpHandlers, log: Logger): Promise<AdminHttpServer> {
    const tls = tlsOptions(cfg);
    const clientCerts = tls?.ca !== undefined;
    const policy = { current: usagePolicy(cfg) };
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
      handle(req, res, handlers).catch((err: unknown) => {
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
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new PgmoatError('ADMIN_HTTP_LISTEN', `admin.http: cannot listen on ${cfg.host}:${cfg.port}: ${err.code ?? errorMessage(err)}`, { cause: err })),
      );
      server.listen({ host: cfg.host, port: cfg.port }, () => resolve());
    });
    server.on('error', (err) => log.error({ event: 'admin_http_error', reason: errorMessage(err) }, 'admin HTTP listener error'));
    const addr = server.address() as AddressInfo;
    log.info({ event: 'admin_http_listening', host: addr.address, port: addr.port, tls: tls !== undefined, client_certificates: clientCerts }, 'admin HTTP listening');
    return new AdminHttpServer(server, cfg, policy);
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** New certificate, key, CA and purpose policy for new connections (same listener). */
  reloadTls(cfg: AdminHttpConfig): void {
    const tls = tlsOptions(cfg);
    if (tls && 'setSecureContext' in this.server) this.server.setSecureContext(tls);
    this.policy.current = usagePolicy(cfg);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, h: AdminHttpHandlers): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
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
