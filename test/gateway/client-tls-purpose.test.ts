/**
 * Certificates signed by the trusted CA that are not meant for client authentication. OpenSSL's
 * chain verification passes a CA:TRUE leaf and a leaf without extendedKeyUsage (and one whose
 * only EKU is anyExtendedKeyUsage, or whose keyUsage is keyAgreement alone): pgmoat refuses them
 * itself, with the "not for client use" FATAL (28000), before anything reaches PostgreSQL, and
 * audits which check failed. `tls.allow_client_certs_without_eku` lets certificates without any
 * EKU in, and nothing else. Each is tried with psql (libpq) and node-postgres.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import * as x509 from '../../src/ca/x509.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { UpstreamTap, clientTlsSection, logEvents, nodeSsl, plainUpstream } from './helpers.js';

const KU = x509.KeyUsageFlags;
const EKU = x509.ExtendedKeyUsage;
const ANY_EKU = '2.5.29.37.0';

let upstream: PgServer;
let pki: Pki;
let tap: UpstreamTap;
let gw: RunningGateway;
type Kind = 'good' | 'caLeaf' | 'caLeafNoEku' | 'noEku' | 'serverAuthOnly' | 'keyCertSignOnly' | 'keyAgreementOnly' | 'anyEkuOnly';
const certs = {} as Record<Kind, ClientFiles>;

function config(extraTls: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tls: { ...clientTlsSection(pki), ...extraTls },
    databases: { appdb: plainUpstream(upstream, 'appdb', { port: tap.port, pool_size: 2 }) },
  };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  tap = await UpstreamTap.start(upstream.port);
  certs.good = await pki.client('app');
  // What the attacker-style tester found: CA:TRUE with keyCertSign, signed by the real CA.
  certs.caLeaf = await pki.customClient('app', { ca: true, keyUsage: KU.digitalSignature | KU.keyCertSign | KU.cRLSign, eku: [EKU.clientAuth] });
  certs.caLeafNoEku = await pki.customClient('app', { ca: true, keyUsage: KU.digitalSignature | KU.keyCertSign });
  certs.noEku = await pki.customClient('app', { ca: false, keyUsage: KU.digitalSignature });
  certs.serverAuthOnly = await pki.customClient('app', { ca: false, keyUsage: KU.digitalSignature, eku: [EKU.serverAuth] });
  certs.keyCertSignOnly = await pki.customClient('app', { ca: false, keyUsage: KU.keyCertSign, eku: [EKU.clientAuth] });
  certs.keyAgreementOnly = await pki.customClient('app', { ca: false, keyUsage: KU.keyAgreement, eku: [EKU.clientAuth] });
  certs.anyEkuOnly = await pki.customClient('app', { ca: false, keyUsage: KU.digitalSignature, eku: [ANY_EKU] });
  gw = await startGateway(config());
});
after(async () => {
  await gw?.stop();
  await tap?.close();
  await upstream?.stop();
  pki?.cleanup();
});

interface Outcome {
  ok: boolean;
  user?: string;
  code?: string;
  severity?: string;
  message?: string;
}

async function viaPg(c: ClientFiles): Promise<Outcome> {
  const client = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(c), connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return { ok: true, user: r.rows[0]!.u };
  } catch (err) {
    const e = err as { code?: string; severity?: string; message: string };
    return { ok: false, code: e.code, severity: e.severity, message: e.message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function viaPsql(c: ClientFiles): Promise<Outcome> {
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: c }), 'SELECT current_user');
  if (r.code === 0) return { ok: true, user: r.stdout };
  const m = /FATAL: {2}(.*)/.exec(r.stderr);
  return { ok: false, severity: m ? 'FATAL' : undefined, message: m?.[1] ?? r.stderr };
}

const CLIENTS = [
  ['node-postgres', viaPg],
  ['psql', viaPsql],
] as const;

/** Refused by both clients with the "not for client use" FATAL, no upstream connection, and the audit reason. */
async function assertNotForClientUse(c: ClientFiles, detail: string, auditReason: string): Promise<void> {
  for (const [name, run] of CLIENTS) {
    const upstreamBefore = tap.connections;
    const refusedBefore = logEvents(gw, 'login_refused').length;
    const o = await run(c);
    assert.equal(o.ok, false, `${name}: expected a refusal, the login worked as ${o.user}`);
    assert.equal(o.severity, 'FATAL', `${name}: ${o.message}`);
    if (name === 'node-postgres') assert.equal(o.code, '28000');
    assert.equal(o.message, `client certificate is not for client use (${detail})`, name);
    assert.equal(tap.connections, upstreamBefore, `${name}: a refused client made pgmoat connect to PostgreSQL`);
    const line = logEvents(gw, 'login_refused').slice(refusedBefore).find((l) => l.serial === c.serial);
    assert.ok(line, `${name}: a login_refused audit line for serial ${c.serial}`);
    assert.equal(line.reason, auditReason);
    assert.equal(line.auth_failure, true);
    assert.equal(line.msg, `authentication failure from ${String(line.remote)}: ${auditReason}`);
  }
}

