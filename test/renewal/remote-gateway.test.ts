/**
 * `pgmoat renew --remote` end to end: the pair is replaced in place (key 0600), the new
 * certificate logs in through the gateway with psql, a run killed between its two renames is
 * finished by the next, and a revoked certificate neither renews nor connects. Then `pgmoat
 * serve` with `renewal:` runs the service beside the gateway and counts renewals on /metrics.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import type { ClientFiles } from '../harness/cert-factory.js';
import { startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { pgmoat } from '../ca/run-pgmoat.js';
import { waitFor } from '../gateway/helpers.js';
import { curl, opensslCsr, serialOf, startRenewalStack, stopRenewalStack, workDir, type RenewalStack } from './helpers.js';

let stack: RenewalStack;
before(async () => {
  stack = await startRenewalStack();
});
after(() => stopRenewalStack(stack));

/** A copy of an issued pair in its own directory, as an application host holds it (with ca.crt beside it). */
function hostCopy(c: ClientFiles, name: string): { certPath: string; keyPath: string; caPath: string } {
  const dir = join(stack.work, name);
  mkdirSync(dir, { recursive: true });
  const files = { certPath: join(dir, 'app.crt'), keyPath: join(dir, 'app.key'), caPath: join(dir, 'ca.crt') };
  copyFileSync(c.certPath, files.certPath);
  copyFileSync(c.keyPath, files.keyPath);
  copyFileSync(c.caPath, files.caPath);
  return files;
}

function renewRemote(files: { certPath: string; keyPath: string }) {
  return pgmoat(['renew', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath]);
}

async function login(files: { certPath: string; keyPath: string; caPath: string }) {
  return psql(conninfo(stack.gw.port, { user: 'app', dbname: 'appdb', cert: files }), 'SELECT current_user');
}

test('renew --remote replaces the pair in place (key 0600) and the new certificate logs in through the gateway', async () => {
  const app = await stack.pki.client('app');
  const files = hostCopy(app, 'one');
  const oldKey = readFileSync(files.keyPath, 'utf8');
  const r = await renewRemote(files);
  assert.equal(r.code, 0, r.stderr);
  const certPem = readFileSync(files.certPath, 'utf8');
  assert.notEqual(serialOf(certPem), app.serial);
  assert.match(r.stdout, new RegExp(serialOf(certPem)));
  assert.equal(statSync(files.keyPath).mode & 0o777, 0o600);
  assert.notEqual(readFileSync(files.keyPath, 'utf8'), oldKey);
  // Only the leaf is written: the CA certificate is what the client trusts, not what it presents.
  assert.equal(certPem.match(/BEGIN CERTIFICATE/g)?.length, 1);
  assert.equal(new X509Certificate(certPem).subject, new X509Certificate(app.certPem).subject);
  assert.ok(!existsSync(files.certPath + '.renewing') && !existsSync(files.keyPath + '.renewing'));
  const audit = stack.svc.lines.find((l) => l.event === 'renewal' && l.old_serial === app.serial);
  assert.equal(audit?.new_serial, serialOf(certPem));
  const q = await login(files);
  assert.equal(q.stderr, '');
  assert.equal(q.stdout, 'app');
  // And it renews again with the pair it just got.
  const again = await renewRemote(files);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await login(files)).stdout, 'app');
});

test('a run killed between replacing the key and the certificate is finished by the next run', async () => {
  const app = await stack.pki.client('app');
  const files = hostCopy(app, 'killed');
  const oldCert = readFileSync(files.certPath, 'utf8');
  assert.equal((await renewRemote(files)).code, 0);
  // Put the files as a kill after the key's rename leaves them: new key, old certificate, new one staged.
  renameSync(files.certPath, files.certPath + '.renewing');
  writeFileSync(files.certPath, oldCert);
  // And the temp file of a staged write the kill cut short.
  writeFileSync(files.keyPath + '.renewing.4242-deadbeef.tmp', 'half a key');
  const r = await renewRemote(files);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Finished the replacement/);
  assert.ok(!existsSync(files.keyPath + '.renewing.4242-deadbeef.tmp'), 'the torn temp file is gone');
  assert.equal((await login(files)).stdout, 'app');
});

