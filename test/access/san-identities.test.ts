/**
 * Identities from subject alternative names, end to end: certificates made by openssl the way
 * SPIRE (no CN, URI SAN only), cert-manager (CN + DNS SANs) and Vault PKI (CN + DNS and URI SANs)
 * make them, signed by CAs the gateway trusts next to pgmoat's own, logging in through the
 * gateway with node-postgres and psql. pgmoat's CN certificates keep their behaviour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { makeOpensslCa, type OpensslCa } from '../harness/openssl-certs.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import pg from 'pg';
import { Admin } from '../../src/admin/admin.js';
import { adminConn, quietLog, showRows } from '../admin/helpers.js';
import { nodeSsl } from '../gateway/helpers.js';
import { assertLoggedIn, assertNoSecrets, assertRefused, events, pgLogin, secretsOf, tlsSection, upstreamDb } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let spire: OpensslCa;
let issuer: OpensslCa;
let bundle: string;
let gw: RunningGateway;
let admin: Admin;
const c = {} as Record<'ops' | 'app' | 'svidApi' | 'svidStaging' | 'svidUnknown' | 'certManager' | 'vault' | 'noSans', ClientFiles>;

const SPIFFE_MAP = { uri: '/^spiffe://prod\\.example/ns/prod/sa/([a-z_]+)$/', role: '\\1' };

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({
    setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE api LOGIN; CREATE ROLE orders LOGIN; CREATE ROLE reports LOGIN; CREATE DATABASE appdb OWNER app;',
  });
  // Two issuers that are not pgmoat: SPIRE's CA, and one for cert-manager and Vault PKI.
  spire = makeOpensslCa(pki.dir, 'spire-ca', pki.main.caPath);
  issuer = makeOpensslCa(pki.dir, 'pki-issuer', pki.main.caPath);
  bundle = join(pki.dir, 'trusted-clients.pem');
  writeFileSync(bundle, `${pki.main.caPem}${spire.caPem}${issuer.caPem}`);
  c.app = await pki.client('app');
  c.ops = await pki.client('ops');
  c.svidApi = spire.spire('spiffe://prod.example/ns/prod/sa/api');
  c.svidStaging = spire.spire('spiffe://staging.example/ns/prod/sa/api');
  c.svidUnknown = spire.spire('spiffe://prod.example/ns/prod/sa/Mallory');
  c.certManager = issuer.certManager('reports-7f9c', ['reports.prod.svc.cluster.local', 'reports']);
  c.vault = issuer.vault('orders.prod.example', { dns: ['orders.prod.example'], uri: ['spiffe://prod.example/ns/prod/sa/orders'] });
  gw = await startGateway({
    tls: tlsSection(pki, { mode: 'verify-ca', ca: bundle }),
    databases: {
      appdb: upstreamDb(upstream, 'appdb'),
      stagingdb: upstreamDb(upstream, 'appdb', { environment: 'staging' }),
      opendb: upstreamDb(upstream, 'appdb', { environment: undefined }),
    },
    ident_maps: {
      spiffe: [SPIFFE_MAP],
      k8s: [{ dns: 'reports.prod.svc.cluster.local', role: 'reports' }],
    },
    rules: [
      { san: 'uri:spiffe://prod.example/ns/prod/*', san_environment: 'production', method: 'cert', map: 'spiffe' },
      { san: 'dns:*.prod.svc.cluster.local', method: 'cert', map: 'k8s' },
      { method: 'cert' },
    ],
    admin: { identities: ['ops'] },
  });
  admin = Admin.attach(gw.gateway, { log: quietLog(), processMetrics: false });
  await admin.start();
});
after(async () => {
  if (gw) assertNoSecrets(gw.logs(), secretsOf(pki, Object.values(c), []));
  await admin?.close();
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

const login = (user: string, cert: ClientFiles, database = 'appdb') => pgLogin(gw.port, { user, database, cert });
const psqlAs = (user: string, cert: ClientFiles, dbname = 'appdb') => psql(conninfo(gw.port, { user, dbname, cert }), 'SELECT current_user');

test('SPIRE SVID (no CN): the SPIFFE ID maps to a role by regex capture; audit and login line name the SAN', async () => {
  assertLoggedIn(await login('api', c.svidApi), 'api');
  const r = await psqlAs('api', c.svidApi);
  assert.equal(r.stdout, 'api', r.stderr);
  const line = events(gw, 'login').at(-1)!;
  assert.equal(line.rule, 'rules[0]');
  assert.equal(line.cn, undefined);
  assert.equal(line.environment, undefined);
  assert.deepEqual(line.san, ['uri:spiffe://prod.example/ns/prod/sa/api']);
  assert.equal(line.serial, c.svidApi.serial);
});

test('a SPIFFE ID the map does not allow for the role: 28000 CERT_SAN_ROLE_MISMATCH', async () => {
  const msg = 'certificate authentication failed for user "app": identity map "spiffe" does not let uri:"spiffe://prod.example/ns/prod/sa/api" use this role';
  assertRefused(await login('app', c.svidApi), '28000', msg, 'CERT_SAN_ROLE_MISMATCH');
  const r = await psqlAs('app', c.svidApi);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  const refused = events(gw, 'login_refused').at(-1)!;
  assert.equal(refused.code, 'CERT_SAN_ROLE_MISMATCH');
  assert.equal(refused.reason, 'identity not allowed for role');
  assert.equal(refused.auth_failure, true);
  assert.deepEqual(refused.san, ['uri:spiffe://prod.example/ns/prod/sa/api']);
  // The capture must fit the whole path segment the regex allows: "Mallory" is not [a-z_]+.
  assertRefused(
    await login('api', c.svidUnknown),
    '28000',
    'certificate authentication failed for user "api": identity map "spiffe" does not let uri:"spiffe://prod.example/ns/prod/sa/Mallory" use this role',
    'CERT_SAN_ROLE_MISMATCH',
  );
});

test('a SPIFFE ID of another trust domain matches no SAN rule; the CN rule cannot map it: CERT_SAN_UNMAPPED', async () => {
  const msg = 'certificate authentication failed for user "api": the certificate has no common name, only uri:"spiffe://staging.example/ns/prod/sa/api", and rules[2] has no identity map';
  assertRefused(await login('api', c.svidStaging), '28000', msg, 'CERT_SAN_UNMAPPED');
  const r = await psqlAs('api', c.svidStaging);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  assert.ok(r.stderr.includes('HINT:  Give the rule a map:'), r.stderr);
});

test('environment: san_environment admits the SVID to its environment only', async () => {
  assertRefused(
    await login('api', c.svidApi, 'stagingdb'),
    '28000',
    'certificate for environment "production" may not connect to database "stagingdb", which requires environment "staging"',
    'ENVIRONMENT_MISMATCH',
  );
  assertLoggedIn(await login('api', c.svidApi, 'opendb'), 'api');
});

test('cert-manager (CN + DNS SANs): a dns: rule and map give the role; no environment, so production is refused', async () => {
  assertLoggedIn(await login('reports', c.certManager, 'opendb'), 'reports');
  const line = events(gw, 'login').at(-1)!;
  assert.equal(line.rule, 'rules[1]');
  assert.equal(line.cn, 'reports-7f9c');
  assert.deepEqual(line.san, ['dns:reports.prod.svc.cluster.local', 'dns:reports']);
  // rules[1] has no san_environment: a certificate without environment stays out of appdb.
  const o = await login('reports', c.certManager);
  assertRefused(
    o,
    '28000',
    'certificate for environment "(none)" may not connect to database "appdb", which requires environment "production"',
    'ENVIRONMENT_MISMATCH',
  );
  // The DNS map allows only "reports".
  assertRefused(
    await login('app', c.certManager, 'opendb'),
    '28000',
    'certificate authentication failed for user "app": identity map "k8s" does not let certificate "reports-7f9c" use this role',
    'CERT_ROLE_MISMATCH',
  );
});

test('Vault PKI (CN + DNS and URI SANs): its SPIFFE URI SAN maps it, into production through san_environment', async () => {
  assertLoggedIn(await login('orders', c.vault), 'orders');
  const r = await psqlAs('orders', c.vault);
  assert.equal(r.stdout, 'orders', r.stderr);
  const line = events(gw, 'login').at(-1)!;
  assert.equal(line.rule, 'rules[0]');
  assert.equal(line.cn, 'orders.prod.example');
  assert.deepEqual(line.san, ['uri:spiffe://prod.example/ns/prod/sa/orders', 'dns:orders.prod.example']);
});

test('pgmoat CN certificates: unchanged (CN = role, its environment from the certificate)', async () => {
  assertLoggedIn(await login('app', c.app), 'app');
  assert.equal(events(gw, 'login').at(-1)!.rule, 'rules[2]');
  assertRefused(
    await login('api', c.app),
    '28000',
    'certificate authentication failed for user "api": the certificate was issued for "app"',
    'CERT_ROLE_MISMATCH',
  );
  assertRefused(
    await login('app', c.app, 'stagingdb'),
    '28000',
    'certificate for environment "production" may not connect to database "stagingdb", which requires environment "staging"',
    'ENVIRONMENT_MISMATCH',
  );
});

test('a gateway whose rules and maps do not use SANs refuses a certificate without CN at the handshake, as before', async () => {
  const plain = await startGateway({
    tls: tlsSection(pki, { mode: 'verify-ca', ca: bundle }),
    databases: { opendb: upstreamDb(upstream, 'appdb', { environment: undefined }) },
    rules: [{ method: 'cert' }],
  });
  try {
    assertRefused(
      await pgLogin(plain.port, { user: 'api', database: 'opendb', cert: c.svidApi }),
      '28000',
      'client certificate has no subject common name',
      'CLIENT_CERT_NO_IDENTITY',
    );
    // Its CN certificates still work.
    assertLoggedIn(await pgLogin(plain.port, { user: 'app', database: 'opendb', cert: c.app }), 'app');
  } finally {
    await plain.stop();
  }
});

test('pg_hba.conf + pg_ident.conf: a uri: line of the ident file maps the SPIFFE ID through map=', async () => {
  const hba = join(pki.dir, 'san_hba.conf');
  const ident = join(pki.dir, 'san_ident.conf');
  writeFileSync(hba, 'hostssl all all 127.0.0.1/32 cert map=spiffe\n');
  writeFileSync(ident, String.raw`spiffe  uri:/^spiffe://prod\.example/ns/prod/sa/([a-z_]+)$  \1` + '\n');
  const fromFiles = await startGateway({
    tls: tlsSection(pki, { mode: 'verify-ca', ca: bundle }),
    databases: { opendb: upstreamDb(upstream, 'appdb', { environment: undefined }) },
    hba_file: hba,
    ident_file: ident,
  });
  try {
    assertLoggedIn(await pgLogin(fromFiles.port, { user: 'api', database: 'opendb', cert: c.svidApi }), 'api');
    assertRefused(
      await pgLogin(fromFiles.port, { user: 'app', database: 'opendb', cert: c.svidApi }),
      '28000',
      'certificate authentication failed for user "app": identity map "spiffe" does not let uri:"spiffe://prod.example/ns/prod/sa/api" use this role',
      'CERT_SAN_ROLE_MISMATCH',
    );
  } finally {
    await fromFiles.stop();
  }
});

test('SHOW IDENTITIES lists a certificate without CN by its SAN; the admin console refuses it', async () => {
  const held = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'api', database: 'appdb', ssl: nodeSsl(c.svidApi) });
  held.on('error', () => undefined);
  await held.connect();
  try {
    const ids = await showRows(adminConn(gw.port, c.ops), 'SHOW IDENTITIES');
    const svid = ids.find((r) => r.san === 'uri:spiffe://prod.example/ns/prod/sa/api');
    assert.ok(svid, JSON.stringify(ids));
    assert.equal(svid.cn, '', 'NULL: no CN');
    assert.equal(svid.environment, '');
    assert.equal(svid.serial, c.svidApi.serial);
    assert.equal(svid.databases, 'appdb');
    const ops = ids.find((r) => r.cn === 'ops');
    assert.match(ops?.san ?? '', /^uri:pgmoat:\/\/production\/ops$/, 'a pgmoat certificate shows its identity URI');
  } finally {
    await held.end();
  }
  assertRefused(await pgLogin(gw.port, { user: 'api', database: 'pgmoat', cert: c.svidApi }), '28000', 'certificate identity "uri:spiffe://prod.example/ns/prod/sa/api" may not use the admin console', 'ADMIN_NOT_ALLOWED');
});

test('the openssl certificates are what those tools issue', () => {
  const text = (cert: ClientFiles): string => readFileSync(cert.certPath, 'utf8');
  assert.ok(text(c.svidApi).includes('BEGIN CERTIFICATE'));
  // Checked with Node's own reading: no CN in the SVID, one URI SAN.
  const svid = new X509Certificate(text(c.svidApi));
  assert.equal(svid.subject.includes('CN='), false);
  assert.equal(svid.subjectAltName, 'URI:spiffe://prod.example/ns/prod/sa/api');
  assert.equal(new X509Certificate(text(c.certManager)).subjectAltName, 'DNS:reports.prod.svc.cluster.local, DNS:reports');
});
