/**
 * pgmoat doctor against a real PostgreSQL that requires a client certificate from the test CA
 * (hostssl ... cert clientcert=verify-full, with the CA's CRL), one test per failure mode of
 * the mTLS guides. Each run is the real CLI as a child process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { freePort } from '../harness/free-port.js';
import { doctor, lastStep, writeFile } from './run-doctor.js';

let pki: Pki;
let pg: PgServer;
let app: ClientFiles;
let revoked: ClientFiles;
let work: string;

before(async () => {
  pki = await makePki();
  work = mkdtempSync(join(tmpdir(), 'pgmoat-doctor-'));
  app = await pki.client('app');
  // Revoked before PostgreSQL starts, so that the CRL it loads lists it.
  revoked = await pki.client('gone', { revoked: true });
  pg = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem, crl: pki.crlPem() },
    hba: [
      'local all all trust',
      'hostssl all pwuser 127.0.0.0/8 scram-sha-256 clientcert=verify-full',
      'hostssl all all 127.0.0.0/8 cert clientcert=verify-full',
      '',
    ].join('\n'),
    // 127.0.0.2 reaches loopback on Linux, but is not in the server certificate.
    settings: { listen_addresses: '127.0.0.1,127.0.0.2', password_encryption: 'scram-sha-256' },
    setupSql: "CREATE ROLE app LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE gone LOGIN; CREATE ROLE pwuser LOGIN PASSWORD 'right horse battery';",
  });
});

after(async () => {
  await pg?.stop();
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function uri(user: string, host = '127.0.0.1', db = 'postgres'): string {
  return `postgres://${user}@${host}:${pg.port}/${db}`;
}

function files(c: ClientFiles, ca = c.caPath): string[] {
  return ['--cert', c.certPath, '--key', c.keyPath, '--ca', ca];
}

test('success: every step ok, one line saying it works, exit 0', async () => {
  const r = await doctor([uri('app'), ...files(app)]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^pgmoat doctor: postgres:\/\/app@127\.0\.0\.1:\d+\/postgres$/);
  for (const [i, title] of ['name resolution', 'TCP connect', 'SSLRequest', 'server certificate', 'client certificate', 'TLS handshake', 'PostgreSQL login', 'query'].entries()) {
    assert.match(lines[i + 1]!, new RegExp(`^ok +${i + 1}\\. ${title} `));
  }
  assert.match(lines[8]!, /^ok +8\. query +SELECT 1 returned 1$/);
  assert.match(lines[9]!, /^It works: "app" logs in to "postgres" at 127\.0\.0\.1:\d+ over mutual TLS, and SELECT 1 returned\.$/);
  assert.equal(lines.length, 10);
  assert.equal(r.stderr, '');
});

test('success through a host name, with the material in PGCLIENT_*_B64 variables', async () => {
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  const r = await doctor([uri('app', 'localhost'), '--json'], {
    PGCLIENT_CERT_B64: b64(app.certPem),
    PGCLIENT_KEY_B64: b64(app.keyPem),
    PGCLIENT_CA_B64: b64(pki.main.caPem),
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.report?.ok, true);
  assert.deepEqual(r.report?.steps.map((s) => s.status), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  assert.match(r.report!.steps[3]!.detail, /valid for localhost/);
});

test('success with the files named in the URI (sslcert, sslkey, sslrootcert) and in PGSSLCERT/PGSSLKEY/PGSSLROOTCERT', async () => {
  const q = `sslcert=${encodeURIComponent(app.certPath)}&sslkey=${encodeURIComponent(app.keyPath)}&sslrootcert=${encodeURIComponent(app.caPath)}`;
  const fromUri = await doctor([`${uri('app')}?${q}`, '--json']);
  assert.equal(fromUri.code, 0, fromUri.stdout + fromUri.stderr);
  const fromEnv = await doctor([uri('app'), '--json'], { PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath });
  assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
});

test('expired client certificate: step 5 fails, fix is pgmoat renew', async () => {
  const expired = await pki.client('app', { expired: true });
  const r = await doctor([uri('app'), ...files(expired), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'client-certificate');
  assert.equal(s.code, 'CERT_EXPIRED');
  assert.match(s.detail, /expired on/);
  assert.match(s.fix!, /^renew it: pgmoat renew app --env production --dir CA_DIR --out /);
  assert.match(r.stderr, /^pgmoat: step 5 \(client certificate\) failed: renew it: pgmoat renew app/);
});

test('wrong trust chain: --ca of another CA fails the server certificate', async () => {
  const r = await doctor([uri('app'), ...files(app, pki.foreign.caPath), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'server-certificate');
  assert.equal(s.code, 'SERVER_CERT_UNTRUSTED');
  assert.match(s.detail, /issued by CN=pgmoat test CA/);
  assert.match(s.detail, /CN=foreign test CA/);
  assert.match(s.fix!, /^use the CA that issued the gateway's certificate as --ca/);
});

test('key does not match the certificate (the key of another client)', async () => {
  const other = await pki.client('app');
  const r = await doctor([uri('app'), '--cert', app.certPath, '--key', other.keyPath, '--ca', app.caPath, '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'client-certificate');
  assert.equal(s.code, 'KEY_MISMATCH');
  assert.match(s.fix!, /use the key written together with this certificate/);
});

test('encrypted key: no passphrase, wrong passphrase, right passphrase', async () => {
  const enc = createPrivateKey(app.keyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'open sesame' }).toString();
  const keyPath = writeFile(work, 'enc.key', enc);
  const wrong = writeFile(work, 'wrong.pass', 'not it\n');
  const right = writeFile(work, 'right.pass', 'open sesame\n');
  const base = [uri('app'), '--cert', app.certPath, '--key', keyPath, '--ca', app.caPath, '--json'];

  const none = await doctor(base);
  assert.equal(lastStep(none).code, 'PASSPHRASE_REQUIRED');

  const bad = await doctor([...base, '--key-passphrase-file', wrong]);
  assert.equal(bad.code, 1);
  const s = lastStep(bad);
  assert.equal(s.step, 'client-certificate');
  assert.equal(s.code, 'WRONG_PASSPHRASE');
  assert.match(s.fix!, /--key-passphrase-file/);
  assert.ok(!bad.stdout.includes('not it') && !bad.stderr.includes('not it'), 'the passphrase is never printed');

  const good = await doctor([...base, '--key-passphrase-file', right]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.report!.steps[4]!.detail, /key decrypted/);

  const fromEnv = await doctor(base, { PGCLIENT_KEY_PASSPHRASE: 'open sesame' });
  assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
});

test('hostname mismatch: 127.0.0.2 reaches the server but is not in the certificate', async () => {
  const r = await doctor([uri('app', '127.0.0.2'), ...files(app), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'server-certificate');
  assert.equal(s.code, 'HOSTNAME_MISMATCH');
  assert.match(s.detail, /not valid for "127\.0\.0\.2" \(it names localhost, 127\.0\.0\.1, ::1\)/);
  assert.match(s.fix!, /^connect with host=localhost /);
  assert.match(s.fix!, /pgmoat issue-server --dir CA_DIR --host 127\.0\.0\.2 --host localhost --host 127\.0\.0\.1 --host ::1, then reload the gateway/);
});

test('key file readable by others (0644): step 5 fails, fix is chmod 600', async () => {
  const loose = writeFile(work, 'loose.key', app.keyPem, 0o644);
  const r = await doctor([uri('app'), '--cert', app.certPath, '--key', loose, '--ca', app.caPath, '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'client-certificate');
  assert.equal(s.code, 'KEY_PERMISSIONS');
  assert.match(s.detail, /mode 0644/);
  assert.equal(s.fix, `chmod 600 ${loose}`);
});

test('certificate CN does not match the role: the login fails with the server\'s message', async () => {
  const r = await doctor([uri('bob'), ...files(app), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'login');
  assert.equal(s.code, 'ROLE_MISMATCH');
  assert.match(s.detail, /certificate authentication failed for user "bob"/);
  assert.match(s.fix!, /connect as user "app"/);
  assert.equal(r.report!.steps[5]!.status, 'ok', 'the handshake itself passed');
});

test('client certificate from a CA the server does not trust: TLS alert unknown_ca, in plain words', async () => {
  const foreign = await pki.client('app', { ca: 'foreign' });
  const r = await doctor([uri('app'), ...files(foreign, pki.main.caPath), '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.report!.steps[4]!.status, 'warn', 'step 5 notices the certificate is not from --ca');
  assert.equal(r.report!.steps[4]!.code, 'CLIENT_CERT_OTHER_CA');
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'TLS_ALERT_UNKNOWN_CA');
  assert.match(s.detail, /does not trust the CA that issued the client certificate/);
  assert.match(s.fix!, /pgmoat issue app --env production/);
});

test('client CA given with --client-ca: a certificate from another CA fails in step 5 already', async () => {
  const foreign = await pki.client('app', { ca: 'foreign' });
  const r = await doctor([uri('app'), ...files(foreign, pki.main.caPath), '--client-ca', pki.main.caPath, '--json']);
  const s = lastStep(r);
  assert.equal(s.step, 'client-certificate');
  assert.equal(s.code, 'CLIENT_CERT_WRONG_CA');
});

test('revoked client certificate: TLS alert certificate_revoked', async () => {
  const r = await doctor([uri('gone'), ...files(revoked), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'TLS_ALERT_CERTIFICATE_REVOKED');
  assert.match(s.fix!, /^a revoked certificate cannot be renewed; .*pgmoat issue gone --env production --dir CA_DIR --out NEW_DIR/);
});

test('no client certificate at all: the server requires one', async () => {
  const r = await doctor([uri('app'), '--ca', app.caPath, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.report!.steps[4]!.code, 'NO_CLIENT_CERT');
  const s = lastStep(r);
  assert.equal(s.step, 'handshake');
  assert.equal(s.code, 'CLIENT_CERT_REQUIRED');
  assert.match(s.fix!, /--cert NAME\.crt --key NAME\.key/);
});

test('password login (SCRAM) over a certificate-checked session: PGPASSWORD missing, wrong, right', async () => {
  const pw = await pki.client('pwuser');
  const args = [uri('pwuser'), ...files(pw), '--json'];
  const missing = await doctor(args);
  assert.equal(lastStep(missing).code, 'PASSWORD_REQUIRED');
  const wrong = await doctor(args, { PGPASSWORD: 'wrong horse' });
  assert.equal(lastStep(wrong).code, 'WRONG_PASSWORD');
  assert.match(lastStep(wrong).detail, /password authentication failed/);
  assert.ok(!wrong.stdout.includes('wrong horse'));
  const right = await doctor(args, { PGPASSWORD: 'right horse battery' });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.report!.steps[6]!.detail, /SCRAM-SHA-256/);
  assert.equal(lastStep(right).step, 'query');
});

test('a database that does not exist: the login names it', async () => {
  const r = await doctor([uri('app', '127.0.0.1', 'nope'), ...files(app), '--json']);
  const s = lastStep(r);
  assert.equal(s.step, 'login');
  assert.equal(s.code, 'NO_SUCH_DATABASE');
  assert.match(s.detail, /database "nope" does not exist/);
});

test('nothing listening: TCP connect fails with connection refused', async () => {
  const port = await freePort();
  const r = await doctor([`postgres://app@127.0.0.1:${port}/postgres`, ...files(app), '--json']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'tcp');
  assert.equal(s.code, 'CONNECTION_REFUSED');
});

test('a host name that does not resolve fails in step 1', async () => {
  const r = await doctor(['postgres://app@no-such-host.invalid:5432/postgres', ...files(app), '--json', '--timeout', '5']);
  assert.equal(r.code, 1);
  const s = lastStep(r);
  assert.equal(s.step, 'resolve');
  assert.ok(s.code === 'HOST_NOT_FOUND' || s.code === 'DNS_TIMEOUT' || s.code === 'DNS_ERROR', s.code);
});

test('usage errors: a bad URI is one line on stderr, exit 2 like commander errors', async () => {
  const r = await doctor(['http://x/db']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^pgmoat: the connection URI must start with postgres:\/\//);
  const missing = await doctor([]);
  assert.equal(missing.code, 2);
});
