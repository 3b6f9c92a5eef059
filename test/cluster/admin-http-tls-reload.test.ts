/**
 * `serve --workers 2`: the primary serves admin.http, and follows its TLS files as a single
 * process does. A replaced pair is served to new connections without a SIGHUP; a pair that does
 * not match is refused (KEY_MISMATCH); a SIGHUP while the files hold an expired certificate leaves
 * the listener's set in force and says why (admin_http_reload_failed with TLS_CERT_EXPIRED).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { serverPair } from '../harness/server-pair.js';
import { clientTlsSection, waitFor } from '../gateway/helpers.js';
import { startCluster, type ClusterGateway } from './helpers.js';
import { servedFingerprint as fingerprintAt } from '../harness/tls-probe.js';

const DAY_MS = 86_400_000;

let pki: Pki;
let prometheus: ClientFiles;
let dir: string;
let httpPort: number;
let cluster: ClusterGateway;
let inForce: string;

const path = (name: string): string => join(dir, name);

before(async () => {
  pki = await makePki();
  prometheus = await pki.client('prometheus');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-cluster-admin-tls-'));
  chmodSync(dir, 0o700);
  copyFileSync(pki.server.certPath, path('admin.crt'));
  writeFileSync(path('admin.key'), pki.server.keyPem, { mode: 0o600 });
  inForce = new X509Certificate(pki.server.certPem).fingerprint256;
  httpPort = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port: await freePort() },
    log: { level: 'info' },
    tls: clientTlsSection(pki),
    databases: { appdb: { host: '127.0.0.1', port: await freePort(), tls: { mode: 'disable' } } },
    admin: { identities: [], http: { host: '127.0.0.1', port: httpPort, tls: { cert: path('admin.crt'), key: path('admin.key'), ca: pki.main.caPath } } },
  });
  cluster = await startCluster(configPath, 2);
});

after(async () => {
  await cluster?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

const servedFingerprint = (): Promise<string> => fingerprintAt(httpPort, prometheus, pki.main.caPem);

const primaryEvents = (event: string): Record<string, unknown>[] => cluster.events(event).filter((l) => l.role === 'primary');

function writePair(p: { certPem: string; keyPem: string }): void {
  writeFileSync(path('admin.key'), p.keyPem, { mode: 0o600 });
  writeFileSync(path('admin.crt'), p.certPem);
}

test('primary: a replaced pair is served without a reload; a mismatched pair is refused', async () => {
  assert.equal(await servedFingerprint(), inForce);
  const next = await serverPair(pki.main.authority);
  writePair(next);
  await waitFor(async () => (await servedFingerprint().catch(() => '')) === next.fingerprint, "the primary's admin listener to serve the new certificate", 20_000);
  inForce = next.fingerprint;
  // The log line travels through a pipe and may reach the harness after the first handshake that
  // shows the new certificate, so it is waited for rather than expected at once.
  await waitFor(() => primaryEvents('tls_files_reloaded').some((l) => l.what === 'admin.http.tls' && l.fingerprint256 === next.fingerprint), 'the tls_files_reloaded line for the new pair', 10_000);
  const other = await serverPair(pki.main.authority);
  const mismatched = await serverPair(pki.main.authority);
  writePair({ certPem: other.certPem, keyPem: mismatched.keyPem });
  await waitFor(() => primaryEvents('tls_reload_refused').some((l) => l.what === 'admin.http.tls' && l.code === 'KEY_MISMATCH'), 'the mismatched pair to be refused', 20_000);
  assert.equal(await servedFingerprint(), inForce);
});

test('primary: SIGHUP with an expired certificate for the listener keeps the set in force, with the code in the log', async () => {
  writePair(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }));
  cluster.proc.kill('SIGHUP');
  await waitFor(() => primaryEvents('admin_http_reload_failed').some((l) => l.code === 'TLS_CERT_EXPIRED'), 'the SIGHUP to refuse the expired certificate', 20_000);
  assert.equal(await servedFingerprint(), inForce);
});
