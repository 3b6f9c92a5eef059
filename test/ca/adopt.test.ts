/**
 * `pgmoat ca adopt` on a CA made by hand with openssl, the way a PgBouncer mTLS setup is built
 * (RSA key in the traditional PKCS#1 format, leaves signed with `openssl x509 -req`, revocations
 * with `openssl ca -revoke` and a CRL from `openssl ca -gencrl`): the inventory, the carried-over
 * revocations and CRL number, and then the gateway trusting the adopted directory: a hand-made
 * client certificate connects, and `pgmoat revoke` through the adopted CA shuts it out.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl, pgmoat } from './run-pgmoat.js';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { APP_SETUP_SQL, plainUpstream, waitFor } from '../gateway/helpers.js';

let work: string;
let hand: string;

function sh(args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: hand, stdio: ['ignore', 'ignore', 'pipe'] });
}

function serialOf(path: string): string {
  return execFileSync('openssl', ['x509', '-in', path, '-noout', '-serial'], { encoding: 'utf8' }).trim().replace(/^serial=/, '').toLowerCase();
}

/** A leaf signed by the hand-made CA: RSA key (PKCS#8 for libpq), CN and OU, clientAuth. */
function leaf(name: string, subject: string): string {
  writeFileSync(join(hand, `${name}.ext`), ['[ext]', 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment', 'extendedKeyUsage = clientAuth', ''].join('\n'));
  sh(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
  chmodSync(join(hand, `${name}.key`), 0o600);
  sh(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  sh(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-sha256', '-days', '30', '-extfile', `${name}.ext`, '-extensions', 'ext', '-out', `${name}.crt`]);
  return join(hand, `${name}.crt`);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-adopt-'));
  hand = join(work, 'hand');
  mkdirSync(hand);
  // The CA as an openssl recipe makes it: traditional "BEGIN RSA PRIVATE KEY".
  sh(['genrsa', '-traditional', '-out', 'ca.key', '2048']);
  chmodSync(join(hand, 'ca.key'), 0o600);
  writeFileSync(
    join(hand, 'ca.cnf'),
    [
      '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'O = Hand Made', 'CN = Hand Made Root',
      '[ext]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash',
      '[ca]', 'default_ca = own', '[own]', 'database = index.txt', 'crlnumber = crlnumber', 'default_md = sha256', 'default_crl_days = 7', '',
    ].join('\n'),
  );
  sh(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '365', '-config', 'ca.cnf', '-extensions', 'ext', '-out', 'ca.crt']);
  writeFileSync(join(hand, 'index.txt'), '');
  writeFileSync(join(hand, 'crlnumber'), '05\n');
  leaf('app', '/O=Hand Made/OU=production/CN=app');
  leaf('old', '/O=Hand Made/OU=production/CN=old');
  leaf('lost', '/O=Hand Made/OU=production/CN=lost');
  for (const [cert, reason] of [['old.crt', 'keyCompromise'], ['lost.crt', 'superseded']] as const) {
    sh(['ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-revoke', cert, '-crl_reason', reason]);
  }
  sh(['ca', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-gencrl', '-out', 'crl.pem']);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('ca adopt: inventory from the issued certificates, the old CRL carried over with the next number', async () => {
  const dir = join(work, 'adopted');
  const r = await pgmoat(['ca', 'adopt', '--dir', dir, '--cert', join(hand, 'ca.crt'), '--key', join(hand, 'ca.key'), '--issued', join(hand, 'app.crt'), '--issued', join(hand, 'old.crt'), '--crl', join(hand, 'crl.pem')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 certificate\(s\) from --issued, 1 of them revoked/);
  assert.match(r.stdout, /1 revocation\(s\) of the old CRL without their certificate/);
  assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(dir, 'ca.key'), 'utf8'), /BEGIN PRIVATE KEY/);
  const inv = JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')) as { crlNumber: number; certificates: { name: string; environment: string; serial: string; status: string; reason?: string }[] };
  const byName = new Map(inv.certificates.map((e) => [e.name, e]));
  assert.equal(byName.get('app')!.status, 'valid');
  assert.equal(byName.get('app')!.environment, 'production');
  assert.equal(byName.get('old')!.status, 'revoked');
  assert.equal(byName.get('old')!.reason, 'keyCompromise');
  // The new CRL: signed by the adopted CA, number 5 + 1, still listing both revocations.
  const crlPath = join(dir, 'crl.pem');
  assert.match(openssl(['crl', '-in', crlPath, '-CAfile', join(hand, 'ca.crt'), '-noout']).out, /verify OK/);
  const text = openssl(['crl', '-in', crlPath, '-noout', '-text']).out;
  assert.match(text, /X509v3 CRL Number: *\n\s+6\b/);
  for (const name of ['old', 'lost']) assert.match(text.toLowerCase(), new RegExp(`serial number: ${serialOf(join(hand, `${name}.crt`))}`));
  const verify = (name: string): string => openssl(['verify', '-crl_check', '-CAfile', join(hand, 'ca.crt'), '-CRLfile', crlPath, join(hand, `${name}.crt`)]).out;
  assert.match(verify('app'), /OK/);
  assert.match(verify('lost'), /certificate revoked/);

  // pgmoat issues with it, and a revocation through it keeps the carried-over ones.
  const issued = await pgmoat(['issue', 'fresh', '--env', 'production', '--dir', dir, '--out', join(work, 'fresh')]);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(openssl(['verify', '-CAfile', join(hand, 'ca.crt'), join(work, 'fresh', 'fresh.crt')]).out, /OK/);
  const revoked = await pgmoat(['revoke', 'fresh', '--env', 'production', '--dir', dir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const after = openssl(['crl', '-in', crlPath, '-noout', '-text']).out;
  assert.match(after, /X509v3 CRL Number: *\n\s+7\b/);
  assert.match(after.toLowerCase(), new RegExp(`serial number: ${serialOf(join(hand, 'lost.crt'))}`));
  assert.match(verify('lost'), /certificate revoked/);
});

test('ca adopt refuses what it cannot take, and writes nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['--cert', join(hand, 'app.crt'), '--key', join(hand, 'app.key')], /not a CA certificate/],
    [['--cert', join(hand, 'ca.crt'), '--key', join(hand, 'app.key')], /is not the key of/],
    [['--cert', join(hand, 'ca.crt'), '--key', join(hand, 'ca.key'), '--issued', join(work, 'foreign.crt')], /no certificate signed by/],
  ];
  const pki = await makePki();
  try {
    writeFileSync(join(work, 'foreign.crt'), (await pki.client('someone')).certPem);
    for (const [i, [args, expected]] of cases.entries()) {
      const dir = join(work, `refused-${i}`);
      const r = await pgmoat(['ca', 'adopt', '--dir', dir, ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, expected);
      assert.throws(() => statSync(dir), /ENOENT/, 'nothing written');
    }
    // A key readable by others is refused, like every private key pgmoat reads.
    chmodSync(join(hand, 'ca.key'), 0o644);
    const open = await pgmoat(['ca', 'adopt', '--dir', join(work, 'refused-open'), '--cert', join(hand, 'ca.crt'), '--key', join(hand, 'ca.key')]);
    assert.equal(open.code, 1);
    assert.match(open.stderr, /readable by/);
  } finally {
    chmodSync(join(hand, 'ca.key'), 0o600);
    pki.cleanup();
  }
});

test('a gateway on the adopted CA: the hand-made certificate connects; pgmoat revoke shuts it out', { timeout: 120_000 }, async () => {
  const dir = join(work, 'served');
  const r = await pgmoat(['ca', 'adopt', '--dir', dir, '--cert', join(hand, 'ca.crt'), '--key', join(hand, 'ca.key'), '--issued', join(hand, 'app.crt')]);
  assert.equal(r.code, 0, r.stderr);
  let pki: Pki | undefined;
  let pg: PgServer | undefined;
  let gw: RunningGateway | undefined;
  try {
    pki = await makePki();
    pg = await startPostgres({ setupSql: APP_SETUP_SQL });
    gw = await startGateway({
      tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: join(dir, 'ca.crt'), crl: join(dir, 'crl.pem') },
      databases: { appdb: plainUpstream(pg, 'appdb') },
    });
    const cert = { certPath: join(hand, 'app.crt'), keyPath: join(hand, 'app.key'), caPath: pki.main.caPath };
    const conn = conninfo(gw.port, { user: 'app', dbname: 'appdb', cert });
    const ok = await psql(conn, 'SELECT 1');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '1');
    const rv = await pgmoat(['revoke', serialOf(join(hand, 'app.crt')), '--dir', dir]);
    assert.equal(rv.code, 0, rv.stderr);
    await waitFor(async () => (await psql(conn, 'SELECT 1')).code !== 0, 'the revoked hand-made certificate to be refused', 20_000);
  } finally {
    await gw?.stop();
    await pg?.stop();
    pki?.cleanup();
  }
});
