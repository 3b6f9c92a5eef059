/**
 * Reload on change and certificate validity. A server certificate whose notBefore is ahead of the
 * clock (or has been valid for less than the allowed skew) is refused by the watch with TLS_CERT_NOT_YET_VALID, as a
 * warning, and loaded once it becomes valid although no file changes again; a reload reading it
 * is refused with the same code. Upstream client certificates (databases.<name>.tls) get the same
 * checks: the watch refuses one not valid yet, and a reload refuses an expired one. Real TLS, real
 * PostgreSQL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { serverPair, type ServerPair } from '../harness/server-pair.js';
import { NOT_BEFORE_SKEW_MS } from '../../src/tls/tls-material.js';
import { APP_SETUP_SQL, logEvents, nodeSsl, waitFor } from './helpers.js';
import { servedFingerprint as fingerprintAt } from '../harness/tls-probe.js';

let pki: Pki;
let upstream: PgServer;
let gw: RunningGateway;
let app: ClientFiles;
let upClient: ClientFiles;
let dir: string;
let inForce: string;
let config: Record<string, unknown>;

const path = (name: string): string => join(dir, name);

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  upClient = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-tls-validity-'));
  chmodSync(dir, 0o700);
  copyFileSync(pki.server.certPath, path('server.crt'));
  writeFileSync(path('server.key'), pki.server.keyPem, { mode: 0o600 });
  writeFileSync(path('up.crt'), upClient.certPem);
  writeFileSync(path('up.key'), upClient.keyPem, { mode: 0o600 });
  inForce = new X509Certificate(pki.server.certPem).fingerprint256;
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  config = {
    tls: { mode: 'verify-full', cert: path('server.crt'), key: path('server.key'), ca: pki.main.caPath },
    databases: {
      // The upstream offers no TLS; `prefer` falls back to plain TCP, and the client pair is still read, checked and followed.
      appdb: { host: '127.0.0.1', port: upstream.port, dbname: 'appdb', environment: 'production', tls: { mode: 'prefer', cert: path('up.crt'), key: path('up.key') } },
    },
  };
  gw = await startGateway(config);
});

after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const servedFingerprint = (): Promise<string> => fingerprintAt(gw.port, app, pki.main.caPem, ['postgresql']);

async function query(): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return String((await c.query('SELECT 1 AS one')).rows[0].one);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const refusals = (code: string, what = 'tls'): Record<string, unknown>[] => logEvents(gw, 'tls_reload_refused').filter((l) => l.code === code && l.what === what);

function writeServerPair(p: ServerPair): void {
  writeFileSync(path('server.key'), p.keyPem, { mode: 0o600 });
  writeFileSync(path('server.crt'), p.certPem);
}

test('a server certificate valid only from a few seconds ahead is refused (warning, TLS_CERT_NOT_YET_VALID), then loaded once valid without another change', async () => {
  assert.equal(await query(), '1');
  // Far enough ahead that the watch sees it before it is valid, even on a busy machine.
  const notBefore = new Date(Date.now() + 10_000);
  const next = await serverPair(pki.main.authority, { notBefore });
  writeServerPair(next);
  await waitFor(() => refusals('TLS_CERT_NOT_YET_VALID').length > 0, 'the certificate not valid yet to be refused');
  const refused = refusals('TLS_CERT_NOT_YET_VALID')[0]!;
  assert.equal(refused.level, 40, 'a warning: it loads by itself once valid');
  assert.match(String(refused.reason), new RegExp(notBefore.toISOString().slice(0, 19)));
  assert.equal(await servedFingerprint(), inForce, 'the certificate in force serves meanwhile');
  await waitFor(async () => (await servedFingerprint()) === next.fingerprint, 'the certificate to be loaded once valid', 60_000);
  const loaded = logEvents(gw, 'tls_files_reloaded').filter((l) => l.what === 'tls').at(-1)!;
  assert.equal(loaded.fingerprint256, next.fingerprint);
  // Not before it had been valid for the allowed skew: pino's `time` is the clock of the load.
  // A certificate holds whole seconds: its notBefore is the asked one cut to the second.
  const validFrom = Math.floor(notBefore.getTime() / 1000) * 1000;
  assert.ok(Number(loaded.time) >= validFrom + NOT_BEFORE_SKEW_MS, `loaded at ${new Date(Number(loaded.time)).toISOString()}, valid from ${new Date(validFrom).toISOString()}`);
  assert.equal(refusals('TLS_CERT_NOT_YET_VALID').length, 1, 'one warning for one state of the files, across the retries');
  inForce = next.fingerprint;
  assert.equal(await query(), '1');
});

test('a reload reading a server certificate not valid yet is refused with TLS_CERT_NOT_YET_VALID; the running one serves', async () => {
  const next = await serverPair(pki.main.authority, { notBefore: new Date(Date.now() + 3_600_000) });
  writeServerPair(next);
  await assert.rejects(gw.reload(), (err: Error & { code?: string }) => err.code === 'TLS_CERT_NOT_YET_VALID');
  assert.equal(await servedFingerprint(), inForce);
  // Put a current pair back: newer than the one in force (valid from a few seconds ago), so it
  // loads once it has been valid for the skew.
  const current = await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 1_000) });
  writeServerPair(current);
  await waitFor(async () => (await servedFingerprint()) === current.fingerprint, 'a current pair to be loaded', 30_000);
  inForce = current.fingerprint;
});

test('upstream client certificate: one not valid yet is refused by the watch, an expired one by a reload (TLS_CERT_EXPIRED)', async () => {
  const future = await pki.client('app', { notYetValid: true });
  writeFileSync(path('up.key'), future.keyPem, { mode: 0o600 });
  writeFileSync(path('up.crt'), future.certPem);
  await waitFor(() => refusals('TLS_CERT_NOT_YET_VALID', 'databases.appdb.tls').length > 0, 'the upstream certificate not valid yet to be refused');
  assert.equal(gw.gateway.runtime.upstreamTls.get('appdb')?.cert, upClient.certPem, 'the upstream pair in force stays');
  const expired = await pki.client('app', { expired: true });
  writeFileSync(path('up.key'), expired.keyPem, { mode: 0o600 });
  writeFileSync(path('up.crt'), expired.certPem);
  await assert.rejects(gw.reload(), (err: Error & { code?: string; message: string }) => err.code === 'TLS_CERT_EXPIRED' && /databases\.appdb\.tls\.cert/.test(err.message));
  assert.equal(gw.gateway.runtime.upstreamTls.get('appdb')?.cert, upClient.certPem, 'the upstream pair in force stays');
  await waitFor(() => refusals('TLS_CERT_EXPIRED', 'databases.appdb.tls').length > 0, 'the watch to refuse it too');
  assert.equal(await query(), '1', 'the gateway serves on');
});
