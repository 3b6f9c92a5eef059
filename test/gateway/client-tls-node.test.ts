/**
 * Client-side TLS with the two Node clients applications use, node-postgres (`pg`) and
 * postgres.js: the same identities as the psql test, with the SQLSTATE each refusal carries.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { UpstreamTap, clientTlsSection, nodeSsl, plainUpstream } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let tap: UpstreamTap;
type CertKind = 'good' | 'foreign' | 'expired' | 'revoked' | 'serverAuthOnly' | 'other' | 'staging';
const certs = {} as Record<CertKind, ClientFiles>;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE other LOGIN; CREATE DATABASE appdb OWNER app;' });
  tap = await UpstreamTap.start(upstream.port);
  certs.good = await pki.client('app');
  certs.foreign = await pki.client('app', { ca: 'foreign' });
  certs.expired = await pki.client('app', { expired: true });
  certs.revoked = await pki.client('app', { revoked: true });
  certs.serverAuthOnly = await pki.client('app', { serverAuthOnly: true });
  certs.other = await pki.client('other');
  certs.staging = await pki.client('app', { environment: 'staging' });
  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { port: tap.port, pool_size: 2 }) },
  });
});
after(async () => {
  await gw?.stop();
  await tap?.close();
  await upstream?.stop();
  pki?.cleanup();
});

type Ssl = false | { cert?: string; key?: string; ca: string };

async function withPg(ssl: Ssl, direct = false): Promise<string> {
  // sslNegotiation 'direct' (PostgreSQL 17's direct TLS, ALPN postgresql) is newer than @types/pg.
  const config = { host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl, connectionTimeoutMillis: 10_000, ...(direct ? { sslNegotiation: 'direct' } : {}) };
  const client = new pg.Client(config as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]!.u;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withPostgresJs(ssl: Ssl): Promise<string> {
  const sql = postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl, max: 1, connect_timeout: 10, onnotice: () => undefined });
  try {
    const rows = await sql<{ u: string }[]>`SELECT current_user AS u`;
    return rows[0]!.u;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

interface PgLikeError {
  code?: string;
  severity?: string;
  message: string;
}

async function assertRefused(run: () => Promise<string>, sqlstate: string, message: string): Promise<void> {
  const before = tap.connections;
  await assert.rejects(run(), (err: PgLikeError) => {
    assert.equal(err.code, sqlstate, `expected SQLSTATE ${sqlstate}, got ${err.code}: ${err.message}`);
    assert.equal(err.severity, 'FATAL');
    assert.ok(err.message.includes(message), `expected "${message}" in "${err.message}"`);
    return true;
  });
  assert.equal(tap.connections, before, 'a refused client made pgmoat connect to PostgreSQL');
}

const ca = (): string => nodeSsl(certs.good).ca;

const refusals: [string, () => Ssl, string, string][] = [
  ['no client certificate', () => ({ ca: ca() }), '28000', 'connection requires a valid client certificate: none was sent'],
  ['a foreign-CA certificate whose CN is the role', () => nodeSsl(certs.foreign), '28000', 'not issued by a CA this gateway trusts'],
  ['an expired certificate', () => nodeSsl(certs.expired), '28000', 'client certificate has expired'],
  ['a revoked certificate', () => nodeSsl(certs.revoked), '28000', 'client certificate has been revoked'],
  ['a serverAuth-only certificate', () => nodeSsl(certs.serverAuthOnly), '28000', 'not for client use'],
  ['a certificate for another role', () => nodeSsl(certs.other), '28000', 'certificate authentication failed for user "app"'],
  ['a staging certificate for a production database', () => nodeSsl(certs.staging), '28000', 'certificate for environment "staging" may not connect'],
  ['no TLS at all', () => false, '28000', 'SSL connection is required'],
];

for (const [what, ssl, sqlstate, message] of refusals) {
  test(`pg: ${what} is refused with ${sqlstate}`, () => assertRefused(() => withPg(ssl()), sqlstate, message));
  test(`postgres.js: ${what} is refused with ${sqlstate}`, () => assertRefused(() => withPostgresJs(ssl()), sqlstate, message));
}

test('pg: an issued identity connects and queries', async () => {
  assert.equal(tap.connections, 0, 'the refusals before this test opened server connections');
  assert.equal(await withPg(nodeSsl(certs.good)), 'app');
  assert.ok(tap.connections > 0, 'the relay must see a real login (else the refusal checks prove nothing)');
});

test('postgres.js: an issued identity connects and queries (extended protocol)', async () => {
  assert.equal(await withPostgresJs(nodeSsl(certs.good)), 'app');
  const sql = postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(certs.good), max: 1, connect_timeout: 10 });
  try {
    const rows = await sql<{ n: number; t: string }[]>`SELECT ${41}::int + 1 AS n, ${'x'}::text || 'y' AS t`;
    assert.deepEqual([...rows], [{ n: 42, t: 'xy' }]);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('pg with sslNegotiation direct (a ClientHello first, ALPN postgresql): an issued identity works', async () => {
  assert.equal(await withPg(nodeSsl(certs.good), true), 'app');
});

test('pg with sslNegotiation direct: a foreign-CA certificate is refused the same way', async () => {
  await assertRefused(() => withPg(nodeSsl(certs.foreign), true), '28000', 'not issued by a CA this gateway trusts');
});

test('a refused client after a pool exists still opens no server connection', async () => {
  await assertRefused(() => withPg(nodeSsl(certs.foreign)), '28000', 'not issued by a CA this gateway trusts');
  await assertRefused(() => withPostgresJs(nodeSsl(certs.revoked)), '28000', 'client certificate has been revoked');
});