test('a revoked certificate can neither renew nor connect', async () => {
  const app = await stack.pki.client('app');
  const files = hostCopy(app, 'revoked');
  assert.equal((await login(files)).stdout, 'app');
  await stack.pki.revoke(app.serial);
  const r = await renewRemote(files);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HTTP 403 RENEWAL_REVOKED/);
  assert.equal(readFileSync(files.certPath, 'utf8'), app.certPem, 'nothing written');
  // The gateway watches its CRL: once it has the new one, the handshake is refused.
  await waitFor(async () => (await login(files)).stdout !== 'app', 'the gateway to refuse the revoked certificate', 20_000);
  assert.match((await login(files)).stderr, /revoked/i);
});

test('a certificate from another CA with the same CN cannot renew through the client either', async () => {
  const foreign = await stack.pki.client('app', { ca: 'foreign' });
  const files = hostCopy(foreign, 'foreign');
  const r = await renewRemote(files);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HTTP 401 RENEWAL_UNKNOWN_CA/);
});

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

test('pgmoat serve with renewal: runs the service and counts renewals on /metrics', async () => {
  const dir = workDir();
  const [port, renewalPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    tls: { mode: 'verify-full', cert: stack.pki.server.certPath, key: stack.pki.server.keyPath, ca: stack.pki.main.caPath, crl: stack.pki.crlPath },
    databases: { appdb: { host: '127.0.0.1', port: stack.upstream.port, dbname: 'appdb', environment: 'production', tls: { mode: 'disable' } } },
    admin: { http: { host: '127.0.0.1', port: adminPort } },
    renewal: { host: '127.0.0.1', port: renewalPort, ca_dir: stack.pki.main.dir },
  });
  const proc = await startGatewayProcess(configPath);
  try {
    await waitFor(() => proc.output().includes('"event":"renewal_listening"'), 'the renewal listener', 20_000);
    const url = `https://localhost:${renewalPort}/v1/renew`;
    const app = await stack.pki.client('app');
    const { csrPath } = opensslCsr(dir, 'served', '/CN=app');
    const ok = await curl(url, { cert: app.certPath, key: app.keyPath, cacert: stack.pki.main.caPath, dataFile: csrPath });
    assert.equal(ok.status, 200, ok.body);
    const bad = opensslCsr(dir, 'served-bad', '/CN=root');
    const refused = await curl(url, { cert: app.certPath, key: app.keyPath, cacert: stack.pki.main.caPath, dataFile: bad.csrPath });
    assert.equal(refused.status, 400);
    const metrics = await scrape(adminPort);
    assert.match(metrics, /pgmoat_renewals_total\{outcome="renewed",reason="none"\} 1/);
    assert.match(metrics, /pgmoat_renewals_total\{outcome="refused",reason="identity_changed"\} 1/);
  } finally {
    const code = await proc.stop('SIGTERM');
    assert.equal(code, 0, proc.output());
  }
});

test('renew: a local renewal without its options and --remote with local options are usage errors (exit 2)', async () => {
  const missing = await pgmoat(['renew', 'app', '--env', 'production']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /renew needs NAME, --env, --dir and --out/);
  const mixed = await pgmoat(['renew', 'app', '--remote', stack.svc.url, '--cert', 'a.crt', '--key', 'a.key']);
  assert.equal(mixed.code, 2, mixed.stderr);
  const mixedDir = await pgmoat(['renew', '--remote', stack.svc.url, '--cert', 'a.crt', '--key', 'a.key', '--dir', stack.work]);
  assert.equal(mixedDir.code, 2, mixedDir.stderr);
  assert.match(mixedDir.stderr, /--dir cannot be used with it/);
  const noKey = await pgmoat(['renew', '--remote', stack.svc.url, '--cert', 'a.crt']);
  assert.equal(noKey.code, 2, noKey.stderr);
});

test('renew --remote says what to do when the service cannot be reached or its certificate does not verify', async () => {
  const files = hostCopy(await stack.pki.client('app'), 'unreachable');
  const before = readFileSync(files.certPath, 'utf8') + readFileSync(files.keyPath, 'utf8');
  const closed = await freePort();
  const refused = await pgmoat(['renew', '--remote', `https://127.0.0.1:${closed}`, '--cert', files.certPath, '--key', files.keyPath]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /cannot reach the renewal service .*ECONNREFUSED.*; nothing listens there: check the host and port of --remote/);
  const wrongCa = await pgmoat(['renew', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath, '--ca', stack.pki.foreign.caPath]);
  assert.equal(wrongCa.code, 1, wrongCa.stderr);
  assert.match(wrongCa.stderr, new RegExp(`does not verify against ${stack.pki.foreign.caPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: pass --ca with the bundle of the CA that signs it`));
  assert.equal(readFileSync(files.certPath, 'utf8') + readFileSync(files.keyPath, 'utf8'), before, 'nothing was written');
});
