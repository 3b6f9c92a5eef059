/**
 * The admin HTTPS listener follows admin.http.tls.cert, .key and .ca as the gateway follows its
 * own TLS files: a replaced pair is served to new connections without a SIGHUP, a pair that does
 * not match is refused (KEY_MISMATCH, the same tls_reload_refused line, `what` admin.http.tls) and
 * loaded once the key matches; a SIGHUP-style reload (Admin.reload, what SIGHUP and RELOAD run)
 * reading an older or expired certificate for the listener is refused whole with the code.
 * Mutual TLS with a client certificate of the admin CA, as Prometheus would connect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { serverPair, type ServerPair } from '../harness/server-pair.js';
import { clientTlsSection, waitFor } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { servedFingerprint as fingerprintAt } from '../harness/tls-probe.js';

const DAY_MS = 86_400_000;

let pki: Pki;
let gw: RunningGateway;
let admin: Admin;
let prometheus: ClientFiles;
let dir: string;
let inForce: string;
const adminLog: Record<string, unknown>[] = [];

const path = (name: string): string => join(dir, name);

before(async () => {
  pki = await makePki();
  prometheus = await pki.client('prometheus');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-admin-tls-'));
  chmodSync(dir, 0o700);
  copyFileSync(pki.server.certPath, path('admin.crt'));
  writeFileSync(path('admin.key'), pki.server.keyPem, { mode: 0o600 });
  inForce = new X509Certificate(pki.server.certPem).fingerprint256;
  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: { host: '127.0.0.1', port: await freePort(), tls: { mode: 'disable' } } },
    admin: { identities: [], http: { host: '127.0.0.1', port: 0, tls: { cert: path('admin.crt'), key: path('admin.key'), ca: pki.main.caPath } } },
  });
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) adminLog.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  admin = Admin.attach(gw.gateway, { log: pino({ level: 'info', base: undefined }, sink), processMetrics: false });
  await admin.start();
});

after(async () => {
  await admin?.close();
  await gw?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const servedFingerprint = (): Promise<string> => fingerprintAt(admin.httpAddress!.port, prometheus, pki.main.caPem);

const events = (event: string): Record<string, unknown>[] => adminLog.filter((l) => l.event === event);
const refusals = (code: string): Record<string, unknown>[] => events('tls_reload_refused').filter((l) => l.what === 'admin.http.tls' && l.code === code);

function writeKey(pem: string): void {
  writeFileSync(path('admin.key'), pem, { mode: 0o600 });
}
function writeCert(pem: string): void {
  writeFileSync(path('admin.crt'), pem);
}

test('a replaced pair is served to new connections without a reload, and logged', async () => {
  assert.equal(await servedFingerprint(), inForce);
  const next = await serverPair(pki.main.authority);
  writeKey(next.keyPem);
  writeCert(next.certPem);
  await waitFor(async () => (await servedFingerprint()) === next.fingerprint, 'the admin listener to serve the new certificate', 20_000);
  const line = events('tls_files_reloaded').filter((l) => l.what === 'admin.http.tls').at(-1)!;
  assert.equal(line.fingerprint256, next.fingerprint);
  inForce = next.fingerprint;
});

test('a pair that does not match is refused (KEY_MISMATCH) and never served; the matching key, written later, is', async () => {
  const b = await serverPair(pki.main.authority);
  const c = await serverPair(pki.main.authority);
  writeKey(c.keyPem);
  writeCert(b.certPem);
  await waitFor(() => refusals('KEY_MISMATCH').length > 0, 'the mismatched pair to be refused', 20_000);
  assert.equal(refusals('KEY_MISMATCH')[0]!.level, 40);
  for (let i = 0; i < 3; i++) assert.equal(await servedFingerprint(), inForce, 'the pair in force serves');
  writeKey(b.keyPem);
  await waitFor(async () => (await servedFingerprint()) === b.fingerprint, 'the pair to be served once the key matches', 20_000);
  inForce = b.fingerprint;
});

async function reloadRefused(p: ServerPair, code: string): Promise<void> {
  writeKey(p.keyPem);
  writeCert(p.certPem);
  await assert.rejects(admin.reload('SIGHUP'), (err: Error & { code?: string }) => err.code === 'RELOAD_REFUSED' && err.message.includes('admin.http.tls.cert'));
  const line = events('reload').filter((l) => l.outcome === 'refused').at(-1)!;
  assert.equal(line.code, code, JSON.stringify(line));
  assert.equal(await servedFingerprint(), inForce, 'new connections still get the certificate in force');
}

test('a reload (SIGHUP) reading an older or an expired certificate for the listener is refused whole, with the code', async () => {
  await reloadRefused(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 2 * DAY_MS) }), 'TLS_CERT_ROLLBACK');
  await reloadRefused(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }), 'TLS_CERT_EXPIRED');
  // A current pair: the reload applies and the listener serves it.
  const next = await serverPair(pki.main.authority);
  writeKey(next.keyPem);
  writeCert(next.certPem);
  await admin.reload('SIGHUP');
  await waitFor(async () => (await servedFingerprint()) === next.fingerprint, 'the new pair to be served');
});
