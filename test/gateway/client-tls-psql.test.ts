/**
 * Client-side TLS with psql/libpq: what a person sees when a certificate is refused, and proof
 * that nothing of a refused client reaches PostgreSQL (counted by a TCP relay in front of the
 * upstream, and in the gateway's pools and logs).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { UpstreamTap, clientTlsSection, logEvents, plainUpstream, serverConnectsTotal } from './helpers.js';

let pg: PgServer;
let pki: Pki;
let gw: RunningGateway;
let tap: UpstreamTap;
type CertKind = 'good' | 'foreign' | 'expired' | 'notYetValid' | 'revoked' | 'serverAuthOnly' | 'other' | 'staging';
const certs = {} as Record<CertKind, ClientFiles>;

before(async () => {
  pki = await makePki();
  pg = await startPostgres({
    setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE other LOGIN; CREATE DATABASE appdb OWNER app;',
  });
  tap = await UpstreamTap.start(pg.port);
  // Every certificate exists before the gateway starts, so the revoked one is in the CRL it loads.
  certs.good = await pki.client('app');
  certs.foreign = await pki.client('app', { ca: 'foreign' });
  certs.expired = await pki.client('app', { expired: true });
  certs.notYetValid = await pki.client('app', { notYetValid: true });
  certs.revoked = await pki.client('app', { revoked: true });
  certs.serverAuthOnly = await pki.client('app', { serverAuthOnly: true });
  certs.other = await pki.client('other');
  certs.staging = await pki.client('app', { environment: 'staging' });
  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(pg, 'appdb', { port: tap.port, pool_size: 2 }) },
  });
});
after(async () => {
  await gw?.stop();
  await tap?.close();
  await pg?.stop();
  pki?.cleanup();
});

const app = (cert: ClientFiles | undefined, extra?: string): string =>
  conninfo(gw.port, { user: 'app', dbname: 'appdb', ...(cert ? { cert } : {}), ...(extra ? { extra } : {}) });

/** Runs a refused psql and checks that it printed `message` as a FATAL and that no byte went upstream. */
async function assertRefused(conn: string, message: string | RegExp): Promise<void> {
  const upstreamBefore = tap.connections;
  const connectsBefore = serverConnectsTotal(gw);
  const loginsBefore = logEvents(gw, 'login').length;
  const r = await psql(conn, 'SELECT 1');
  assert.notEqual(r.code, 0, `psql should have failed, printed: ${r.stdout}`);
  assert.match(r.stderr, /FATAL: /, `psql should show pgmoat's FATAL, showed: ${r.stderr}`);
  if (typeof message === 'string') assert.ok(r.stderr.includes(message), `expected "${message}" in: ${r.stderr}`);
  else assert.match(r.stderr, message);
  assert.equal(r.stdout, '');
  assert.equal(tap.connections, upstreamBefore, 'a refused client made pgmoat connect to PostgreSQL');
  assert.equal(serverConnectsTotal(gw), connectsBefore);
  assert.equal(logEvents(gw, 'login').length, loginsBefore, 'a refused client was logged in');
}

// The refusals run first, while no pool exists yet: a leak would have to open a server connection.
test('no client certificate: refused with a FATAL that says so', async () => {
  const none = join(pki.dir, 'does-not-exist');
  await assertRefused(
    conninfo(gw.port, { user: 'app', dbname: 'appdb', extra: `sslrootcert=${pki.main.caPath} sslcert=${none}.crt sslkey=${none}.key` }),
    'FATAL:  connection requires a valid client certificate: none was sent',
  );
});

test('a certificate of another CA whose CN is the requested role: refused (the Node trap)', async () => {
  await assertRefused(app(certs.foreign), 'FATAL:  client certificate was not issued by a CA this gateway trusts');
  assert.equal(gw.gateway.pools.size, 0, 'no pool may exist for a client whose chain did not verify');
});

test('an expired certificate: refused', async () => {
  await assertRefused(app(certs.expired), 'FATAL:  client certificate has expired');
});

test('a certificate not valid yet: refused', async () => {
  await assertRefused(app(certs.notYetValid), 'FATAL:  client certificate is not yet valid');
});

test('a revoked certificate (in the CRL at gateway start): refused', async () => {
  await assertRefused(app(certs.revoked), 'FATAL:  client certificate has been revoked');
});

test('a serverAuth-only certificate: refused as not for client use', async () => {
  await assertRefused(app(certs.serverAuthOnly), 'FATAL:  client certificate is not for client use');
});

test('verify-full: a valid certificate whose CN is another role is refused', async () => {
  await assertRefused(app(certs.other), 'FATAL:  certificate authentication failed for user "app": the certificate was issued for "other"');
});

test('a staging certificate for a production database: refused', async () => {
  await assertRefused(app(certs.staging), /FATAL: {2}certificate for environment "staging" may not connect to database "appdb", which requires environment "production"/);
  assert.equal(gw.gateway.pools.size, 0);
});

test('sslmode=disable where TLS is required: FATAL SSL connection is required', async () => {
  await assertRefused(conninfo(gw.port, { user: 'app', dbname: 'appdb', sslmode: 'disable' }), 'FATAL:  SSL connection is required');
});

test('sslmode=verify-full with an issued identity reaches PostgreSQL, over TLS to pgmoat', async () => {
  const upstreamBefore = tap.connections;
  const r = await psql(app(certs.good), 'SELECT current_user, current_database()');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'app|appdb');
  assert.ok(tap.connections > upstreamBefore, 'the counter must see a real connection (else the refusal checks prove nothing)');
  const login = logEvents(gw, 'login').at(-1)!;
  assert.equal(login.cn, 'app');
  assert.equal(login.environment, 'production');
  assert.equal(login.serial, certs.good.serial, 'the serial as pgmoat list prints it');
  assert.match(String(login.tls), /^TLSv1\.[23]$/);
});

test('after a session pool exists, refused clients still never get a server connection', async () => {
  await assertRefused(app(certs.foreign), 'client certificate was not issued by a CA this gateway trusts');
  await assertRefused(app(certs.revoked), 'client certificate has been revoked');
  const r = await psql(app(certs.good), 'SELECT 1');
  assert.equal(r.stdout, '1');
});
