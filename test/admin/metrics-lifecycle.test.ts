/**
 * The certificate lifecycle figures against a real PostgreSQL, psql and node-postgres: refusals
 * by stage and reason (a login refused for environment mismatch is no accepted handshake), the
 * revocation delay to a revoked serial's first refused connection, the expiry and age of every
 * certificate of the CA inventory (and of what the configuration and the sessions show without
 * one), and SHOW CERTS / SHOW CRL through psql on the admin console.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, writeConfig, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { issueClient } from '../../src/ca/issue-client.js';
import { adminConn, parseMetrics, quietLog, sample, showRows, total, type Series } from './helpers.js';
import { cancelRequest, openTls, untypedPacket } from '../gateway/raw-wire.js';

const DAY_MS = 86_400_000;

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let gw: RunningGateway;
let admin: Admin;
let otherCaDir: string;
const open: pg.Client[] = [];

function config(caPath = pki.main.caPath): Record<string, unknown> {
  return {
    tls: { ...clientTlsSection(pki), ca: caPath },
    pool_mode: 'transaction',
    databases: {
      appdb: plainUpstream(pgs, 'appdb', { pool_size: 2 }),
      stagedb: plainUpstream(pgs, 'appdb', { pool_size: 1, environment: 'staging' }),
    },
    admin: { identities: ['ops'], http: { host: '127.0.0.1', port: 0 } },
  };
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  ops = await pki.client('ops');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE gone LOGIN; CREATE ROLE other LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway(config());
  admin = Admin.attach(gw.gateway, { log: quietLog(), processMetrics: false });
  await admin.start();
  otherCaDir = mkdtempSync(join(tmpdir(), 'pgmoat-ca-copy-'));
  copyFileSync(pki.main.caPath, join(otherCaDir, 'ca.crt'));
});

after(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await admin?.close();
  await gw?.stop();
  await pgs?.stop();
  pki?.cleanup();
  if (otherCaDir) rmSync(otherCaDir, { recursive: true, force: true });
});

function scrape(): Promise<Series[]> {
  const port = admin.httpAddress!.port;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(parseMetrics(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

const accepted = (m: Series[]): number => sample(m, 'pgmoat_tls_handshakes_total', { outcome: 'accepted', reason: 'none' }) ?? 0;
const loginRefused = (m: Series[]): number => sample(m, 'pgmoat_tls_handshakes_total', { outcome: 'refused', reason: 'login-refused' }) ?? 0;
const refusals = (m: Series[], stage: string, reason: string): number => sample(m, 'pgmoat_login_refusals_total', { stage, reason }) ?? 0;

test('a login refused for environment mismatch is counted with both environments, and not as an accepted handshake', async () => {
  const before = await scrape();
  const staging = await pki.client('app', { environment: 'staging' });
  const qa = await pki.client('app', { environment: 'qa' });
  const r1 = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: staging }), 'SELECT 1');
  assert.notEqual(r1.code, 0);
  assert.match(r1.stderr, /environment "staging"/);
  const r2 = await psql(conninfo(gw.port, { user: 'app', dbname: 'stagedb', cert: qa }), 'SELECT 1');
  assert.notEqual(r2.code, 0);
  // CN not allowed for the role: a login-stage refusal of another reason.
  const r3 = await psql(conninfo(gw.port, { user: 'other', dbname: 'appdb', cert: app }), 'SELECT 1');
  assert.notEqual(r3.code, 0);
  // An unknown CA is refused at the handshake stage.
  const foreign = await pki.client('app', { ca: 'foreign' });
  assert.notEqual((await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: foreign }), 'SELECT 1')).code, 0);

  const m = await scrape();
  assert.equal(refusals(m, 'login', 'environment mismatch') - refusals(before, 'login', 'environment mismatch'), 2);
  assert.equal(sample(m, 'pgmoat_environment_mismatches_total', { certificate_environment: 'staging', database_environment: 'production' }), 1);
  // qa is named by no database of the configuration: its label is bounded to `other`.
  assert.equal(sample(m, 'pgmoat_environment_mismatches_total', { certificate_environment: 'other', database_environment: 'staging' }), 1);
  assert.equal(refusals(m, 'login', 'identity not allowed for role') - refusals(before, 'login', 'identity not allowed for role'), 1);
  assert.equal(refusals(m, 'handshake', 'unknown CA') - refusals(before, 'handshake', 'unknown CA'), 1);
  // The three certificates passed the handshake, and their logins were refused: none is an accepted handshake.
  assert.equal(accepted(m), accepted(before));
  assert.equal(loginRefused(m) - loginRefused(before), 3);

  // A login that goes through is an accepted handshake, once.
  const ok = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT 1');
  assert.equal(ok.code, 0, ok.stderr);
  const after = await scrape();
  assert.equal(accepted(after), accepted(m) + 1);
  assert.equal(loginRefused(after), loginRefused(m));
});

test('a handshake whose certificate passed is counted once, by what became of the connection, at every exit', async () => {
  const before = await scrape();
  const counts = async (): Promise<{ accepted: number; refused: number }> => {
    const m = await scrape();
    return { accepted: accepted(m) - accepted(before), refused: loginRefused(m) - loginRefused(before) };
  };
  // Gone before any StartupMessage: not refused, so accepted. TLS 1.2, where the server's
  // Finished comes last: with 1.3 the client may leave before the gateway's handshake is done.
  const idle = await openTls(gw.port, { cert: app, maxVersion: 'TLSv1.2' });
  idle.destroy();
  await waitFor(async () => (await counts()).accepted === 1, 'the idle connection to be counted as accepted');
  // A CancelRequest inside TLS: accepted.
  const cancel = await openTls(gw.port, { cert: app });
  cancel.write(cancelRequest(1, 2));
  assert.ok(await cancel.waitClosed());
  await waitFor(async () => (await counts()).accepted === 2, 'the cancel connection to be counted as accepted');
  // A bad startup packet after the handshake: refused before the login.
  const bad = await openTls(gw.port, { cert: app });
  bad.write(untypedPacket(0x0009_0000));
  assert.ok(await bad.error());
  await waitFor(async () => (await counts()).refused === 1, 'the bad startup packet to be counted as refused');
  // The admin console: an admin identity is accepted, another certificate refused at login.
  assert.equal((await psql(adminConn(gw.port, ops), 'SHOW VERSION')).code, 0);
  assert.notEqual((await psql(adminConn(gw.port, app, 'app'), 'SHOW VERSION')).code, 0);
  const c = await counts();
  assert.deepEqual(c, { accepted: 3, refused: 2 });
});

test("a revoked serial's first refused connection is observed by the revocation delay histogram, once", async () => {
  const gone = await pki.client('gone');
  const ok = await psql(conninfo(gw.port, { user: 'gone', dbname: 'appdb', cert: gone }), 'SELECT 1');
  assert.equal(ok.code, 0, ok.stderr);
  const before = await scrape();
  assert.equal(sample(before, 'pgmoat_revocation_delay_seconds_count', { event: 'first_refusal' }) ?? 0, 0);
  await pki.revoke('gone');
  await waitFor(() => gw.gateway.revocations.lookup(gone.serial) !== undefined, 'the gateway to load the new CRL');
  for (let i = 0; i < 2; i++) {
    const r = await psql(conninfo(gw.port, { user: 'gone', dbname: 'appdb', cert: gone }), 'SELECT 1');
    assert.notEqual(r.code, 0);
  }
  const m = await scrape();
  assert.equal(sample(m, 'pgmoat_revocation_delay_seconds_count', { event: 'first_refusal' }), 1);
  assert.equal(sample(m, 'pgmoat_revocation_delay_seconds_bucket', { event: 'first_refusal', le: '+Inf' }), 1);
  assert.ok((sample(m, 'pgmoat_revocation_delay_seconds_sum', { event: 'first_refusal' }) ?? -1) >= 0);
  assert.equal(refusals(m, 'handshake', 'revoked') - refusals(before, 'handshake', 'revoked'), 2);
  // The revoked certificate leaves the per-certificate series.
  assert.equal(total(m, 'pgmoat_certificate_expiry_seconds', { serial: gone.serial }), 0);
  assert.equal(m.filter((s) => s.name === 'pgmoat_certificate_expiry_seconds' && s.labels.serial === gone.serial).length, 0);
  assert.equal(m.filter((s) => s.name === 'pgmoat_client_certificate_not_after_timestamp_seconds' && s.labels.serial === gone.serial).length, 0);
});

test('every certificate of the CA inventory has its expiry and age; without an inventory, the configuration and the certificates seen', async () => {
  // Issued and never used: only the inventory knows it.
  const unused = await pki.client('unused', { environment: 'staging' });
  const lately = await pki.client('lately', { expired: true });
  const t = Date.now();
  const longAgo = await issueClient(pki.main.authority, { name: 'longago', environment: 'production', notBefore: new Date(t - 40 * DAY_MS), notAfter: new Date(t - 10 * DAY_MS), allowDuplicate: true });
  const m = await scrape();
  // Expired yesterday: still there, negative. Expired 10 days ago: gone from the series, still in SHOW CERTS.
  assert.ok((sample(m, 'pgmoat_certificate_expiry_seconds', { serial: lately.serial }) ?? 0) < 0);
  assert.equal(sample(m, 'pgmoat_certificate_expiry_seconds', { serial: longAgo.serial }), undefined);
  assert.equal((await showRows(adminConn(gw.port, ops), 'SHOW CERTS')).find((r) => r.serial === longAgo.serial)?.status, 'expired');
  assert.equal(sample(m, 'pgmoat_certificate_inventory_available'), 1);
  const now = Date.now() / 1000;
  const caCert = new X509Certificate(pki.main.caPem);
  const rootExpiry = sample(m, 'pgmoat_certificate_expiry_seconds', { kind: 'root' });
  assert.ok(rootExpiry !== undefined);
  assert.ok(Math.abs(rootExpiry - (new Date(caCert.validTo).getTime() / 1000 - now)) < 600);
  assert.ok((sample(m, 'pgmoat_certificate_age_seconds', { kind: 'root' }) ?? -1) >= 0);
  const server = new X509Certificate(pki.server.certPem);
  assert.ok((sample(m, 'pgmoat_certificate_expiry_seconds', { kind: 'server', serial: server.serialNumber.toLowerCase() }) ?? 0) > 0);
  const unusedExpiry = sample(m, 'pgmoat_certificate_expiry_seconds', { kind: 'client', cn: 'unused', environment: 'staging', serial: unused.serial });
  assert.ok(unusedExpiry !== undefined && unusedExpiry > 80 * 86_400, String(unusedExpiry));
  assert.ok((sample(m, 'pgmoat_certificate_age_seconds', { serial: unused.serial }) ?? -1) >= 0);

  // tls.ca from a directory that is no CA directory: the root, the server and the clients seen.
  writeConfig(gw.dir, { ...config(join(otherCaDir, 'ca.crt')), listen: { host: '127.0.0.1', port: gw.port }, admin: { identities: ['ops'], http: { host: '127.0.0.1', port: admin.httpAddress!.port } } });
  await admin.reload('test');
  try {
    const ok = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT 1');
    assert.equal(ok.code, 0, ok.stderr);
    const n = await scrape();
    assert.equal(sample(n, 'pgmoat_certificate_inventory_available'), 0);
    assert.ok(sample(n, 'pgmoat_certificate_expiry_seconds', { kind: 'root' }) !== undefined);
    assert.ok(sample(n, 'pgmoat_certificate_expiry_seconds', { kind: 'server' }) !== undefined);
    assert.ok(sample(n, 'pgmoat_certificate_expiry_seconds', { kind: 'client', serial: app.serial }) !== undefined, 'a certificate seen');
    assert.equal(sample(n, 'pgmoat_certificate_expiry_seconds', { serial: unused.serial }), undefined, 'never seen, and no inventory');
    const rows = await showRows(adminConn(gw.port, ops), 'SHOW CERTS');
    assert.equal(rows.find((r) => r.serial === app.serial)?.source, 'seen');
    assert.equal(rows.find((r) => r.serial === unused.serial), undefined);

    // The same, with the renewal service's CA directory named: its inventory is read again.
    writeConfig(gw.dir, {
      ...config(join(otherCaDir, 'ca.crt')),
      renewal: { ca_dir: pki.main.dir, port: 0 },
      listen: { host: '127.0.0.1', port: gw.port },
      admin: { identities: ['ops'], http: { host: '127.0.0.1', port: admin.httpAddress!.port } },
    });
    await admin.reload('test');
    const r = await scrape();
    assert.equal(sample(r, 'pgmoat_certificate_inventory_available'), 1, 'renewal.ca_dir names the inventory');
    assert.ok(sample(r, 'pgmoat_certificate_expiry_seconds', { serial: unused.serial }) !== undefined, 'a certificate never seen, from the inventory');
  } finally {
    writeConfig(gw.dir, { ...config(), listen: { host: '127.0.0.1', port: gw.port }, admin: { identities: ['ops'], http: { host: '127.0.0.1', port: admin.httpAddress!.port } } });
    await admin.reload('test');
  }
});

test('SHOW CERTS and SHOW CRL on the admin console', async () => {
  const held = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  held.on('error', () => undefined);
  await held.connect();
  open.push(held);
  const expired = await pki.client('old', { expired: true });
  const now = Date.now();
  // 60 days old, 5 left: less than a third of its life.
  const soon = await issueClient(pki.main.authority, { name: 'soon', environment: 'production', notBefore: new Date(now - 60 * DAY_MS), notAfter: new Date(now + 5 * DAY_MS), allowDuplicate: true });
  const revoked = await pki.client('bad', { revoked: true });
  await waitFor(() => gw.gateway.revocations.lookup(revoked.serial) !== undefined, 'the gateway to load the new CRL');

  const rows = await showRows(adminConn(gw.port, ops), 'SHOW CERTS');
  const by = (serial: string): Record<string, string> => {
    const row = rows.find((r) => r.serial === serial);
    assert.ok(row, `no row for ${serial} in ${JSON.stringify(rows)}`);
    return row;
  };
  assert.deepEqual(Object.keys(rows[0]!), ['kind', 'cn', 'environment', 'serial', 'status', 'not_before', 'not_after', 'expires_in', 'last_seen', 'source']);
  assert.equal(rows[0]!.kind, 'root');
  assert.equal(rows[0]!.cn, 'pgmoat test CA');
  assert.equal(rows[0]!.status, 'valid');
  const appRow = by(app.serial);
  assert.equal(appRow.status, 'valid');
  assert.equal(appRow.cn, 'app');
  assert.equal(appRow.environment, 'production');
  assert.equal(appRow.source, 'inventory');
  assert.match(appRow.last_seen!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.match(appRow.expires_in!, /^\d+d \d+h$/);
  assert.equal(appRow.not_after, `${new Date(new X509Certificate(app.certPem).validTo).toISOString().slice(0, 19).replace('T', ' ')} UTC`);
  assert.equal(by(expired.serial).status, 'expired');
  assert.match(by(expired.serial).expires_in!, /^-/);
  assert.equal(by(soon.serial).status, 'expiring');
  assert.equal(by(revoked.serial).status, 'revoked');
  assert.equal(by(revoked.serial).last_seen, '');
  assert.equal(rows.filter((r) => r.kind === 'server').length >= 1, true);

  const crl = await showRows(adminConn(gw.port, ops), 'SHOW CRL');
  assert.equal(crl.length, 1, JSON.stringify(crl));
  const c = crl[0]!;
  assert.equal(c.issuer, 'CN=pgmoat test CA, O=pgmoat');
  assert.ok(Number(c.crl_number) >= 2, c.crl_number);
  assert.equal(c.revoked, String(gw.gateway.runtime.revocation.revoked.size));
  assert.ok(Number(c.revoked) >= 1);
  assert.equal(c.stale, 'no');
  assert.match(c.this_update!, / UTC$/);
  assert.match(c.next_update!, / UTC$/);
  assert.ok(new Date(c.next_update!.replace(' UTC', 'Z').replace(' ', 'T')).getTime() > Date.now());
  assert.match(c.age!, /^\d+(s|m \d+s|h \d+m|d \d+h)$/);
  assert.equal(c.path, pki.crlPath);

  const help = await showRows(adminConn(gw.port, ops), 'SHOW HELP');
  assert.ok(help.some((r) => r.command === 'SHOW CERTS'));
  assert.ok(help.some((r) => r.command === 'SHOW CRL'));
});
