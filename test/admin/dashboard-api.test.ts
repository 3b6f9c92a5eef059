/**
 * The dashboard's HTTP API on the admin listener (admin.http.dashboard), over real mutual TLS in
 * front of a real PostgreSQL: who gets in (an admin CN, a bearer token) and who does not, the
 * JSON views, the checks on actions (CSRF, origin, method, size, JSON), and the actions
 * themselves (revoke ends the live session of that certificate; pause and resume).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import type { ClientFiles } from '../harness/cert-factory.js';
import { nodeSsl, useAppGateway, waitFor, type AppGateway } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { AdminHttpServer } from '../../src/admin/http-server.js';
import { localSource } from '../../src/admin/dashboard/local-source.js';
import { call, type Answer, postAction } from './dashboard-helpers.js';

const TOKEN = 'dashboard-token-for-tests-0123456789';
let parts: AppGateway;
let admin: Admin;
let plain: AdminHttpServer;
let alice: ClientFiles;
let mallory: ClientFiles;
let dir: string;
const log: Record<string, unknown>[] = [];

useAppGateway({ gateway: { admin: { identities: ['ops-alice'] } } }, async (p) => {
  parts = p;
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-'));
  chmodSync(dir, 0o700);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const { pki, gw } = parts;
  alice = await pki.client('ops-alice');
  mallory = await pki.client('mallory');
  // admin.http as the configuration would set it, applied through a reload-free restart of Admin.
  const http = { host: '127.0.0.1', port: 0, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, allow_client_certs_without_eku: false, reload_on_change: false }, dashboard: { enabled: true, token_file: tokenFile } };
  (gw.gateway.runtime.config.admin as { http?: unknown }).http = http;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) log.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info', base: undefined }, sink);
  admin = Admin.attach(gw.gateway, { log: logger, processMetrics: false });
  await admin.start();
  // The same dashboard on a listener whose TLS is terminated elsewhere: bearer token only.
  plain = await AdminHttpServer.start(
    { host: '127.0.0.1', port: 0, tls: { cert: pki.server.certPath, key: pki.server.keyPath, allow_client_certs_without_eku: false, reload_on_change: false }, dashboard: { enabled: true, token_file: tokenFile } },
    { metrics: () => admin.metrics.scrape(), readiness: () => ({ ready: true, problems: [] }), dashboard: localSource(admin.dashboard) },
    logger,
  );
});

after(async () => {
  await plain?.close();
  await admin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const port = (): number => admin.httpAddress!.port;
const get = (path: string, client: ClientFiles | undefined = alice): Promise<Answer> => call(port(), parts.pki.main.caPem, path, { client });

async function csrf(client = alice): Promise<string> {
  const s = await get('/dashboard/api/session', client);
  return (s.json as { csrf: string }).csrf;
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => postAction(port(), parts.pki.main.caPem, alice, path, body, headers);

async function appClient(): Promise<pg.Client> {
  const c = new pg.Client({ host: 'localhost', port: parts.gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(parts.app) });
  await c.connect();
  return c;
}

test('an admin certificate reads the session, certificates, live and trends, with the security headers', async () => {
  const session = await get('/dashboard/api/session');
  assert.equal(session.status, 200);
  const s = session.json as { operator: string; csrf: string };
  assert.equal(s.operator, 'ops-alice');
  assert.ok(s.csrf.length >= 32);
  assert.match(String(session.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
  assert.equal(session.headers['x-content-type-options'], 'nosniff');
  assert.equal(session.headers['cache-control'], 'no-store');

  const app = await appClient();
  try {
    const certs = await get('/dashboard/api/certificates?limit=500');
    assert.equal(certs.status, 200);
    const c = certs.json as { total: number; rows: { name: string; serial: string; liveSessions: number; status: string; sans: string[] }[] };
    const appRow = c.rows.find((r) => r.serial === parts.app.serial);
    assert.ok(appRow, 'the inventory lists the app certificate');
    assert.equal(appRow.liveSessions, 1);
    assert.equal(appRow.status, 'valid');
    // The SANs come from the certificate in the inventory (pgmoat puts its identity URI in every client certificate).
    assert.ok(appRow.sans.some((x) => x.startsWith('URI:pgmoat://')), `sans: ${JSON.stringify(appRow.sans)}`);
    const sessions = await get(`/dashboard/api/certificates/${parts.app.serial}/sessions`);
    assert.deepEqual((sessions.json as { sessions: { database: string }[] }).sessions.map((x) => x.database), ['appdb']);
    assert.equal((sessions.json as { problems?: string[] }).problems, undefined);

    const live = (await get('/dashboard/api/live')).json as { pools: { database: string }[]; sessions: { identity: string; database: string; count: number }[]; crl: { revokedCount: number; nextUpdate?: number } };
    assert.ok(live.pools.some((p) => p.database === 'appdb'));
    assert.ok(live.sessions.some((x) => x.identity === 'app' && x.database === 'appdb' && x.count === 1));
    assert.equal(typeof live.crl.nextUpdate, 'number');

    await app.query('SELECT 1');
    const dash = admin['http']!.dashboard!;
    const t0 = Date.now();
    await dash.sampleTrends(t0);
    await app.query('SELECT 1');
    await app.query('SELECT 1');
    await dash.sampleTrends(t0 + 10_000);
    const trends = (await get('/dashboard/api/trends')).json as { step: number; series: { t: number[]; tps: number[] } };
    assert.equal(trends.step, 10);
    assert.ok(trends.series.t.length >= 1);
    assert.ok(trends.series.tps.at(-1)! > 0, 'two transactions in the step show as a rate');
  } finally {
    await app.end();
  }
});

test('no answer carries a key, a certificate PEM, the bearer token or the CSRF token outside /session', async () => {
  const app = await appClient();
  try {
    const token = (await csrf()).trim();
    const keyPem = readFileSync(parts.pki.server.keyPath, 'utf8');
    const keyBody = keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const paths = ['/dashboard/', '/dashboard/assets/app.js', '/dashboard/api/certificates?limit=500', '/dashboard/api/live', '/dashboard/api/trends', `/dashboard/api/certificates/${parts.app.serial}/sessions`];
    for (const path of paths) {
      const a = await get(path);
      assert.equal(a.status, 200, path);
      assert.doesNotMatch(a.body, /-----BEGIN|PRIVATE KEY/, path);
      assert.ok(!a.body.includes(TOKEN), `${path}: the bearer token`);
      assert.ok(!a.body.includes(token), `${path}: the CSRF token`);
      assert.ok(!a.body.includes(keyBody.slice(0, 40)), `${path}: the server key`);
    }
  } finally {
    await app.end();
  }
});

test('a certificate not in admin.identities gets 403 and a dashboard_refused line', async () => {
  const r = await get('/dashboard/api/session', mallory);
  assert.equal(r.status, 403);
  assert.equal((r.json as { error: { code: string } }).error.code, 'forbidden');
  await waitFor(() => log.some((l) => l.event === 'dashboard_refused' && l.cn === 'mallory' && l.serial === mallory.serial), 'dashboard_refused for mallory');
});

test('without a client certificate the mutual-TLS listener ends the handshake', async () => {
  const r = await call(port(), parts.pki.main.caPem, '/dashboard/api/session', {}).catch((err: Error) => err);
  assert.ok(r instanceof Error, `refused: ${JSON.stringify(r)}`);
});

test('bearer token: right one in, wrong one 403, none 401; the token is never logged', async () => {
  const at = (headers: Record<string, string>): Promise<Answer> => call(plain.address().port, parts.pki.main.caPem, '/dashboard/api/session', { headers });
  const ok = await at({ authorization: `Bearer ${TOKEN}` });
  assert.equal(ok.status, 200);
  assert.equal((ok.json as { operator: string }).operator, 'token');
  assert.equal((await at({ authorization: 'Bearer not-the-token' })).status, 403);
  assert.equal((await at({ authorization: `Bearer ${TOKEN}x` })).status, 403);
  const none = await at({});
  assert.equal(none.status, 401);
  assert.ok(!JSON.stringify(log).includes(TOKEN));
});

test('actions: CSRF token, origin, method, content type, size and JSON are checked', async () => {
  const base = { client: alice, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"database":"appdb"}' };
  const ca = parts.pki.main.caPem;
  assert.equal((await call(port(), ca, '/dashboard/api/actions/resume', base)).status, 403, 'no X-CSRF-Token');
  assert.equal((await call(port(), ca, '/dashboard/api/actions/resume', { ...base, headers: { ...base.headers, 'x-csrf-token': 'forged' } })).status, 403, 'wrong X-CSRF-Token');
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' }, { origin: 'https://evil.example' })).status, 403, 'foreign Origin');
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' }, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site fetch');
  // A form posted from another origin: form encoding, no CSRF header.
  const form = await call(port(), ca, '/dashboard/api/actions/revoke', { client: alice, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: `serial=${parts.app.serial}` });
  assert.equal(form.status, 403);
  const got = await get('/dashboard/api/actions/revoke');
  assert.equal(got.status, 405);
  assert.equal(got.headers.allow, 'POST');
  assert.equal((await post('/dashboard/api/actions/resume', `{"database":"${'x'.repeat(17 * 1024)}"}`)).status, 413);
  assert.equal((await post('/dashboard/api/actions/resume', '{"database":')).status, 400);
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' }, { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' }, { origin: `https://127.0.0.1:${port()}` })).status, 200, 'same origin passes');
  assert.equal((await get('/dashboard/api/certificates?sort=bogus')).status, 400);
});

test('pause and resume a database through the API, each an audit line naming the operator', async () => {
  const paused = async (): Promise<boolean> => ((await get('/dashboard/api/live')).json as { pools: { database: string; paused: boolean }[] }).pools.filter((p) => p.database === 'appdb').every((p) => p.paused);
  const app = await appClient(); // a pool for appdb exists
  try {
    // An open transaction holds its server: the answer does not wait for it (the console's PAUSE would).
    await app.query('BEGIN');
    const pausing = await post('/dashboard/api/actions/pause', { database: 'appdb' });
    assert.equal(pausing.status, 200);
    assert.ok(((pausing.json as { serversInUse?: number }).serversInUse ?? 0) >= 1, JSON.stringify(pausing.json));
    await app.query('COMMIT');
    assert.equal(await paused(), true);
    assert.ok(log.some((l) => l.event === 'dashboard_action' && l.action === 'pause' && l.operator === 'ops-alice' && l.target === 'appdb' && l.outcome === 'ok'));
    assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' })).status, 200);
    assert.equal(await paused(), false);
    await app.query('SELECT 1');
    const unknown = await post('/dashboard/api/actions/pause', { database: 'nosuchdb' });
    assert.equal(unknown.status, 409);
    assert.ok(log.some((l) => l.event === 'dashboard_action' && l.action === 'pause' && l.target === 'nosuchdb' && l.outcome === 'failed'));
  } finally {
    await app.end();
  }
});

test('revoke through the API ends the live sessions of that certificate, says how many, and lists it revoked', async () => {
  const victim = await parts.pki.client('app', { environment: 'production' });
  // Wrapped: an async function's returned promise would be awaited (until the session ends).
  const open = async (): Promise<{ ended: Promise<void> }> => {
    const c = new pg.Client({ host: 'localhost', port: parts.gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(victim) });
    const ended = new Promise<void>((resolve) => c.on('error', () => resolve()).on('end', () => resolve()));
    await c.connect();
    await c.query('SELECT 1');
    return { ended };
  };
  const ended = [(await open()).ended, (await open()).ended];
  const before = ((await get(`/dashboard/api/certificates/${victim.serial}/sessions`)).json as { sessions: unknown[] }).sessions;
  assert.equal(before.length, 2, 'the sessions the revocation will end');
  const r = await post('/dashboard/api/actions/revoke', { serial: victim.serial, reason: 'keyCompromise' });
  assert.equal(r.status, 200, r.body);
  const answer = r.json as { ok: boolean; revoked: string[]; sessionsEnded: number; problems?: string[] };
  assert.deepEqual([answer.ok, answer.revoked, answer.sessionsEnded, answer.problems], [true, [victim.serial], 2, undefined]);
  await Promise.all(ended);
  const rows = ((await get(`/dashboard/api/certificates?q=${victim.serial}&status=revoked`)).json as { rows: { serial: string; status: string; reason?: string }[] }).rows;
  assert.deepEqual(rows.map((x) => [x.serial, x.status, x.reason]), [[victim.serial, 'revoked', 'keyCompromise']]);
  assert.ok(log.some((l) => l.event === 'dashboard_action' && l.action === 'revoke' && l.target === victim.serial && l.outcome === 'ok' && l.operator === 'ops-alice' && l.sessionsEnded === 2));
  const again = await post('/dashboard/api/actions/revoke', { serial: victim.serial, reason: 'keyCompromise' });
  assert.equal((again.json as { error: { code: string } }).error.code, 'ALREADY_REVOKED');
});

test('static files: the allow-list only, with content types; uPlot from node_modules', async () => {
  const u = await get('/dashboard/assets/uplot.iife.min.js');
  assert.equal(u.status, 200);
  assert.match(String(u.headers['content-type']), /^text\/javascript/);
  assert.match(String(u.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal((await get('/dashboard/assets/uplot.min.css')).headers['content-type'], 'text/css; charset=utf-8');
  for (const p of ['/dashboard/assets/../../package.json', '/dashboard/assets/%2e%2e%2fpackage.json', '/dashboard/../package.json', '/dashboard/assets/secret.key']) {
    assert.equal((await get(p)).status, 404, p);
  }
});
