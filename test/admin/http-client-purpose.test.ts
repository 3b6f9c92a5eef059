/**
 * The admin HTTPS listener with mutual TLS (`admin.http.tls.ca`) holds client certificates to the
 * same purpose policy as the gateway (src/tls/cert-usage.ts). OpenSSL's chain check alone, which
 * was all the listener had, passes a CA:TRUE leaf and a leaf without extendedKeyUsage signed by the
 * admin CA; pgmoat answers those 403, naming the reason, before any handler runs. A serverAuth-only
 * leaf OpenSSL refuses itself (INVALID_PURPOSE: the connection ends in the handshake).
 * `admin.http.tls.allow_client_certs_without_eku` lets certificates without any EKU in, and
 * nothing else. Clients: node:https and curl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { TLSSocket } from 'node:tls';
import { Agent, request as httpsRequest } from 'node:https';
import * as x509 from '../../src/ca/x509.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, writeConfig, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { normalizeSerial } from '../../src/util/serial.js';
import { pino } from 'pino';
import { Writable } from 'node:stream';

const KU = x509.KeyUsageFlags;
const EKU = x509.ExtendedKeyUsage;

let pki: Pki;
let gw: RunningGateway;
let admin: Admin;
let unused: number;
type Kind = 'good' | 'caLeaf' | 'serverAuthOnly' | 'noEku' | 'keyAgreementOnly';
const certs = {} as Record<Kind, ClientFiles>;
const adminLog: Record<string, unknown>[] = [];

/** The admin CA is the main test CA here: every certificate below chains to it. */
function config(extraTls: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tls: clientTlsSection(pki),
    databases: { appdb: { host: '127.0.0.1', port: unused, tls: { mode: 'disable' } } },
    admin: { identities: [], http: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, ...extraTls } } },
  };
}

before(async () => {
  pki = await makePki();
  unused = await freePort();
  certs.good = await pki.client('prometheus');
  certs.caLeaf = await pki.customClient('prometheus', { ca: true, keyUsage: KU.digitalSignature | KU.keyCertSign | KU.cRLSign, eku: [EKU.clientAuth] });
  certs.serverAuthOnly = await pki.customClient('prometheus', { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.serverAuth] });
  certs.noEku = await pki.customClient('prometheus', { ca: false, keyUsage: KU.digitalSignature });
  certs.keyAgreementOnly = await pki.customClient('prometheus', { ca: false, keyUsage: KU.keyAgreement, eku: [EKU.clientAuth] });
  gw = await startGateway(config());
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
});

type Outcome = { status: number; body: string; resumed: boolean } | { error: string };

function fetchWith(client: ClientFiles, path = '/metrics', method = 'GET', agent: Agent | false = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: admin.httpAddress!.port, path, method, ca: pki.main.caPem, cert: client.certPem, key: client.keyPem, agent },
      (res) => {
        let body = '';
        const resumed = (res.socket as TLSSocket).isSessionReused();
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, resumed }));
        res.on('error', (err) => resolve({ error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

/** curl as an independent client: the HTTP status, or 0 when no response came. */
function curlStatus(client: ClientFiles): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '20', '--cacert', pki.main.caPath, '--cert', client.certPath, '--key', client.keyPath, `https://127.0.0.1:${admin.httpAddress!.port}/metrics`],
      { encoding: 'utf8', timeout: 30_000 },
      (_err, stdout) => {
        const at = stdout.lastIndexOf('\n');
        resolve({ status: Number(stdout.slice(at + 1)) || 0, body: stdout.slice(0, Math.max(at, 0)) });
      },
    );
  });
}

function assertServed(o: Outcome, what: string): void {
  assert.ok('status' in o, `${what}: ${'error' in o ? o.error : ''}`);
  assert.equal(o.status, 200, `${what}: got ${o.status}, ${o.body.slice(0, 120)}`);
  assert.match(o.body, /pgmoat_/, `${what}: the metrics`);
}

function assertRefused(o: Outcome, detail: RegExp, what: string): void {
  assert.ok('status' in o, `${what}: expected a 403, got ${'error' in o ? o.error : ''}`);
  assert.equal(o.status, 403, `${what}: got ${o.status}, ${o.body.slice(0, 120)}`);
  assert.match(o.body, /client certificate is not for client use/, what);
  assert.match(o.body, detail, what);
  assert.doesNotMatch(o.body, /pgmoat_/, `${what}: no metrics`);
}

