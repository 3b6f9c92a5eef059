/**
 * The renewal service's HTTPS listener (`renewal:` in pgmoat.yaml, or `pgmoat ca serve`):
 *
 *   POST /v1/renew  a CSR (PEM or DER) -> the new certificate chain (PEM, or JSON on request)
 *   GET  /v1/ca     the CA bundle (PEM)
 *   GET  /v1/crl    the current CRL (PEM)
 *
 * Mutual TLS, TLS 1.2 at least. The listener asks for a client certificate but lets the
 * handshake finish without one (rejectUnauthorized false): /v1/ca and /v1/crl are public, and a
 * refused renewal gets a JSON answer with a code instead of a bare EOF. Whether the certificate
 * proves anything is decided by the CA room (src/ca/renewal.ts), which checks the chain itself;
 * this file only moves bytes, maps codes to HTTP statuses and writes the audit line.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { listenFailure } from '../util/listen-error.js';
import type { ErrorCode } from '../util/error-codes.js';
import type { RenewalService, RenewalIdentity } from '../ca/renewal.js';
import { RenewalRateLimiter, type RenewalRateLimit } from '../ca/renewal-rate.js';
import { httpStatusOf, reasonLabel } from './http-status.js';
import { normalizeSerial } from '../util/serial.js';

/** A CSR is a few hundred bytes (a few KB for RSA 4096 with SANs); anything far larger is not one. */
const MAX_BODY = 64 * 1024;
/** How much of an oversized body is read and thrown away so that the client can read the 413. */
const MAX_DRAINED = 1024 * 1024;
/** Content types a CSR may come in. curl --data-binary sends form-urlencoded unless told otherwise: the body is taken as it is. */
const CSR_TYPES = ['application/pkcs10', 'application/x-pem-file', 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded'];
const PEM_CHAIN = 'application/pem-certificate-chain';
const CA_ERRORS: readonly string[] = ['CA_LOCKED', 'CA_LOCK_LOST', 'WRITE_FAILED', 'INVENTORY_CORRUPT', 'FILE_UNREADABLE'];

export type RenewalOutcome = 'renewed' | 'refused';

export interface RenewalServerOptions {
  host: string;
  port: number;
  /** The listener's own certificate and key (PEM). */
  cert: string | Buffer;
  key: string | Buffer;
  keyPassphrase?: string | undefined;
  service: RenewalService;
  rateLimit: RenewalRateLimit;
  log: Logger;
  /** Called once per renewal request, with the reason label of a refusal ('none' for a renewal). */
  onOutcome?: (outcome: RenewalOutcome, reason: string) => void;
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function sendText(res: ServerResponse, req: IncomingMessage, type: string, text: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpRefusal(413, 'RENEWAL_BAD_REQUEST', `the body is larger than ${MAX_BODY} bytes; a CSR is far smaller`, { connection: 'close' });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_DRAINED) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_DRAINED) {
        // Past this much, answering now (and maybe being cut off mid-send) beats reading more.
        req.pause();
        reject(tooLarge());
      } else if (size <= MAX_BODY) {
        chunks.push(c);
      }
    });
    // A body somewhat over the limit is read to its end before the 413, so that a client still sending
    // does not meet a closed socket (EPIPE) instead of the answer.
    req.on('end', () => (size > MAX_BODY ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** The CSR of the request: the body, or the `csr` field of a JSON body. */
function csrOf(req: IncomingMessage, body: Buffer): Buffer | string {
  const type = mediaType(req);
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PgmoatError('RENEWAL_CSR_MALFORMED', 'the JSON body does not parse; send {"csr": "-----BEGIN CERTIFICATE REQUEST-----..."}');
    }
    const csr = typeof parsed === 'object' && parsed !== null && 'csr' in parsed ? parsed.csr : undefined;
    if (typeof csr !== 'string') throw new PgmoatError('RENEWAL_CSR_MALFORMED', 'the JSON body has no "csr" string');
    return csr;
  }
  if (type !== '' && !CSR_TYPES.includes(type)) {
    throw new HttpRefusal(415, 'RENEWAL_BAD_REQUEST', `content type ${JSON.stringify(type).slice(0, 60)} is not a CSR: use application/pkcs10 (DER or PEM), application/x-pem-file or application/json`);
  }
  return body;
}

