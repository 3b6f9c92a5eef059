/**
 * A two-level CA through the real CLI: `pgmoat init --intermediate`, the root key moved away,
 * certificates issued by the intermediate (their files carry the chain), a gateway that trusts the
 * root and checks the intermediate's CRL; plus --lifetime and --san as openssl reads them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openssl, pgmoat } from './run-pgmoat.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { psql } from '../harness/psql.js';
import { plainUpstream } from '../gateway/helpers.js';

let work: string;
let dir: string;
let out: string;
let upstream: PgServer;
let gw: RunningGateway;
const ca = (f: string): string => join(dir, f);

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-twolevel-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir, '--intermediate', '--host', 'localhost', '--host', '127.0.0.1']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /Created root CA "pgmoat CA" and its issuing intermediate/);
  assert.match(init.stdout, new RegExp(`cp ${ca('ca.key')} /media/offline/ && shred -u ${ca('ca.key')}`));
  assert.match(init.stdout, /keep working without it\. Only a new\nintermediate .* needs it back/);
  // The root key goes offline before anything is issued.
  renameSync(ca('ca.key'), join(work, 'root-key-offline.key'));
  for (const name of ['app', 'gone']) {
    const r = await pgmoat(['issue', name, '--env', 'production', '--dir', dir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /followed by the intermediate CA: clients send both/);
  }
  const revoked = await pgmoat(['revoke', 'gone', '--dir', dir, '--reason', 'keyCompromise']);
  assert.equal(revoked.code, 0, revoked.stderr);
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE gone LOGIN; CREATE DATABASE appdb OWNER app;' });
  // What the starter pgmoat.yaml says: the bundle as tls.ca, the intermediate's CRL.
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: ca('server.crt'), key: ca('server.key'), ca: ca('ca-bundle.crt'), crl: ca('crl.pem') },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

function nodeClient(port: number, name: string): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port,
    user: name,
    database: 'appdb',
    // The certificate file holds leaf + intermediate; the client trusts only the root.
    ssl: { cert: readFileSync(join(out, `${name}.crt`), 'utf8'), key: readFileSync(join(out, `${name}.key`), 'utf8'), ca: readFileSync(ca('ca.crt'), 'utf8'), servername: 'localhost' },
  });
}

async function currentUser(port: number, name: string): Promise<string> {
  const c = nodeClient(port, name);
  await c.connect();
  try {
    return (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  } finally {
    await c.end();
  }
}

test('openssl verifies the chain: root as the only trust anchor, the intermediate as untrusted material', () => {
  const leafOnly = join(out, 'app.crt');
  const v = openssl(['verify', '-CAfile', ca('ca.crt'), '-untrusted', ca('intermediate.crt'), leafOnly]);
  assert.ok(v.ok, v.out);
  assert.match(v.out, /OK/);
  // Without the intermediate the root alone cannot verify the leaf: the chain really has two levels.
  const x = new X509Certificate(readFileSync(leafOnly));
  const alone = openssl(['verify', '-CAfile', ca('ca.crt')], x.toString());
  assert.ok(!alone.ok, alone.out);
  // The file carries the chain the client must send: leaf, then the intermediate.
  assert.equal(readFileSync(leafOnly, 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2);
  assert.equal(readFileSync(ca('server.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2);
  const crl = openssl(['crl', '-in', ca('crl.pem'), '-CAfile', ca('ca-bundle.crt'), '-noout', '-issuer']);
  assert.ok(crl.ok, crl.out);
  assert.match(crl.out, /verify OK/);
  assert.match(crl.out, /OU ?= ?issuing CA/);
});

test('a certificate issued by the intermediate logs in through the gateway (node-postgres and psql)', async () => {
  assert.equal(await currentUser(gw.port, 'app'), 'app');
  const lib = await pgmoat(['export', '--cert', join(out, 'app.crt'), '--key', join(out, 'app.key'), '--format', 'libpq']);
  assert.equal(lib.code, 0, lib.stderr);
  const r = await psql(`host=localhost port=${gw.port} user=app dbname=appdb connect_timeout=10 ${lib.stdout.trim()}`, 'SELECT current_user');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'app');
});

test('a certificate revoked in the CRL the intermediate signed is refused', async () => {
  await assert.rejects(currentUser(gw.port, 'gone'), /revoked/);
  const r = await psql(
    `host=localhost port=${gw.port} user=gone dbname=appdb connect_timeout=10 sslmode=verify-full sslcert=${join(out, 'gone.crt')} sslkey=${join(out, 'gone.key')} sslrootcert=${ca('ca.crt')}`,
    'SELECT 1',
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /FATAL: .*revoked/);
});

test('a gateway trusting only the root: the client sends its chain; the CRL needs the bundle; the intermediate alone is not trusted', async () => {
  const rootOnly = await startGateway({
    tls: { mode: 'verify-full', cert: ca('server.crt'), key: ca('server.key'), ca: ca('ca.crt') },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  try {
    assert.equal(await currentUser(rootOnly.port, 'app'), 'app');
  } finally {
    await rootOnly.stop();
  }
  // The intermediate alone is no trust anchor: chains must end at the root.
  const intermediateOnly = await startGateway({
    tls: { mode: 'verify-full', cert: ca('server.crt'), key: ca('server.key'), ca: ca('intermediate.crt') },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  try {
    await assert.rejects(currentUser(intermediateOnly.port, 'app'), /not issued by a CA this gateway trusts/);
  } finally {
    await intermediateOnly.stop();
  }
  await assert.rejects(
    startGateway({
      tls: { mode: 'verify-full', cert: ca('server.crt'), key: ca('server.key'), ca: ca('ca.crt'), crl: ca('crl.pem') },
      databases: { appdb: plainUpstream(upstream, 'appdb') },
    }),
    { code: 'CRL_UNTRUSTED' },
  );
});

test('the starter pgmoat.yaml of a two-level CA points tls.ca at the bundle', async () => {
  const { loadConfig } = await import('../../src/config/load.js');
  const { config } = await loadConfig(ca('pgmoat.yaml'));
  assert.deepEqual([config.tls.ca, config.tls.crl, config.tls.cert], [ca('ca-bundle.crt'), ca('crl.pem'), ca('server.crt')]);
});

test('--lifetime 1h: notAfter one hour after issuing, notBefore five minutes back', async () => {
  const t0 = Date.now();
  const r = await pgmoat(['issue', 'short', '--env', 'production', '--dir', dir, '--out', out, '--lifetime', '1h']);
  const t1 = Date.now();
  assert.equal(r.code, 0, r.stderr);
  const end = openssl(['x509', '-in', join(out, 'short.crt'), '-noout', '-enddate', '-startdate']);
  assert.ok(end.ok, end.out);
  const notAfter = Date.parse(/notAfter=(.*)/.exec(end.out)![1]!);
  const notBefore = Date.parse(/notBefore=(.*)/.exec(end.out)![1]!);
  // Certificates count whole seconds: allow the second the command started in.
  assert.ok(notAfter >= Math.floor(t0 / 1000) * 1000 + 3_600_000 && notAfter <= t1 + 3_600_000, end.out);
  assert.equal(notAfter - notBefore, 3_600_000 + 300_000);
  const listed = await pgmoat(['list', '--dir', dir, '--json']);
  const row = (JSON.parse(listed.stdout) as { certificates: { name: string; notAfter: string }[] }).certificates.find((c) => c.name === 'short')!;
  assert.equal(Date.parse(row.notAfter), notAfter);
  assert.match(r.stdout, /valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  const both = await pgmoat(['issue', 'both', '--env', 'production', '--dir', dir, '--out', out, '--lifetime', '1h', '--days', '3']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--days and --lifetime both give the lifetime: pass only one/);
  const tiny = await pgmoat(['issue', 'tiny', '--env', 'production', '--dir', dir, '--out', out, '--lifetime', '2m']);
  assert.equal(tiny.code, 2);
  assert.match(tiny.stderr, /from 5m to 36500d/);
  const long = await pgmoat(['issue', 'long', '--env', 'production', '--dir', dir, '--out', out, '--lifetime', '3000d']);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /--lifetime 3000d would outlive the CA/);
  const server = await pgmoat(['issue-server', '--dir', dir, '--lifetime', '12h']);
  assert.equal(server.code, 0, server.stderr);
});

test('--san: DNS and URI (SPIFFE) names in the certificate, in list, and kept by renew', async () => {
  const spiffe = 'spiffe://prod.example/ns/prod/sa/api';
  const r = await pgmoat(['issue', 'api', '--env', 'production', '--dir', dir, '--out', out, '--san', 'DNS:api.internal', '--san', `URI:${spiffe}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`SANs +DNS:api.internal, URI:${spiffe}`));
  const text = openssl(['x509', '-in', join(out, 'api.crt'), '-noout', '-text']);
  assert.ok(text.ok, text.out);
  assert.match(text.out, new RegExp(`X509v3 Subject Alternative Name: \\n\\s+URI:pgmoat://production/api, DNS:api.internal, URI:${spiffe}`));
  assert.match(text.out, /Subject: CN ?= ?api, OU ?= ?production, O ?= ?pgmoat CA/);
  const listed = await pgmoat(['list', '--dir', dir, '--json']);
  const row = (JSON.parse(listed.stdout) as { certificates: { name: string; sans: string[] }[] }).certificates.find((c) => c.name === 'api')!;
  assert.deepEqual(row.sans, ['URI:pgmoat://production/api', 'DNS:api.internal', `URI:${spiffe}`]);
  const table = await pgmoat(['list', '--dir', dir]);
  assert.match(table.stdout.split('\n')[0]!, /SHA-256 FINGERPRINT\s+SANS\s+NOTE$/);
  assert.match(table.stdout, new RegExp(`\\bapi\\b.*DNS:api.internal,URI:${spiffe}`));
  const renewed = await pgmoat(['renew', 'api', '--env', 'production', '--dir', dir, '--out', out, '--lifetime', '2h']);
  assert.equal(renewed.code, 0, renewed.stderr);
  assert.equal(new X509Certificate(readFileSync(join(out, 'api.crt'))).subjectAltName, `URI:pgmoat://production/api, DNS:api.internal, URI:${spiffe}`);
  for (const bad of ['DNS:*.internal', 'URI:pgmoat://staging/api', 'IP:10.0.0.1', 'URI:spiffe://Prod/x']) {
    const b = await pgmoat(['issue', 'x', '--env', 'production', '--dir', dir, '--out', out, '--san', bad]);
    assert.equal(b.code, 2, bad);
    assert.match(b.stderr, /^pgmoat: invalid --san /, bad);
  }
});

test('renewal through the service: the intermediate signs, the answer carries it, the renewed pair logs in', async () => {
  const { openCa } = await import('../../src/ca/authority.js');
  const { RenewalService } = await import('../../src/ca/renewal.js');
  const { RenewalServer } = await import('../../src/renewal/renewal-server.js');
  const { remoteRenew } = await import('../../src/renewal/remote-renew.js');
  const { pino } = await import('pino');
  const authority = await openCa(dir);
  const server = await RenewalServer.start({
    host: '127.0.0.1',
    port: 0,
    cert: readFileSync(ca('server.crt'), 'utf8'),
    key: readFileSync(ca('server.key')),
    service: new RenewalService(authority, { expiredGraceMs: 0 }),
    rateLimit: { max: 100, windowMs: 3_600_000 },
    log: pino({ level: 'silent' }),
  });
  try {
    const before = new X509Certificate(readFileSync(join(out, 'app.crt'))).serialNumber.toLowerCase();
    const r = await remoteRenew({ url: `https://localhost:${server.address().port}`, certPath: join(out, 'app.crt'), keyPath: join(out, 'app.key'), caPath: join(out, 'ca.crt') });
    assert.notEqual(r.serial, before);
    const written = readFileSync(join(out, 'app.crt'), 'utf8');
    const blocks = written.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    assert.equal(blocks.length, 2, 'the renewed file holds the leaf and the intermediate, as issue writes it');
    const leafOnly = written.slice(0, written.indexOf('-----END CERTIFICATE-----') + 25);
    const v = openssl(['verify', '-CAfile', ca('ca.crt'), '-untrusted', ca('intermediate.crt'), '-purpose', 'sslclient'], leafOnly);
    assert.ok(v.ok, v.out);
    const bundle = await fetchCa(server.address().port);
    assert.equal((bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, 2, 'GET /v1/ca: the root and the intermediate');
    const c = nodeClient(gw.port, 'app');
    await c.connect();
    const rows = await c.query<{ u: string }>('SELECT current_user AS u');
    assert.equal(rows.rows[0]!.u, 'app');
    await c.end();
  } finally {
    await server.close();
  }
});

async function fetchCa(port: number): Promise<string> {
  const { get } = await import('node:https');
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/v1/ca', servername: 'localhost', ca: readFileSync(ca('ca.crt')) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
