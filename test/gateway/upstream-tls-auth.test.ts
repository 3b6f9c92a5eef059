/**
 * The server side (pgmoat -> PostgreSQL): verify-full TLS with mutual TLS to a PostgreSQL that
 * requires `cert clientcert=verify-full`, and password logins upstream (SCRAM-SHA-256, md5,
 * cleartext) from password_file or password_env. Failures reach the client as PostgreSQL or
 * the TLS layer put them.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connectUpstream } from '../../src/upstream/connect.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, waitFor } from './helpers.js';
import { RawConn, cancelRequest } from './raw-wire.js';

const SCRAM_PASSWORD = 'pä ss:wörd\\ "quoted" ∑';
const MD5_PASSWORD = 'md5-secret';
const CLEAR_PASSWORD = 'clear-secret';
const ENV_NAME = 'PGMOAT_TEST_UPSTREAM_PASSWORD';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let upstreamClient: ClientFiles;
let secretsDir: string;

function secretFile(name: string, text: string): string {
  const path = join(secretsDir, name);
  writeFileSync(path, `${text}\n`);
  chmodSync(path, 0o600);
  return path;
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  // pgmoat's identity towards PostgreSQL: CN = the upstream role, as PostgreSQL's cert method wants.
  upstreamClient = await pki.client('pgmoat_up');
  secretsDir = mkdtempSync(join(tmpdir(), 'pgmoat-upstream-secrets-'));
  chmodSync(secretsDir, 0o700);
  upstream = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: [
      'local all all trust',
      'hostssl all pgmoat_up 127.0.0.1/32 cert clientcert=verify-full',
      'host all pgmoat_up 127.0.0.1/32 reject',
      'host all scram_user 127.0.0.1/32 scram-sha-256',
      'host all md5_user 127.0.0.1/32 md5',
      'host all clear_user 127.0.0.1/32 password',
      'host all postgres 127.0.0.1/32 trust',
      '',
    ].join('\n'),
    setupSql: `CREATE DATABASE appdb;
      CREATE ROLE pgmoat_up LOGIN;
      CREATE ROLE scram_user LOGIN PASSWORD '${SCRAM_PASSWORD.replace(/'/g, "''")}';
      SET password_encryption = 'md5';
      CREATE ROLE md5_user LOGIN PASSWORD '${MD5_PASSWORD}';
      RESET password_encryption;
      CREATE ROLE clear_user LOGIN PASSWORD '${CLEAR_PASSWORD}';`,
  });
  process.env[ENV_NAME] = CLEAR_PASSWORD;
  const base = { host: '127.0.0.1', port: upstream.port, dbname: 'appdb', environment: 'production' };
  const mtls = { mode: 'verify-full', ca: pki.main.caPath, cert: upstreamClient.certPath, key: upstreamClient.keyPath };
  gw = await startGateway({
    tls: clientTlsSection(pki),
    server_connect_timeout: '5s',
    databases: {
      mtls: { ...base, user: 'pgmoat_up', tls: mtls },
      mtls_by_name: { ...base, host: 'localhost', user: 'pgmoat_up', tls: mtls },
      mtls_no_cert: { ...base, user: 'pgmoat_up', tls: { mode: 'verify-full', ca: pki.main.caPath } },
      wrong_ca: { ...base, user: 'pgmoat_up', tls: { ...mtls, ca: pki.foreign.caPath } },
      wrong_name: { ...base, user: 'pgmoat_up', tls: { ...mtls, servername: 'db.example.com' } },
      require_unverified: { ...base, user: 'pgmoat_up', tls: { mode: 'require', cert: upstreamClient.certPath, key: upstreamClient.keyPath } },
      prefer_offered: { ...base, user: 'pgmoat_up', tls: { mode: 'prefer', cert: upstreamClient.certPath, key: upstreamClient.keyPath } },
      plain_to_mtls: { ...base, user: 'pgmoat_up', tls: { mode: 'disable' } },
      scram: { ...base, user: 'scram_user', password_file: secretFile('scram.password', SCRAM_PASSWORD), tls: { mode: 'verify-full', ca: pki.main.caPath } },
      scram_plain: { ...base, user: 'scram_user', password_file: secretFile('scram2.password', SCRAM_PASSWORD), tls: { mode: 'disable' } },
      scram_wrong: { ...base, user: 'scram_user', password_file: secretFile('wrong.password', 'not it'), tls: { mode: 'prefer' } },
      scram_none: { ...base, user: 'scram_user', tls: { mode: 'prefer' } },
      md5: { ...base, user: 'md5_user', password_file: secretFile('md5.password', MD5_PASSWORD), tls: { mode: 'require' } },
      clear: { ...base, user: 'clear_user', password_env: ENV_NAME, tls: { mode: 'verify-ca', ca: pki.main.caPath } },
    },
  });
});
after(async () => {
  delete process.env[ENV_NAME];
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
});

interface PgErr extends Error {
  code?: string;
  severity?: string;
}

async function withClient<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database, ssl: nodeSsl(app), connectionTimeoutMillis: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function refused(database: string): Promise<PgErr> {
  try {
    await withClient(database, (c) => c.query('SELECT 1'));
  } catch (err) {
    return err as PgErr;
  }
  throw new Error(`a client of ${database} was not refused`);
}

interface UpstreamView {
  user: string;
  ssl: boolean;
  version: string | null;
  client_dn: string | null;
}

const VIEW = 'SELECT current_user AS user, s.ssl, s.version, s.client_dn FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()';

test('verify-full with mutual TLS to a PostgreSQL that requires cert clientcert=verify-full', async () => {
  const v = await withClient('mtls', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'pgmoat_up');
  assert.equal(v.ssl, true);
  assert.match(v.version ?? '', /^TLSv1\.[23]$/);
  assert.match(v.client_dn ?? '', /CN=pgmoat_up/);
});

test('verify-full by host name (localhost) checks the name against the SANs', async () => {
  const v = await withClient('mtls_by_name', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'pgmoat_up');
  assert.equal(v.ssl, true);
});

test('cancel reaches a backend behind mutual TLS', async () => {
  await withClient('mtls', async (c) => {
    const key = c as unknown as { processID: number; secretKey: number };
    assert.ok(key.processID);
    const outcome = c.query('SELECT pg_sleep(30) /* mtls-cancel */').then(
      () => undefined,
      (e: PgErr) => e,
    );
    const monitor = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'postgres', database: 'postgres', ssl: false });
    await monitor.connect();
    try {
      await waitFor(async () => {
        const r = await monitor.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%mtls-cancel%' AND pid <> pg_backend_pid()");
        return r.rowCount! > 0;
      }, 'the query to run upstream');
    } finally {
      await monitor.end();
    }
    const conn = await RawConn.open(gw.port);
    conn.write(cancelRequest(key.processID, key.secretKey));
    await conn.waitClosed();
    const err = await outcome;
    assert.equal(err?.code, '57014', err?.message);
  });
});