async function assertAccepted(c: ClientFiles): Promise<void> {
  for (const [name, run] of CLIENTS) {
    const o = await run(c);
    assert.equal(o.ok, true, `${name}: refused: ${o.message}`);
    assert.equal(o.user, 'app');
  }
}

test('a normal client certificate (clientAuth, digitalSignature, CA:FALSE) logs in', async () => {
  await assertAccepted(certs.good);
  assert.ok(tap.connections > 0, 'the relay saw a real login (else the refusals prove nothing)');
});

test('a CA:TRUE certificate with keyCertSign, signed by the trusted CA, is refused', async () => {
  await assertNotForClientUse(certs.caLeaf, 'it is a CA certificate: basicConstraints CA:TRUE', 'CA certificate');
  await assertNotForClientUse(certs.caLeafNoEku, 'it is a CA certificate: basicConstraints CA:TRUE', 'CA certificate');
});

test('a certificate without extendedKeyUsage is refused by default', async () => {
  await assertNotForClientUse(certs.noEku, 'it has no extended key usage; clientAuth is required', 'no extended key usage');
});

test('a serverAuth-only certificate is refused', async () => {
  await assertNotForClientUse(certs.serverAuthOnly, 'it lacks the clientAuth extended key usage', 'not for client use');
});

test('anyExtendedKeyUsage alone is not clientAuth', async () => {
  await assertNotForClientUse(certs.anyEkuOnly, 'it lacks the clientAuth extended key usage', 'not for client use');
});

test('a keyUsage without digitalSignature (keyCertSign only, keyAgreement only) is refused', async () => {
  await assertNotForClientUse(certs.keyAgreementOnly, 'its key usage lacks digitalSignature', 'key usage without digital signature');
  await assertNotForClientUse(certs.keyCertSignOnly, 'its key usage lacks digitalSignature', 'key usage without digital signature');
});

test('tls.allow_client_certs_without_eku lets a certificate without EKU in, and nothing else', async () => {
  await gw.reload(config({ allow_client_certs_without_eku: true }));
  try {
    await assertAccepted(certs.noEku);
    await assertAccepted(certs.good);
    await assertNotForClientUse(certs.caLeafNoEku, 'it is a CA certificate: basicConstraints CA:TRUE', 'CA certificate');
    await assertNotForClientUse(certs.serverAuthOnly, 'it lacks the clientAuth extended key usage', 'not for client use');
    await assertNotForClientUse(certs.keyCertSignOnly, 'its key usage lacks digitalSignature', 'key usage without digital signature');
  } finally {
    await gw.reload(config());
  }
  await assertNotForClientUse(certs.noEku, 'it has no extended key usage; clientAuth is required', 'no extended key usage');
});
