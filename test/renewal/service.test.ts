/**
 * The renewal service over real mutual TLS: curl and Node renew with a real client certificate,
 * the new certificate keeps the identity and lifetime and lands in the inventory, and every
 * refusal comes back as JSON with its code and HTTP status, with one audit line per request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { openssl } from '../ca/run-pgmoat.js';
import { readInventory } from '../../src/ca/inventory.js';
import { curl, type CurlAnswer, inventorySerials, opensslCsr, opensslCsrForKey, readText, serialOf, startRenewal, workDir, type RunningRenewal } from './helpers.js';

let pki: Pki;
let svc: RunningRenewal;
let dir: string;

before(async () => {
  pki = await makePki();
  svc = await startRenewal(pki);
  dir = workDir();
});
after(async () => {
  await svc.server.close();
  pki.cleanup();
});

function renewWithCurl(c: ClientFiles, csrPath: string, s = svc) {
  return curl(`${s.url}/v1/renew`, { cert: c.certPath, key: c.keyPath, cacert: pki.main.caPath, dataFile: csrPath });
}

function auditFor(serial: string): Record<string, unknown>[] {
  return svc.lines.filter((l) => l.event === 'renewal' && l.old_serial === serial);
}

function assertRefused(answer: CurlAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, `${answer.status} ${answer.body} ${answer.stderr}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(answer.body) as { code: string; message: string };
  assert.equal(body.code, code, answer.body);
  assert.ok(body.message.length > 0);
}

test('curl renews with its current certificate: same identity and lifetime, new key, recorded in the inventory', async () => {
  const app = await pki.client('curlapp', { environment: 'staging', days: 10 });
  const { csrPath, keyPath } = opensslCsr(dir, 'curlapp-new', '/CN=curlapp');
  const answer = await renewWithCurl(app, csrPath);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.headers['content-type'], 'application/pem-certificate-chain');
  const leafPem = answer.body.slice(0, answer.body.indexOf('-----END CERTIFICATE-----') + 26);
  const leaf = new X509Certificate(leafPem);
  const old = new X509Certificate(app.certPem);
  assert.equal(leaf.subject, old.subject);
  assert.equal(leaf.subjectAltName, old.subjectAltName);
  assert.equal(leaf.subjectAltName, 'URI:pgmoat://staging/curlapp');
  assert.equal(leaf.ca, false);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.notEqual(leaf.serialNumber, old.serialNumber);
  // The key of the CSR, not the old one.
  const newKeyPub = new X509Certificate(leafPem).publicKey.export({ format: 'der', type: 'spki' });
  const csrPub = openssl(['req', '-in', csrPath, '-noout', '-pubkey']).out;
  assert.ok(csrPub.includes(newKeyPub.toString('base64').slice(0, 40)), 'the new certificate certifies the CSR key');
  // Lifetime kept: 10 days (+ the few minutes of backdating) as before.
  const span = (c: X509Certificate) => Date.parse(c.validTo) - Date.parse(c.validFrom);
  assert.ok(Math.abs(span(leaf) - span(old)) <= 2_000, `${span(leaf)} vs ${span(old)}`);
  // Chains to the CA, for openssl as an independent verifier; ends with the CA certificate.
  const leafFile = join(dir, 'curlapp-new.crt');
  writeFileSync(leafFile, leafPem);
  const v = openssl(['verify', '-CAfile', pki.main.caPath, '-purpose', 'sslclient', leafFile]);
  assert.ok(v.ok, v.out);
  assert.ok(answer.body.trimEnd().endsWith(pki.main.caPem.trimEnd()));
  // The new pair works: it can renew in turn.
  const again = opensslCsr(dir, 'curlapp-new2', '/CN=curlapp');
  const second = await curl(`${svc.url}/v1/renew`, { cert: leafFile, key: keyPath, cacert: pki.main.caPath, dataFile: again.csrPath });
  assert.equal(second.status, 200, second.body);
  const inv = readInventory(pki.main.dir).certificates;
  const entry = inv.find((e) => e.serial === serialOf(leafPem));
  assert.ok(entry, 'new certificate in the inventory');
  assert.equal(entry.name, 'curlapp');
  assert.equal(entry.environment, 'staging');
  assert.equal(entry.status, 'valid');
  assert.ok(inventorySerials(pki.main.dir).includes(serialOf(second.body)));
  // Renewed in turn: still valid (it verifies until it expires), listed as superseded by the next one.
  assert.equal(entry.supersededBy, serialOf(second.body));
  const audit = auditFor(app.serial);
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.outcome, 'renewed');
  assert.equal(audit[0]!.new_serial, serialOf(leafPem));
  assert.equal(audit[0]!.cn, 'curlapp');
  assert.equal(audit[0]!.environment, 'staging');
});

test('Node renews over https with a JSON body and gets JSON back', async () => {
  const app = await pki.client('nodeapp');
  const { csrPath } = opensslCsr(dir, 'nodeapp-new', '/CN=nodeapp');
  const body = JSON.stringify({ csr: readText(csrPath) });
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${svc.url}/v1/renew`, {
      method: 'POST',
      cert: app.certPem,
      key: app.keyPem,
      ca: pki.main.caPem,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(answer.status, 200, answer.body);
  const json = JSON.parse(answer.body) as { serial: string; certificate: string; chain: string; not_after: string };
  assert.equal(json.serial, serialOf(json.certificate));
  assert.ok(json.chain.startsWith(json.certificate));
  assert.equal(new X509Certificate(json.certificate).subject, new X509Certificate(app.certPem).subject);
});

test('GET /v1/ca and /v1/crl serve the bundle and the current CRL, without a client certificate', async () => {
  const ca = await curl(`${svc.url}/v1/ca`, { cacert: pki.main.caPath });
  assert.equal(ca.status, 200);
  assert.equal(ca.body, pki.main.caPem);
  const crl = await curl(`${svc.url}/v1/crl`, { cacert: pki.main.caPath });
  assert.equal(crl.status, 200);
  assert.equal(crl.body, pki.crlPem());
  assertRefused(await curl(`${svc.url}/v1/nothing`, { cacert: pki.main.caPath }), 404, 'RENEWAL_BAD_REQUEST');
  assertRefused(await curl(`${svc.url}/v1/renew`, { cacert: pki.main.caPath }), 405, 'RENEWAL_BAD_REQUEST');
});

test('a revoked certificate cannot renew (403 RENEWAL_REVOKED)', async () => {
  const app = await pki.client('revokedapp', { revoked: true });
  const { csrPath } = opensslCsr(dir, 'revokedapp-new', '/CN=revokedapp');
  assertRefused(await renewWithCurl(app, csrPath), 403, 'RENEWAL_REVOKED');
  const audit = auditFor(app.serial);
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.outcome, 'refused');
  assert.equal(audit[0]!.code, 'RENEWAL_REVOKED');
  assert.equal(audit[0]!.new_serial, undefined);
  assert.equal(audit[0]!.cn, undefined, 'an unverified certificate names no identity');
  assert.equal(audit[0]!.presented_cn, 'revokedapp');
});

test('a certificate revoked while valid in the inventory but listed in the CRL is refused too', async () => {
  // Revoke, then put the inventory entry back to valid: only the CRL still says revoked.
  const app = await pki.client('crlonly');
  await pki.revoke(app.serial);
  const inv = readInventory(pki.main.dir);
  const e = inv.certificates.find((c) => c.serial === app.serial)!;
  e.status = 'valid';
  delete e.revokedAt;
  delete e.reason;
  writeFileSync(join(pki.main.dir, 'inventory.json'), JSON.stringify(inv, null, 2) + '\n');
  const { csrPath } = opensslCsr(dir, 'crlonly-new', '/CN=crlonly');
  assertRefused(await renewWithCurl(app, csrPath), 403, 'RENEWAL_REVOKED');
});

test('an expired certificate is refused (403 RENEWAL_EXPIRED), and renews within expired_grace', async () => {
  const app = await pki.client('oldapp', { expired: true });
  const { csrPath } = opensslCsr(dir, 'oldapp-new', '/CN=oldapp');
  assertRefused(await renewWithCurl(app, csrPath), 403, 'RENEWAL_EXPIRED');
  const graceful = await startRenewal(pki, { graceMs: 2 * 86_400_000 });
  try {
    const answer = await renewWithCurl(app, csrPath, graceful);
    assert.equal(answer.status, 200, answer.body);
    assert.ok(new Date(new X509Certificate(answer.body.slice(0, answer.body.indexOf('-----END CERTIFICATE-----') + 26)).validTo) > new Date());
  } finally {
    await graceful.server.close();
  }
});

test('a certificate of another CA with the same CN is refused (401 RENEWAL_UNKNOWN_CA), and so is none', async () => {
  await pki.client('twin');
  const foreign = await pki.client('twin', { ca: 'foreign' });
  const before = inventorySerials(pki.main.dir).length;
  const { csrPath } = opensslCsr(dir, 'twin-new', '/CN=twin');
  assertRefused(await renewWithCurl(foreign, csrPath), 401, 'RENEWAL_UNKNOWN_CA');
  assertRefused(await curl(`${svc.url}/v1/renew`, { cacert: pki.main.caPath, dataFile: csrPath }), 401, 'RENEWAL_CERT_REQUIRED');
  assert.equal(inventorySerials(pki.main.dir).length, before);
});

test('a certificate this CA signed outside its inventory is refused (403 RENEWAL_CERT_UNKNOWN)', async () => {
  const stray = await pki.customClient('stray', { ca: false, keyUsage: 1, eku: ['1.3.6.1.5.5.7.3.2'] });
  const { csrPath } = opensslCsr(dir, 'stray-new', '/CN=stray');
  assertRefused(await renewWithCurl(stray, csrPath), 403, 'RENEWAL_CERT_UNKNOWN');
});

test('a certificate not for client use cannot renew (403 RENEWAL_NOT_CLIENT)', async () => {
  const server = await pki.client('srvonly', { serverAuthOnly: true });
  const { csrPath } = opensslCsr(dir, 'srvonly-new', '/CN=srvonly');
  assertRefused(await renewWithCurl(server, csrPath), 403, 'RENEWAL_NOT_CLIENT');
});

test('a CSR that changes the identity is refused (400 RENEWAL_IDENTITY_CHANGED)', async () => {
  const app = await pki.client('idapp');
  const before = inventorySerials(pki.main.dir).length;
  for (const [name, subject, extra] of [
    ['cn', '/CN=admin', []],
    ['env', '/CN=idapp/OU=production2', []],
    ['san', '/CN=idapp', ['-addext', 'subjectAltName=URI:pgmoat://staging/idapp']],
    ['dns', '/CN=idapp', ['-addext', 'subjectAltName=DNS:db.example.com']],
  ] as const) {
    const { csrPath } = opensslCsr(dir, `idapp-${name}`, subject, extra);
    assertRefused(await renewWithCurl(app, csrPath), 400, 'RENEWAL_IDENTITY_CHANGED');
  }
  // Repeating the identity exactly is fine.
  const same = opensslCsr(dir, 'idapp-same', '/CN=idapp/OU=production', ['-addext', 'subjectAltName=URI:pgmoat://production/idapp']);
  assert.equal((await renewWithCurl(app, same.csrPath)).status, 200);
  assert.equal(inventorySerials(pki.main.dir).length, before + 1);
});

test('a CSR asking for CA:TRUE, certificate signing or serverAuth is refused (400 RENEWAL_CSR_PURPOSE)', async () => {
  const app = await pki.client('purposeapp');
  for (const [name, ext] of [
    ['ca', 'basicConstraints=critical,CA:TRUE'],
    ['certsign', 'keyUsage=critical,digitalSignature,keyCertSign'],
    ['server', 'extendedKeyUsage=serverAuth'],
    ['both', 'extendedKeyUsage=clientAuth,serverAuth'],
  ] as const) {
    const { csrPath } = opensslCsr(dir, `purpose-${name}`, '/CN=purposeapp', ['-addext', ext]);
    assertRefused(await renewWithCurl(app, csrPath), 400, 'RENEWAL_CSR_PURPOSE');
  }
});

test('a malformed CSR, a CSR with a broken signature and a reused key are refused (400)', async () => {
  const app = await pki.client('badcsr');
  const junk = join(dir, 'junk.csr');
  writeFileSync(junk, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n');
  assertRefused(await renewWithCurl(app, junk), 400, 'RENEWAL_CSR_MALFORMED');
  writeFileSync(junk, app.certPem);
  assertRefused(await renewWithCurl(app, junk), 400, 'RENEWAL_CSR_MALFORMED');
  // Flip one byte of the signature of a DER CSR.
  const { csrPath } = opensslCsr(dir, 'badsig', '/CN=badcsr');
  const der = Buffer.from(readText(csrPath).replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  der[der.length - 3] = der[der.length - 3]! ^ 0x01;
  const derPath = join(dir, 'badsig.der');
  writeFileSync(derPath, der);
  assertRefused(await curl(`${svc.url}/v1/renew`, { cert: app.certPath, key: app.keyPath, cacert: pki.main.caPath, dataFile: derPath, headers: ['Content-Type: application/pkcs10'] }), 400, 'RENEWAL_CSR_MALFORMED');
  const reused = opensslCsrForKey(dir, 'reused', app.keyPath, '/CN=badcsr');
  assertRefused(await renewWithCurl(app, reused), 400, 'RENEWAL_KEY_REUSED');
  assertRefused(
    await curl(`${svc.url}/v1/renew`, { cert: app.certPath, key: app.keyPath, cacert: pki.main.caPath, dataFile: csrPath, headers: ['Content-Type: image/png'] }),
    415,
    'RENEWAL_BAD_REQUEST',
  );
});

test('a DER CSR as application/pkcs10 renews', async () => {
  const app = await pki.client('derapp');
  const { csrPath } = opensslCsr(dir, 'derapp-new', '/CN=derapp');
  const derPath = join(dir, 'derapp.der');
  writeFileSync(derPath, Buffer.from(readText(csrPath).replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64'));
  const answer = await curl(`${svc.url}/v1/renew`, { cert: app.certPath, key: app.keyPath, cacert: pki.main.caPath, dataFile: derPath, headers: ['Content-Type: application/pkcs10'] });
  assert.equal(answer.status, 200, answer.body);
});

test('the rate limit per identity answers 429 with Retry-After', async () => {
  const limited = await startRenewal(pki, { max: 2 });
  try {
    const app = await pki.client('busyapp');
    const other = await pki.client('calmapp');
    for (let i = 0; i < 2; i++) {
      const { csrPath } = opensslCsr(dir, `busy-${i}`, '/CN=busyapp');
      assert.equal((await renewWithCurl(app, csrPath, limited)).status, 200);
    }
    const { csrPath } = opensslCsr(dir, 'busy-3', '/CN=busyapp');
    const answer = await renewWithCurl(app, csrPath, limited);
    assertRefused(answer, 429, 'RENEWAL_RATE_LIMITED');
    const retry = Number(answer.headers['retry-after']);
    assert.ok(retry > 0 && retry <= 3600, `Retry-After ${answer.headers['retry-after']}`);
    // Another identity is not held back.
    const calm = opensslCsr(dir, 'calm', '/CN=calmapp');
    assert.equal((await renewWithCurl(other, calm.csrPath, limited)).status, 200);
    assert.deepEqual(
      limited.outcomes.map(([o, r]) => `${o}/${r}`),
      ['renewed/none', 'renewed/none', 'refused/rate_limited', 'renewed/none'],
    );
  } finally {
    await limited.server.close();
  }
});

test('the listener refuses TLS below 1.2', async () => {
  const r = await curl(`${svc.url}/v1/ca`, { cacert: pki.main.caPath, headers: [] });
  assert.equal(r.status, 200);
  const child = spawn('openssl', ['s_client', '-connect', svc.url.replace('https://', ''), '-tls1_1', '-CAfile', pki.main.caPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.notEqual(code, 0, out);
  assert.match(out, /alert|no protocols available|wrong version|unsupported protocol/i);
});

test('a body far larger than a CSR is refused (413) and the service keeps answering', async () => {
  const app = await pki.client('bigapp');
  const big = join(dir, 'big.csr');
  writeFileSync(big, 'A'.repeat(200_000));
  assertRefused(await renewWithCurl(app, big), 413, 'RENEWAL_BAD_REQUEST');
  const { csrPath } = opensslCsr(dir, 'bigapp-new', '/CN=bigapp');
  assert.equal((await renewWithCurl(app, csrPath)).status, 200);
});

test('a declared body of megabytes is answered 413 before it is sent', async () => {
  const app = await pki.client('hugeapp');
  const [host, port] = svc.url.replace('https://', '').split(':') as [string, string];
  const socket = connect({ host, port: Number(port), cert: readText(app.certPath), key: readText(app.keyPath), ca: readText(pki.main.caPath), servername: 'localhost' });
  let answer = '';
  socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.write(`POST /v1/renew HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/pkcs10\r\ncontent-length: 5000000\r\n\r\n`);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  assert.match(answer, /^HTTP\/1\.1 413 /, answer);
  assert.match(answer, /RENEWAL_BAD_REQUEST/);
});