function wantsJson(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').toLowerCase().includes('application/json');
}

/** The listener's own certificate and key, as a reload or a renewal of the files hands them over. */
export interface RenewalListenerTls {
  cert: string | Buffer;
  key: string | Buffer;
  keyPassphrase?: string | undefined;
}

function secureContextOf(tls: RenewalListenerTls, service: RenewalService) {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.keyPassphrase !== undefined ? { passphrase: tls.keyPassphrase } : {}),
    ca: service.caBundlePem(),
  };
}

export class RenewalServer {
  private limiter: RenewalRateLimiter;

  private constructor(
    private readonly server: Server,
    private opts: RenewalServerOptions,
  ) {
    this.limiter = new RenewalRateLimiter(opts.rateLimit);
  }

  /**
   * New handshakes use this certificate and key (the files changed: a renewal, a reload). A
   * pair that does not load throws and the one in force stays.
   */
  useTls(tls: RenewalListenerTls): void {
    this.server.setSecureContext(secureContextOf(tls, this.opts.service));
    this.opts = { ...this.opts, cert: tls.cert, key: tls.key, keyPassphrase: tls.keyPassphrase };
  }

  /** A reload: another CA or policy (the trusted bundle follows it), or another rate limit (counts start over). */
  reconfigure(next: { service?: RenewalService; rateLimit?: RenewalRateLimit }): void {
    if (next.service) {
      this.server.setSecureContext(secureContextOf(this.opts, next.service));
      this.opts = { ...this.opts, service: next.service };
    }
    if (next.rateLimit && (next.rateLimit.max !== this.opts.rateLimit.max || next.rateLimit.windowMs !== this.opts.rateLimit.windowMs)) {
      this.limiter = new RenewalRateLimiter(next.rateLimit);
      this.opts = { ...this.opts, rateLimit: next.rateLimit };
    }
  }

  static async start(opts: RenewalServerOptions): Promise<RenewalServer> {
    const server = createServer({
      ...secureContextOf(opts, opts.service),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    const self = new RenewalServer(server, opts);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      self.handle(req, res).catch((err: unknown) => {
        opts.log.error({ event: 'renewal_internal', err: errorMessage(err) }, 'renewal request failed unexpectedly');
        if (!res.headersSent) sendJson(res, 500, { code: 'RENEWAL_UNAVAILABLE', message: 'internal error; see the service log' });
      });
    });
    server.on('tlsClientError', (err: Error) => opts.log.debug({ event: 'renewal_tls_error', err: err.message }, 'TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, 'the renewal service', opts.host, opts.port, 'renewal.host/renewal.port in pgmoat.yaml (pgmoat ca serve: --listen)')));
      server.listen(opts.port, opts.host, () => resolve());
    });
    const addr = self.address();
    opts.log.info({ event: 'renewal_listening', host: addr.address, port: addr.port }, 'renewal service listening');
    return self;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    try {
      if (path === '/v1/ca') {
        if (!get) throw new HttpRefusal(405, 'RENEWAL_BAD_REQUEST', 'use GET', { allow: 'GET, HEAD' });
        return sendText(res, req, PEM_CHAIN, this.opts.service.caBundlePem());
      }
      if (path === '/v1/crl') {
        if (!get) throw new HttpRefusal(405, 'RENEWAL_BAD_REQUEST', 'use GET', { allow: 'GET, HEAD' });
        return sendText(res, req, 'application/x-pem-file', this.opts.service.crlPem());
      }
      if (path !== '/v1/renew') throw new HttpRefusal(404, 'RENEWAL_BAD_REQUEST', 'not found: the service answers POST /v1/renew, GET /v1/ca and GET /v1/crl');
      if (req.method !== 'POST') throw new HttpRefusal(405, 'RENEWAL_BAD_REQUEST', 'use POST with a CSR', { allow: 'POST' });
    } catch (err) {
      if (err instanceof HttpRefusal) return sendJson(res, err.status, { code: err.code, message: err.message }, err.headers);
      throw err;
    }
    return this.renew(req, res);
  }

