/** The CA commands end to end: issue --print, renew, list, export, issue-server, an encrypted CA, help. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl, pgmoat } from './run-pgmoat.js';

let work: string;
let dir: string;
let out: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-life-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir, '--host', 'db.example.com', '--host', '10.1.2.3']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /Created CA "pgmoat CA"/);
  assert.equal(init.stderr, '');
});
after(() => rmSync(work, { recursive: true, force: true }));

const b64 = (path: string): string => readFileSync(path).toString('base64');

interface Listed {
  name: string;
  environment: string;
  kind: string;
  serial: string;
  status: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  expiringSoon: boolean;
  fingerprint256: string;
  revokedAt: string | null;
  reason: string | null;
  sans: string[];
}
async function listJson(): Promise<Listed[]> {
  const r = await pgmoat(['list', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as { version: number; certificates: Listed[] };
  assert.equal(parsed.version, 1);
  return parsed.certificates;
}

test('the starter pgmoat.yaml loads with the gateway config loader and points at the CA files', async () => {
  const text = readFileSync(join(dir, 'pgmoat.yaml'), 'utf8');
  assert.match(text, /^ {4}# password_file: app_owner\.password$/m, 'password_file stays commented out until the file exists');
  assert.match(text, /^ {4}# user: app_owner$/m);
  const { loadConfig } = await import('../../src/config/load.js');
  const { config } = await loadConfig(join(dir, 'pgmoat.yaml'));
  assert.deepEqual(
    { listen: config.listen, tls: [config.tls.mode, config.tls.cert, config.tls.key, config.tls.ca, config.tls.crl] },
    {
      listen: { host: '127.0.0.1', port: 6432, reuse_port: false },
      tls: ['verify-full', join(dir, 'server.crt'), join(dir, 'server.key'), join(dir, 'ca.crt'), join(dir, 'crl.pem')],
    },
  );
  const app = config.databases.app!;
  assert.deepEqual([app.host, app.port, app.dbname, app.environment, app.pool_size, app.tls?.mode], ['127.0.0.1', 5432, 'app', 'production', 20, 'prefer']);
});

test('issue --print env|dotenv|json prints the three base64 values on one line each', async () => {
  const r = await pgmoat(['issue', 'web', '--env', 'preview', '--dir', dir, '--out', out, '--print', 'env']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Issued web for environment preview/);
  assert.equal(
    r.stdout,
    `export PGCLIENT_CERT_B64=${b64(join(out, 'web.crt'))}\nexport PGCLIENT_KEY_B64=${b64(join(out, 'web.key'))}\nexport PGCLIENT_CA_B64=${b64(join(dir, 'ca.crt'))}\n`,
  );
  const dotenv = await pgmoat(['export', '--cert', join(out, 'web.crt'), '--key', join(out, 'web.key'), '--format', 'dotenv']);
  assert.equal(dotenv.code, 0, dotenv.stderr);
  // The same three values, then what libpq reads (the address only with --config or flags: test/cli/export-env).
  assert.equal(
    dotenv.stdout,
    r.stdout.replace(/^export /gm, '') +
      `PGSSLMODE=verify-full\nPGSSLCERT=${join(out, 'web.crt')}\nPGSSLKEY=${join(out, 'web.key')}\nPGSSLROOTCERT=${join(out, 'ca.crt')}\n`,
  );
  assert.match(dotenv.stderr, /PGHOST not written: no --host and no --config; pass --host HOST/);
  const json = await pgmoat(['export', '--cert', join(out, 'web.crt'), '--key', join(out, 'web.key'), '--ca', join(out, 'ca.crt'), '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const obj = JSON.parse(json.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(obj), ['PGCLIENT_CERT_B64', 'PGCLIENT_KEY_B64', 'PGCLIENT_CA_B64', 'PGSSLMODE', 'PGSSLCERT', 'PGSSLKEY', 'PGSSLROOTCERT']);
  assert.equal(Buffer.from(obj.PGCLIENT_KEY_B64!, 'base64').toString(), readFileSync(join(out, 'web.key'), 'utf8'));
  const printed = await pgmoat(['issue', 'api', '--env', 'preview', '--dir', dir, '--out', out, '--print', 'json']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(Object.keys(JSON.parse(printed.stdout) as object), ['PGCLIENT_CERT_B64', 'PGCLIENT_KEY_B64', 'PGCLIENT_CA_B64']);
});

test('export --format libpq and pk8', async () => {
  const libpq = await pgmoat(['export', '--cert', join(out, 'web.crt'), '--key', join(out, 'web.key'), '--format', 'libpq'], { cwd: work });
  assert.equal(libpq.code, 0, libpq.stderr);
  assert.equal(libpq.stdout, `sslmode=verify-full sslcert=${join(out, 'web.crt')} sslkey=${join(out, 'web.key')} sslrootcert=${join(out, 'ca.crt')}\n`);
  // Relative paths become absolute.
  const rel = await pgmoat(['export', '--cert', 'out/web.crt', '--key', 'out/web.key', '--format', 'libpq'], { cwd: work });
  assert.equal(rel.stdout, libpq.stdout);

  const der = join(work, 'web.pk8');
  const pk8 = await pgmoat(['export', '--cert', join(out, 'web.crt'), '--key', join(out, 'web.key'), '--format', 'pk8', '--out', der]);
  assert.equal(pk8.code, 0, pk8.stderr);
  assert.equal(pk8.stdout, '');
  assert.equal(statSync(der).mode & 0o777, 0o600);
  const parsed = openssl(['pkey', '-inform', 'DER', '-in', der, '-pubout']);
  assert.ok(parsed.ok, parsed.out);
  assert.equal(parsed.out, openssl(['x509', '-in', join(out, 'web.crt'), '-noout', '-pubkey']).out);
  assert.equal(readFileSync(der)[0], 0x30);

  // An encrypted key needs its passphrase for pk8.
  const pass = join(work, 'k.pass');
  writeFileSync(pass, 'key pass\n', { mode: 0o600 });
  const enc = await pgmoat(['issue', 'jdbc', '--env', 'production', '--dir', dir, '--out', out, '--key-passphrase-file', pass]);
  assert.equal(enc.code, 0, enc.stderr);
  const noPass = await pgmoat(['export', '--cert', join(out, 'jdbc.crt'), '--key', join(out, 'jdbc.key'), '--format', 'pk8', '--out', join(work, 'jdbc.pk8')]);
  assert.equal(noPass.code, 1);
  assert.match(noPass.stderr, /^pgmoat: client key .*jdbc\.key is encrypted: pass --key-passphrase-file FILE/);
  const withPass = await pgmoat(['export', '--cert', join(out, 'jdbc.crt'), '--key', join(out, 'jdbc.key'), '--format', 'pk8', '--out', join(work, 'jdbc.pk8'), '--key-passphrase-file', pass]);
  assert.equal(withPass.code, 0, withPass.stderr);
  assert.ok(openssl(['pkey', '-inform', 'DER', '-in', join(work, 'jdbc.pk8'), '-noout']).ok);
  // env formats pass an encrypted key through as it is.
  const envEnc = await pgmoat(['export', '--cert', join(out, 'jdbc.crt'), '--key', join(out, 'jdbc.key'), '--format', 'env']);
  assert.equal(envEnc.code, 0, envEnc.stderr);
  assert.match(Buffer.from(envEnc.stdout.match(/PGCLIENT_KEY_B64=(.*)/)![1]!, 'base64').toString(), /ENCRYPTED PRIVATE KEY/);
});

test('renew: a new key for the same identity; --revoke-old revokes the old one', async () => {
  const oldCert = readFileSync(join(out, 'web.crt'), 'utf8');
  const oldKey = readFileSync(join(out, 'web.key'), 'utf8');
  const r = await pgmoat(['renew', 'web', '--env', 'preview', '--dir', dir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Renewed web for environment preview/);
  const newCert = readFileSync(join(out, 'web.crt'), 'utf8');
  assert.notEqual(newCert, oldCert);
  assert.notEqual(readFileSync(join(out, 'web.key'), 'utf8'), oldKey);
  assert.equal(statSync(join(out, 'web.key')).mode & 0o777, 0o600);
  assert.equal(new X509Certificate(newCert).subject, new X509Certificate(oldCert).subject);
  let web = (await listJson()).filter((c) => c.name === 'web');
  assert.deepEqual(web.map((c) => c.status), ['superseded', 'valid'], 'the old one stays valid (it still verifies), listed as superseded by the new one');

  const r2 = await pgmoat(['renew', 'web', '--env', 'preview', '--dir', dir, '--out', out, '--revoke-old']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal((r2.stdout.match(/Revoked previous certificate/g) ?? []).length, 2);
  web = (await listJson()).filter((c) => c.name === 'web');
  assert.deepEqual(web.map((c) => [c.status, c.reason]), [['revoked', 'superseded'], ['revoked', 'superseded'], ['valid', null]]);
  const crl = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text']).out;
  assert.equal((crl.match(/Superseded/g) ?? []).length, 2);
  assert.ok(openssl(['verify', '-crl_check', '-CRLfile', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), join(out, 'web.crt')]).ok);
});

test('list: every certificate with its facts', async () => {
  // A fresh 5-day certificate is not "expiring": list and SHOW CERTS share one rule, under 14 days
  // or a third of the lifetime left (util/expiring.ts). An expiring one: test/cli/list-status.
  const soon = await pgmoat(['issue', 'cron', '--env', 'production', '--dir', dir, '--out', out, '--days', '5']);
  assert.equal(soon.code, 0, soon.stderr);
  const rows = await listJson();
  const cron = rows.find((c) => c.name === 'cron')!;
  assert.equal(cron.expiringSoon, false);
  assert.equal(cron.daysLeft, 4);
  assert.equal(cron.status, 'valid');
  assert.equal(cron.fingerprint256, new X509Certificate(readFileSync(join(out, 'cron.crt'))).fingerprint256);
  assert.equal(cron.serial, new X509Certificate(readFileSync(join(out, 'cron.crt'))).serialNumber.toLowerCase());
  const api = rows.find((c) => c.name === 'api')!;
  assert.equal(api.expiringSoon, false);
  assert.ok(api.daysLeft === 89 || api.daysLeft === 90);
  assert.deepEqual(Object.keys(api), ['name', 'environment', 'kind', 'serial', 'status', 'notBefore', 'notAfter', 'daysLeft', 'expiringSoon', 'fingerprint256', 'revokedAt', 'reason', 'supersededBy', 'sans']);
  assert.deepEqual(api.sans, ['URI:pgmoat://preview/api']);
  const server = rows.find((c) => c.kind === 'server')!;
  assert.equal(server.name, 'db.example.com');

  const text = await pgmoat(['list', '--dir', dir]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.match(lines[0]!, /NAME\s+ENVIRONMENT\s+KIND\s+SERIAL\s+STATUS\s+NOT BEFORE \(UTC\)\s+NOT AFTER \(UTC\)\s+DAYS LEFT\s+SHA-256 FINGERPRINT/);
  assert.match(lines.find((l) => l.includes(' cron '))!, /^\s+cron\s+production\s+client\s+[0-9a-f]{32}\s+valid\s/);
  assert.match(lines.find((l) => l.includes(' api '))!, /^\s+api\s+preview\s+client\s+[0-9a-f]{32}\s+valid\s/);
  assert.doesNotMatch(text.stdout, /due for renewal/);
});

test('issue-server: a new key and certificate, same hosts, same CA', async () => {
  const before = readFileSync(join(dir, 'server.crt'), 'utf8');
  const beforeKey = readFileSync(join(dir, 'server.key'), 'utf8');
  const r = await pgmoat(['issue-server', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Issued server certificate for db\.example\.com, 10\.1\.2\.3/);
  const after = readFileSync(join(dir, 'server.crt'), 'utf8');
  assert.notEqual(after, before);
  assert.notEqual(readFileSync(join(dir, 'server.key'), 'utf8'), beforeKey);
  assert.equal(statSync(join(dir, 'server.key')).mode & 0o777, 0o600);
  assert.equal(new X509Certificate(after).subjectAltName, 'DNS:db.example.com, IP Address:10.1.2.3');
  assert.ok(new X509Certificate(after).checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(dir, 'server.key')))));
  assert.ok(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt')]).ok);
  const r2 = await pgmoat(['issue-server', '--dir', dir, '--host', 'gw.internal', '--days', '30']);
  assert.equal(r2.code, 0, r2.stderr);
  const cert = new X509Certificate(readFileSync(join(dir, 'server.crt')));
  assert.equal(cert.subjectAltName, 'DNS:gw.internal');
  assert.ok((new Date(cert.validTo).getTime() - Date.now()) / 86_400_000 <= 30);
  assert.equal((await listJson()).filter((c) => c.kind === 'server').length, 3);
});

test('an encrypted CA works with its passphrase file', async () => {
  const encDir = join(work, 'enc');
  const pass = join(work, 'ca.pass');
  writeFileSync(pass, 's3cret passphrase\n', { mode: 0o600 });
  const init = await pgmoat(['init', '--dir', encDir, '--ca-passphrase-file', pass]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(readFileSync(join(encDir, 'ca.key'), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.ok(openssl(['pkey', '-in', join(encDir, 'ca.key'), '-passin', 'pass:s3cret passphrase', '-noout']).ok);
  // The gateway's own key is not encrypted (the gateway must start unattended).
  assert.match(readFileSync(join(encDir, 'server.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  for (const args of [
    ['issue', 'x', '--env', 'production', '--dir', encDir, '--out', join(work, 'encout')],
    ['revoke', 'x', '--dir', encDir, '--reason', 'keyCompromise'],
    ['crl', '--dir', encDir],
    ['issue-server', '--dir', encDir],
  ]) {
    const r = await pgmoat([...args, '--ca-passphrase-file', pass]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const list = await pgmoat(['list', '--dir', encDir]);
  assert.equal(list.code, 0, 'list needs no passphrase');
});

test('every command has --help; --version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const v = await pgmoat(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkg.version);
  const top = await pgmoat(['--help']);
  assert.equal(top.code, 0);
  const commands = ['init', 'issue', 'renew', 'revoke', 'list', 'export', 'crl', 'issue-server'];
  for (const c of commands) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'));
  const helps = await Promise.all(commands.map((c) => pgmoat([c, '--help'])));
  helps.forEach((h, i) => {
    assert.equal(h.code, 0, commands[i]);
    assert.match(h.stdout, new RegExp(`^Usage: pgmoat ${commands[i]} `), commands[i]);
  });
});