test("without pgmoat's client certificate, PostgreSQL's refusal reaches the client as sent", async () => {
  const err = await refused('mtls_no_cert');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '28000');
  assert.match(err.message, /connection requires a valid client certificate/);
});

test('plain TCP to an upstream that requires hostssl: its pg_hba rejection reaches the client', async () => {
  const err = await refused('plain_to_mtls');
  assert.equal(err.code, '28000');
  assert.match(err.message, /pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "pgmoat_up"/);
});

test('verify-full against a CA that did not sign the upstream certificate: a clear 08001, nothing sent', async () => {
  const err = await refused('wrong_ca');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '08001');
  assert.match(err.message, /TLS to upstream "wrong_ca" \(127\.0\.0\.1:\d+\) failed: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED)/);
});

test('verify-full with a servername the certificate does not carry: a clear 08001', async () => {
  const err = await refused('wrong_name');
  assert.equal(err.code, '08001');
  assert.match(err.message, /ERR_TLS_CERT_ALTNAME_INVALID|does not match|db\.example\.com/);
});

test('require: TLS without verifying the upstream certificate (still mutual TLS)', async () => {
  const v = await withClient('require_unverified', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.ssl, true);
  assert.equal(v.user, 'pgmoat_up');
});

test('prefer, when the server offers TLS: the session runs over mutual TLS, with many rows intact', async () => {
  // prefer reads the SSLRequest answer through the shared read buffer; after 'S' the TLS socket
  // reads the connection itself (src/upstream/reader.ts).
  await withClient('prefer_offered', async (c) => {
    const v = (await c.query<UpstreamView>(VIEW)).rows[0]!;
    assert.equal(v.ssl, true);
    assert.equal(v.user, 'pgmoat_up');
    assert.match(v.client_dn ?? '', /CN=pgmoat_up/);
    const r = await c.query<{ n: number; s: string }>("SELECT n, repeat(md5(n::text), 30) AS s FROM generate_series(1, 5000) AS n");
    assert.equal(r.rows.length, 5000);
    const target = [...gw.gateway.pools.values()].find((p) => p.database === 'prefer_offered')!.target;
    const session = await connectUpstream(target);
    try {
      assert.equal(session.reader, null, "after 'S' the TLS socket reads, not the shared buffer");
      assert.match(session.tlsProtocol ?? '', /^TLSv1\.[23]$/);
    } finally {
      session.socket.destroy();
    }
    r.rows.forEach((row, i) => {
      assert.equal(row.n, i + 1);
      if (row.s !== createHash('md5').update(String(i + 1)).digest('hex').repeat(30)) assert.fail(`row ${i + 1} is not intact`);
    });
  });
});

test('SCRAM-SHA-256 upstream (password_file, non-ASCII password) over verify-full TLS', async () => {
  const v = await withClient('scram', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'scram_user');
  assert.equal(v.ssl, true);
});

test('SCRAM-SHA-256 upstream over plain TCP', async () => {
  const v = await withClient('scram_plain', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'scram_user');
  assert.equal(v.ssl, false);
});

test('a wrong upstream password: 28P01 as PostgreSQL sent it, and the password is in no log line', async () => {
  const err = await refused('scram_wrong');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '28P01');
  assert.equal(err.message, 'password authentication failed for user "scram_user"');
  const logs = JSON.stringify(gw.logs());
  for (const secret of [SCRAM_PASSWORD, MD5_PASSWORD, CLEAR_PASSWORD, 'not it']) assert.ok(!logs.includes(secret), 'a password in the logs');
});

test('no upstream password configured where one is asked: a clear error naming the fix', async () => {
  const err = await refused('scram_none');
  assert.equal(err.code, '28P01');
  assert.match(err.message, /none is configured \(set password_file or password_env for database "scram_none"\)/);
});

test('md5 upstream', async () => {
  const v = await withClient('md5', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'md5_user');
  assert.equal(v.ssl, true);
});

test('cleartext password upstream (password_env) over verify-ca TLS', async () => {
  const v = await withClient('clear', async (c) => (await c.query<UpstreamView>(VIEW)).rows[0]!);
  assert.equal(v.user, 'clear_user');
  assert.equal(v.ssl, true);
});