  private async renew(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket as TLSSocket;
    const remote = socket.remoteAddress;
    let identity: RenewalIdentity | undefined;
    const peer = socket.getPeerCertificate(false);
    const peerDer = peer && 'raw' in peer ? peer.raw : undefined;
    // For the audit line of a refusal before the certificate checked out: what was presented, marked as such.
    const presented = peerDer ? { serial: normalizeSerial(peer.serialNumber), cn: Array.isArray(peer.subject?.CN) ? peer.subject.CN[0] : peer.subject?.CN } : undefined;
    try {
      const body = await readBody(req);
      const authenticated = await this.opts.service.authenticate(peerDer);
      identity = authenticated.identity;
      const retryAfter = this.limiter.take(`${identity.cn}\u0000${identity.environment}`, Date.now());
      if (retryAfter > 0) {
        throw new HttpRefusal(429, 'RENEWAL_RATE_LIMITED', `${identity.cn} (${identity.environment}) renewed too often: at most ${this.opts.rateLimit.max} per ${Math.round(this.opts.rateLimit.windowMs / 1000)} s; retry in ${retryAfter} s`, {
          'retry-after': String(retryAfter),
        });
      }
      const renewed = await this.opts.service.renew(authenticated, csrOf(req, body));
      this.opts.log.info(
        { event: 'renewal', outcome: 'renewed', old_serial: renewed.oldSerial, new_serial: renewed.serial, cn: identity.cn, environment: identity.environment, not_after: renewed.notAfter.toISOString(), remote_address: remote },
        'certificate renewed',
      );
      this.opts.onOutcome?.('renewed', 'none');
      if (wantsJson(req)) {
        return sendJson(res, 200, { serial: renewed.serial, not_before: renewed.notBefore.toISOString(), not_after: renewed.notAfter.toISOString(), certificate: renewed.certPem, chain: renewed.chainPem });
      }
      res.writeHead(200, { 'content-type': PEM_CHAIN, 'content-length': Buffer.byteLength(renewed.chainPem), 'cache-control': 'no-store' });
      res.end(renewed.chainPem);
    } catch (err) {
      const refusal = this.refusalOf(err);
      this.opts.log.warn(
        {
          event: 'renewal',
          outcome: 'refused',
          code: refusal.code,
          old_serial: identity?.serial ?? presented?.serial,
          cn: identity?.cn,
          environment: identity?.environment,
          ...(identity === undefined && presented ? { presented_cn: presented.cn } : {}),
          remote_address: remote,
          reason: refusal.message,
        },
        'renewal refused',
      );
      this.opts.onOutcome?.('refused', reasonLabel(refusal.code));
      sendJson(res, refusal.status, { code: refusal.code, message: refusal.message }, refusal.headers);
    }
  }

  private refusalOf(err: unknown): HttpRefusal {
    if (err instanceof HttpRefusal) return err;
    if (isPgmoatError(err) && err.code.startsWith('RENEWAL_')) return new HttpRefusal(httpStatusOf(err.code), err.code, err.message);
    if (isPgmoatError(err) && CA_ERRORS.includes(err.code)) {
      this.opts.log.error({ event: 'renewal_ca_error', code: err.code, err: err.message }, 'renewal could not write to the CA');
      return new HttpRefusal(503, 'RENEWAL_UNAVAILABLE', 'the CA is busy or cannot be written; retry later', { 'retry-after': '5' });
    }
    this.opts.log.error({ event: 'renewal_internal', err: errorMessage(err) }, 'renewal failed unexpectedly');
    return new HttpRefusal(500, 'RENEWAL_UNAVAILABLE', 'internal error; see the service log');
  }
}
