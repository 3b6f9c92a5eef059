/**
 * The dashboard under /dashboard of the admin HTTP listener (admin.http.dashboard): the page's
 * files, the JSON API and the actions. Every answer carries a strict Content-Security-Policy.
 * Actions are POST only, JSON only, at most MAX_BODY bytes, with the session's CSRF token, and
 * refused when the browser says they come from another origin. Each action writes one
 * `dashboard_action` line; each refused request one `dashboard_refused` line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorMessage, isPgmoatError, PgmoatError } from '../../util/errors.js';
import { readSecretFile } from '../../util/private-file.js';
import { DashboardAccess } from './access.js';
import { parseCertificateQuery } from './certificates-view.js';
import { capSessionGroups } from './live-view.js';
import { dashboardFiles, readStatic, type StaticFile } from './static-files.js';
import { Trends } from './trends.js';
import type { DashboardAction, DashboardSource } from './types.js';

export const DASHBOARD_PREFIX = '/dashboard';
export const MAX_BODY = 16 * 1024;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const ACTIONS = new Set(['revoke', 'pause', 'resume', 'reload']);

export interface DashboardConfig {
  enabled: boolean;
  token_file?: string | undefined;
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY) return reject(new HttpRefusal(413, 'too_large', `the body is larger than ${MAX_BODY} bytes`, { connection: 'close' }));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpRefusal(413, 'too_large', `the body is larger than ${MAX_BODY} bytes`, { connection: 'close' }));
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function text(v: unknown, name: string, max = 200): string {
  if (typeof v !== 'string' || v === '' || v.length > max) throw new HttpRefusal(400, 'bad_request', `${name} must be a non-empty string`);
  return v;
}

function parseAction(name: string, body: unknown): DashboardAction {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpRefusal(400, 'bad_request', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  switch (name) {
    case 'revoke':
      return { action: 'revoke', serial: text(b.serial, 'serial', 80), reason: b.reason === undefined ? 'unspecified' : text(b.reason, 'reason', 40) };
    case 'pause':
    case 'resume':
      return { action: name, database: text(b.database, 'database') };
    default:
      return { action: 'reload' };
  }
}

function targetOf(a: DashboardAction): string | undefined {
  return a.action === 'revoke' ? a.serial : a.action === 'reload' ? undefined : a.database;
}

/** Shorter than this, a bearer token is a password someone typed, not a secret. */
const MIN_TOKEN_LENGTH = 16;

/** The bearer token; an empty or short one is refused at start rather than silently taking no token (or a guessable one). */
function readToken(path: string): string {
  const token = readSecretFile(path, 'admin.http.dashboard.token_file').trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    const what = token === '' ? 'is empty' : `holds ${token.length} characters, fewer than ${MIN_TOKEN_LENGTH}`;
    throw new PgmoatError('DASHBOARD_TOKEN_WEAK', `admin.http.dashboard.token_file ${path} ${what}`, {
      hint: `write a random token into it: openssl rand -base64 32 > ${path} && chmod 600 ${path}`,
    });
  }
  return token;
}

export class Dashboard {
  private readonly access: DashboardAccess;
  private readonly files: Map<string, StaticFile>;
  private readonly trends: Trends;

  constructor(
    cfg: DashboardConfig,
    private readonly source: DashboardSource,
    private readonly log: Logger,
  ) {
    this.access = new DashboardAccess(cfg.token_file !== undefined ? readToken(cfg.token_file) : undefined);
    this.files = dashboardFiles();
    this.trends = new Trends(() => source.counters());
    this.trends.start();
  }

  close(): void {
    this.trends.stop();
  }

  /** For tests: one trends reading now. */
  sampleTrends(now?: number): Promise<void> {
    return this.trends.sample(now);
  }

