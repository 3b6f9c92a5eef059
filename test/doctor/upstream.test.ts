/**
 * pgmoat doctor through a real gateway (in-process) in front of a real PostgreSQL, for what lies
 * behind the gateway's login: a stopped upstream, a wrong upstream password, a missing database,
 * an upstream without TLS; and for the client certificate: expired, revoked, from another
 * environment, a host name the gateway's certificate lacks. Where the fix is a pgmoat command, the
 * test runs it (CA_DIR: the test CA) and the doctor passes afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, plainUpstream, waitFor } from '../gateway/helpers.js';
import { commandsIn } from '../../src/doctor/fixes.js';
import { doctor, lastStep, pgmoat, writeFile } from './run-doctor.js';

let pg: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let work: string;

before(async () => {
  // The gateway's certificate names only localhost: 127.0.0.1 reaches it under a name it lacks.
  pki = await makePki({ hosts: ['localhost'] });
  work = mkdtempSync(join(tmpdir(), 'pgmoat-doctor-up-'));
  app = await pki.client('app');
  pg = await startPostgres({
    hba: ['local all all trust', 'host all pwuser 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 trust', ''].join('\n'),
    settings: { password_encryption: 'scram-sha-256' },
    setupSql: "CREATE ROLE app LOGIN; CREATE ROLE gone LOGIN; CREATE ROLE batch LOGIN; CREATE ROLE pwuser LOGIN PASSWORD 'right horse'; CREATE DATABASE appdb OWNER app;",
  });
  const wrongPassword = writeFile(work, 'wrong.password', 'wrong horse\n');
  const closed = await freePort();
  gw = await startGateway({
    tls: clientTlsSection(pki),
    // Short enough that the gateway answers before the doctor's own --timeout.
    client_login_timeout: '4s',
    query_wait_timeout: '3s',
    databases: {
      appdb: plainUpstream(pg, 'appdb'),
      pwdb: plainUpstream(pg, 'appdb', { user: 'pwuser', password_file: wrongPassword }),
      nodb: plainUpstream(pg, 'no_such_db'),
      downdb: { ...plainUpstream(pg, 'appdb'), port: closed },
      tlsdb: plainUpstream(pg, 'appdb', { tls: { mode: 'verify-full', ca: pki.main.caPath } }),
    },
  });
});

after(async () => {
  await gw?.stop();
  await pg?.stop();
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function uri(db: string, user = 'app', host = 'localhost'): string {
  return `postgres://${user}@${host}:${gw.port}/${db}`;
}

function files(c: ClientFiles): string[] {
  return ['--cert', c.certPath, '--key', c.keyPath, '--ca', pki.main.caPath, '--json', '--timeout', '30'];
}

/** Runs the one pgmoat command in `fix`, placeholders filled in; returns its output. */
async function runFix(fix: string, fill: Record<string, string>): Promise<string> {
  const found = commandsIn(fix);
  assert.equal(found.length, 1, fix);
  const argv = found[0]!.map((a) => fill[a] ?? a);
  const r = await pgmoat(argv);
  assert.equal(r.code, 0, `pgmoat ${argv.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

test('a working path: eight steps, the last one a query, then "It works"', async () => {
  const r = await doctor([uri('appdb'), ...files(app).filter((a) => a !== '--json')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[8]!, /^ok +8\. query +SELECT 1 returned 1$/);
  assert.match(lines[9]!, /^It works: "app" logs in to "appdb" at localhost:\d+ over mutual TLS, and SELECT 1 returned\.$/);
});

test('a keyword/value connection string, as libpq users write it', async () => {
  const conninfo = `host=localhost port=${gw.port} dbname=appdb user=app sslcert=${app.certPath} sslkey=${app.keyPath} sslrootcert=${pki.main.caPath} sslmode=verify-full`;
  const r = await doctor([conninfo, '--json', '--timeout', '30']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(lastStep(r).step, 'query');
});

test('wrong upstream password: the fix is the password_file of the database entry', async () => {
  const r = await doctor([uri('pwdb'), ...files(app)]);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.code, 'UPSTREAM_AUTH_FAILED', JSON.stringify(s));
  assert.match(s.detail, /could not open a server connection to the PostgreSQL behind "pwdb".*28P01.*password authentication failed/);
  assert.match(s.fix!, /databases\.pwdb\.password_file/);
  assert.doesNotMatch(s.fix!, /PGPASSWORD/);
  assert.equal(r.report?.ok, false);
});

test('missing upstream database: the fix is dbname or CREATE DATABASE, not the URI', async () => {
  const r = await doctor([uri('nodb'), ...files(app)]);
  const s = lastStep(r);
  assert.equal(s.code, 'UPSTREAM_NO_DATABASE', JSON.stringify(s));
  assert.match(s.detail, /3D000/);
  assert.match(s.fix!, /databases\.nodb\.dbname/);
});

test('nothing listens where the upstream should be: unreachable, with the fix', async () => {
  const r = await doctor([uri('downdb'), ...files(app)]);
  const s = lastStep(r);
  assert.equal(s.code, 'UPSTREAM_UNREACHABLE', JSON.stringify(s));
  assert.match(s.detail, /ECONNREFUSED/);
  assert.match(s.fix!, /start the PostgreSQL behind database "downdb"/);
});

test('a plaintext upstream where the gateway requires TLS to it', async () => {
  const r = await doctor([uri('tlsdb'), ...files(app)]);
  const s = lastStep(r);
  assert.equal(s.code, 'UPSTREAM_NO_TLS', JSON.stringify(s));
  assert.match(s.fix!, /ssl = on.*databases\.tlsdb\.tls\.mode/);
});

test('expired client certificate: the renew fix runs, and the doctor passes with the renewed files', async () => {
  const expired = await pki.client('app', { expired: true });
  const r = await doctor([uri('appdb'), ...files(expired)]);
  const s = lastStep(r);
  assert.equal(s.code, 'CERT_EXPIRED');
  await runFix(s.fix!, { CA_DIR: pki.main.dir });
  const again = await doctor([uri('appdb'), ...files(expired)]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('revoked client certificate: a new certificate for the same identity, which the fix issues', async () => {
  const revoked = await pki.client('gone', { revoked: true });
  await gw.reload();
  const r = await doctor([uri('appdb', 'gone'), ...files(revoked)]);
  const s = lastStep(r);
  assert.equal(s.code, 'CLIENT_CERT_REVOKED', JSON.stringify(s));
  assert.match(s.fix!, /cannot be renewed/);
  const out = join(work, 'gone-new');
  await runFix(s.fix!, { CA_DIR: pki.main.dir, NEW_DIR: out });
  const again = await doctor([uri('appdb', 'gone'), '--cert', join(out, 'gone.crt'), '--key', join(out, 'gone.key'), '--ca', pki.main.caPath, '--json']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('a staging certificate on a production database: the fix is a production certificate', async () => {
  const staging = await pki.client('batch', { environment: 'staging' });
  const r = await doctor([uri('appdb', 'batch'), ...files(staging)]);
  const s = lastStep(r);
  assert.equal(s.code, 'ENVIRONMENT_MISMATCH', JSON.stringify(s));
  assert.match(s.fix!, /no access rule can override/);
  assert.doesNotMatch(s.fix!, /operator/);
  const out = join(work, 'batch-production');
  await runFix(s.fix!.replace(/^.*(?=to issue one:)/, ''), { CA_DIR: pki.main.dir, NEW_DIR: out });
  const again = await doctor([uri('appdb', 'batch'), '--cert', join(out, 'batch.crt'), '--key', join(out, 'batch.key'), '--ca', pki.main.caPath, '--json']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('a certificate from a CA the gateway does not trust', async () => {
  const foreign = await pki.client('app', { ca: 'foreign' });
  const r = await doctor([uri('appdb'), ...files(foreign)]);
  const s = lastStep(r);
  assert.equal(s.code, 'CLIENT_CERT_UNKNOWN_CA');
  assert.match(s.fix!, /pgmoat issue app --env production --dir CA_DIR --out NEW_DIR/);
});

test('wrong host name: connect by a name the certificate has, or issue-server for this one (run, then reload)', async () => {
  const r = await doctor([uri('appdb', 'app', '127.0.0.1'), ...files(app)]);
  const s = lastStep(r);
  assert.equal(s.code, 'HOSTNAME_MISMATCH');
  assert.match(s.fix!, /^connect with host=localhost .*pgmoat issue-server --dir CA_DIR --host 127\.0\.0\.1 --host localhost, then reload the gateway/);
  await runFix(s.fix!.replace(/^.*(?=give the gateway)/, ''), { CA_DIR: pki.main.dir });
  await gw.reload();
  await waitFor(async () => (await doctor([uri('appdb', 'app', '127.0.0.1'), ...files(app)])).code === 0, 'the doctor to pass over 127.0.0.1 after issue-server and reload', 60_000);
});

test('a stopped upstream behind a pool that knows its parameters: the login passes, the query says why it failed', async () => {
  // The pool of appdb has logged in before, so the gateway answers the login itself.
  await pg.stopServer();
  const pool = [...gw.gateway.pools.values()].find((p) => p.key.includes('appdb'));
  if (pool) await waitFor(() => pool.serverCount === 0, 'the pool to notice its servers are gone');
  const r = await doctor([uri('appdb'), ...files(app)]);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.report?.ok, false);
  assert.equal(r.report!.steps[6]!.status, 'ok', 'the gateway answered the login itself');
  const s = lastStep(r);
  assert.equal(s.step, 'query');
  assert.equal(s.code, 'UPSTREAM_UNREACHABLE', JSON.stringify(s));
  assert.match(s.detail, /query_wait_timeout/);
  assert.match(s.fix!, /start the PostgreSQL behind database "appdb"/);
  assert.doesNotMatch(r.stdout, /It works/);
});