test('a normal client certificate from the admin CA gets /metrics and /healthz', async () => {
  assertServed(await fetchWith(certs.good), 'node:https');
  const h = await fetchWith(certs.good, '/healthz');
  assert.ok('status' in h && h.status === 200 && h.body === 'ok\n', JSON.stringify(h));
  const c = await curlStatus(certs.good);
  assert.equal(c.status, 200, c.body.slice(0, 120));
});

test('a CA:TRUE leaf signed by the admin CA is refused, on every path and method', async () => {
  assertRefused(await fetchWith(certs.caLeaf), /CA certificate/, 'GET /metrics');
  assertRefused(await fetchWith(certs.caLeaf, '/healthz'), /CA certificate/, 'GET /healthz');
  assertRefused(await fetchWith(certs.caLeaf, '/readyz'), /CA certificate/, 'GET /readyz');
  const head = await fetchWith(certs.caLeaf, '/metrics', 'HEAD');
  assert.ok('status' in head && head.status === 403, JSON.stringify(head));
  const c = await curlStatus(certs.caLeaf);
  assert.equal(c.status, 403, c.body.slice(0, 120));
  const logged = adminLog.filter((l) => l.event === 'admin_http_refused' && l.serial === normalizeSerial(certs.caLeaf.serial));
  assert.ok(logged.length >= 1, 'the refusal is logged');
  assert.equal(logged[0]!.cn, 'prometheus');
  assert.match(String(logged[0]!.reason), /CA certificate/);
});

test('a resumed TLS session is judged by the certificate it was made with', async () => {
  for (const [kind, status] of [['caLeaf', 403], ['good', 200]] as const) {
    // The agent keeps each TLS session and offers it again on the next connection.
    const agent = new Agent({ keepAlive: false, maxCachedSessions: 4 });
    try {
      const first = await fetchWith(certs[kind], '/healthz', 'GET', agent);
      assert.ok('status' in first && first.status === status, `${kind}, first: ${JSON.stringify(first).slice(0, 160)}`);
      let again = await fetchWith(certs[kind], '/healthz', 'GET', agent);
      // A TLS 1.3 ticket comes after the handshake: ask again until the agent has one to offer.
      for (let i = 0; i < 20 && 'resumed' in again && !again.resumed; i++) again = await fetchWith(certs[kind], '/healthz', 'GET', agent);
      assert.ok('status' in again, `${kind}: ${JSON.stringify(again)}`);
      assert.equal(again.resumed, true, `${kind}: the session was resumed`);
      assert.equal(again.status, status, `${kind}, resumed: ${again.body.slice(0, 160)}`);
    } finally {
      agent.destroy();
    }
  }
});

test('a serverAuth-only leaf signed by the admin CA is refused', async () => {
  // OpenSSL's sslclient purpose refuses it in the handshake (INVALID_PURPOSE): no response at all.
  const o = await fetchWith(certs.serverAuthOnly);
  assert.ok(!('status' in o) || o.status === 403, `refused: ${JSON.stringify(o)}`);
  assert.ok(!('body' in o) || !/pgmoat_/.test(o.body), 'no metrics');
  assert.notEqual((await curlStatus(certs.serverAuthOnly)).status, 200);
});

test('a leaf without extendedKeyUsage, or with keyAgreement alone, is refused', async () => {
  assertRefused(await fetchWith(certs.noEku), /no extended key usage/, 'no EKU');
  assertRefused(await fetchWith(certs.keyAgreementOnly), /digitalSignature/, 'keyAgreement only');
});

test('admin.http.tls.allow_client_certs_without_eku lets a certificate without EKU in, and nothing else', async () => {
  writeConfig(gw.dir, { ...config({ allow_client_certs_without_eku: true }), listen: { host: '127.0.0.1', port: gw.port } });
  await admin.reload('test');
  try {
    assertServed(await fetchWith(certs.noEku), 'no EKU, allowed');
    assertRefused(await fetchWith(certs.caLeaf), /CA certificate/, 'CA:TRUE stays refused');
    assertRefused(await fetchWith(certs.keyAgreementOnly), /digitalSignature/, 'keyAgreement only stays refused');
    assertServed(await fetchWith(certs.good), 'the normal certificate');
  } finally {
    writeConfig(gw.dir, { ...config(), listen: { host: '127.0.0.1', port: gw.port } });
    await admin.reload('test');
  }
  assertRefused(await fetchWith(certs.noEku), /no extended key usage/, 'refused again after the reload');
});