  /** Answers a request whose path starts with /dashboard. `origin` is this listener's own (scheme://host:port). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const remote = req.socket.remoteAddress;
    const verdict = await this.access.decide(req, this.source);
    if (!verdict.ok) {
      this.log.warn({ event: 'dashboard_refused', reason: verdict.reason, cn: verdict.cn, serial: verdict.serial, remote, path }, 'dashboard request refused');
      json(res, verdict.status, { error: { code: verdict.status === 401 ? 'unauthenticated' : 'forbidden', message: verdict.reason } }, verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      return;
    }
    const operator = verdict.operator;
    const sub = path.slice(DASHBOARD_PREFIX.length) || '/';
    try {
      if (sub.startsWith('/api/actions/')) {
        await this.action(req, res, operator, sub.slice('/api/actions/'.length));
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpRefusal(405, 'method_not_allowed', 'only GET and HEAD here', { allow: 'GET, HEAD' });
      if (sub.startsWith('/api/')) {
        await this.api(res, operator, sub.slice(4), query);
        return;
      }
      const file = this.files.get(sub);
      const body = file ? readStatic(file) : undefined;
      if (!file || !body) throw new HttpRefusal(404, 'not_found', 'no such file');
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'cache-control': 'no-cache', 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      if (err instanceof HttpRefusal) {
        if (err.status === 403 || err.status === 405 || err.status === 413) {
          this.log.warn({ event: 'dashboard_refused', reason: err.message, operator, remote, path, method: req.method }, 'dashboard request refused');
        }
        json(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
        return;
      }
      if (isPgmoatError(err) && err.code === 'DASHBOARD_BAD_REQUEST') {
        json(res, 400, { error: { code: err.code, message: err.message } });
        return;
      }
      // Under serve --workers N: no worker answered the view; the page shows why.
      if (isPgmoatError(err) && err.code === 'DASHBOARD_WORKERS') {
        json(res, 503, { error: { code: err.code, message: err.message } });
        return;
      }
      throw err;
    }
  }

  private async api(res: ServerResponse, operator: string, route: string, query: URLSearchParams): Promise<void> {
    if (route === '/session') return json(res, 200, { operator, csrf: this.access.csrfFor(operator) });
    if (route === '/live') return json(res, 200, capSessionGroups(await this.source.live()));
    if (route === '/trends') return json(res, 200, this.trends.view());
    if (route === '/certificates') return json(res, 200, await this.source.certificatePage(parseCertificateQuery(query)));
    const m = /^\/certificates\/([0-9a-fA-F:]{1,128})\/sessions$/.exec(route);
    if (m) return json(res, 200, await this.source.sessionsOf(m[1]!.replaceAll(':', '').toLowerCase()));
    throw new HttpRefusal(404, 'not_found', 'no such API');
  }

  private async action(req: IncomingMessage, res: ServerResponse, operator: string, name: string): Promise<void> {
    if (!ACTIONS.has(name)) throw new HttpRefusal(404, 'not_found', 'no such action');
    if (req.method !== 'POST') throw new HttpRefusal(405, 'method_not_allowed', 'actions take POST only', { allow: 'POST' });
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== ownOrigin(req)) throw new HttpRefusal(403, 'cross_origin', 'Origin is not this dashboard');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') throw new HttpRefusal(403, 'cross_origin', 'Sec-Fetch-Site is not same-origin');
    const csrf = req.headers['x-csrf-token'];
    if (!this.access.csrfMatches(operator, typeof csrf === 'string' ? csrf : undefined)) throw new HttpRefusal(403, 'csrf', 'missing or wrong X-CSRF-Token');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpRefusal(415, 'unsupported_media_type', 'actions take Content-Type application/json');
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpRefusal(400, 'bad_request', 'the body is not JSON');
    }
    const action = parseAction(name, body);
    const fields = { event: 'dashboard_action', operator, action: action.action, target: targetOf(action), remote: req.socket.remoteAddress };
    try {
      const details = await this.source.act(action);
      this.log.info({ ...fields, outcome: 'ok', ...details }, `dashboard action ${action.action} by ${operator}`);
      json(res, 200, { ok: true, ...details });
    } catch (err) {
      const code = isPgmoatError(err) ? err.code : 'DASHBOARD_ACTION_FAILED';
      this.log.warn({ ...fields, outcome: 'failed', code, reason: errorMessage(err) }, `dashboard action ${action.action} by ${operator} failed`);
      json(res, isPgmoatError(err) ? 409 : 500, { error: { code, message: errorMessage(err) } });
    }
  }
}

/** The origin a browser on this listener sends: the scheme of the socket, the Host it asked. */
function ownOrigin(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (host === undefined) return undefined;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${scheme}://${host}`;
}

