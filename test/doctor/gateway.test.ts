/**
 * pgmoat doctor against a pgmoat gateway in verify-full (in-process) in front of a real
 * PostgreSQL. Node-based servers send no TLS alert for a bad client certificate: pgmoat reads
 * the startup packet and answers one FATAL naming the reason, which the doctor reports as the
 * handshake step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { doctor, lastStep } from './run-doctor.js';

let pg: PgServer;
let pki: Pki;
let gw: RunningGateway;
let revoked: ClientFiles;

before(async () => {
  pki = await makePki();
  revoked = await pki.client('gone', { revoked: true });
  pg = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE gone LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    databases: { appdb: { host: '127.0.0.1', port: pg.port, dbname: 'appdb', environment: 'production', pool_size: 2, tls: { mode: 'disable' } } },
  });
});

after(async () => {
  await gw?.stop();
  await pg?.stop();
  pki?.cleanup();
});

function uri(user: string, host = '127.0.0.1'): string {
  return `postgres://${user}@${host}:${gw.port}/appdb`;
}

function files(c: ClientFiles): string[] {
  return ['--cert', c.certPath, '--key', c.keyPath, '--ca', c.caPath];
}

test('success through the gateway: it works, in one line', async () => {
  const app = await pki.client('app');
  const r = await doctor([uri('app', 'localhost'), ...files(app)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok +6\. TLS handshake +TLSv1\.[23] .*client certificate accepted$/m);
  assert.match(r.stdout, /^ok +7\. PostgreSQL login +logged in as "app" to "appdb"/m);
  assert.match(r.stdout, /^ok +8\. query +SELECT 1 returned 1$/m);
  assert.match(r.stdout.trim().split('\n').at(-1)!, /^It works: "app" logs in to "appdb" at localhost:\d+ over mutual TLS, and SELECT 1 returned\.$/);
});

test('client certificate from a CA the gateway does not trust: its FATAL, read after the startup packet', async () => {
  const foreign = await pki.client('app', { ca: 'foreign' });
  const r = await doctor([uri('app'), '--cert', foreign.certPath, '--key', foreign.keyPath, '--ca', pki.main.caPath, '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'CLIENT_CERT_UNKNOWN_CA');
  assert.match(s.detail, /client certificate was not issued by a CA this gateway trusts/);
  assert.match(s.fix!, /pgmoat issue app --env production/);
});

test('revoked client certificate: the gateway says so, the fix is a new certificate', async () => {
  const r = await doctor([uri('gone'), ...files(revoked), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'CLIENT_CERT_REVOKED');
  assert.match(s.detail, /revoked/);
  assert.match(s.fix!, /^a revoked certificate cannot be renewed; .*pgmoat issue gone --env production --dir CA_DIR --out NEW_DIR/);
});

test('no client certificate: the gateway requires one', async () => {
  const r = await doctor([uri('app'), '--ca', pki.main.caPath, '--json']);
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'CLIENT_CERT_REQUIRED');
});

test("certificate CN does not match the role: the login fails with the gateway's message", async () => {
  const app = await pki.client('app');
  const r = await doctor([uri('bob'), ...files(app), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'login');
  assert.equal(s.code, 'ROLE_MISMATCH');
  assert.match(s.detail, /user "bob"/);
  assert.match(s.fix!, /connect as user "app"/);
});

test('wrong trust chain against the gateway: --ca of the foreign CA', async () => {
  const app = await pki.client('app');
  const r = await doctor([uri('app'), '--cert', app.certPath, '--key', app.keyPath, '--ca', pki.foreign.caPath, '--json']);
  const s = lastStep(r);
  assert.equal(s.step, 'server-certificate');
  assert.equal(s.code, 'SERVER_CERT_UNTRUSTED');
});
