/**
 * Rotating and revoking the intermediate of a two-level CA, through the real CLI, a real gateway
 * (tls.ca = ca-bundle.crt, tls.crl = crl.pem, both watched), psql and node-postgres:
 * - without the root key, or with a wrong one, nothing changes and the error says why (with a code);
 * - after `pgmoat ca rotate-intermediate`, certificates of the old and of the new intermediate both
 *   connect, and the renewal service (opened before the rotation) renews an old one from the new;
 * - `pgmoat ca revoke-intermediate` refuses the old intermediate's certificates at the handshake and
 *   ends a live session of one, while the new intermediate's keep working;
 * - a crl.pem whose root CRL is older than the one in force is refused (rollback).
 * The tests run in order: each starts where the one before left the CA.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { openssl, pgmoat } from './run-pgmoat.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { logEvents, plainUpstream, waitFor } from '../gateway/helpers.js';
import { openCa } from '../../src/ca/authority.js';
import { rotateIntermediate } from '../../src/ca/rotate-intermediate.js';
import { RenewalService } from '../../src/ca/renewal.js';
import { RenewalServer } from '../../src/renewal/renewal-server.js';
import { remoteRenew } from '../../src/renewal/remote-renew.js';
import { pemBlocks } from '@pgmoat/client/internal';

let work: string;
let dir: string;
let out: string;
let rootKey: string;
let upstream: PgServer;
let gw: RunningGateway;
let renewal: RenewalServer;
let oldIntermediate: X509Certificate;
const ca = (f: string): string => join(dir, f);
const ROLES = ['app', 'fresh', 'victim', 'renewme'];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-rotate-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  rootKey = join(work, 'root-offline.key');
  const init = await pgmoat(['init', '--dir', dir, '--intermediate', '--host', 'localhost', '--host', '127.0.0.1']);
  assert.equal(init.code, 0, init.stderr);
  renameSync(ca('ca.key'), rootKey);
  for (const name of ['app', 'victim', 'renewme']) {
    const r = await pgmoat(['issue', name, '--env', 'production', '--dir', dir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
  }
  oldIntermediate = new X509Certificate(readFileSync(ca('intermediate.crt')));
  upstream = await startPostgres({ setupSql: `${ROLES.map((r) => `CREATE ROLE ${r} LOGIN;`).join(' ')} CREATE DATABASE appdb OWNER app;` });
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: ca('server.crt'), key: ca('server.key'), ca: ca('ca-bundle.crt'), crl: ca('crl.pem') },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  // Opened before the rotation: it must follow it by itself.
  renewal = await RenewalServer.start({
    host: '127.0.0.1',
    port: 0,
    cert: readFileSync(ca('server.crt'), 'utf8'),
    key: readFileSync(ca('server.key')),
    service: new RenewalService(await openCa(dir), { expiredGraceMs: 0 }, () => openCa(dir)),
    rateLimit: { max: 100, windowMs: 3_600_000 },
    log: pino({ level: 'silent' }),
  });
});
after(async () => {
  await renewal?.close();
  await gw?.stop();
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

function files(name: string) {
  return { certPath: join(out, `${name}.crt`), keyPath: join(out, `${name}.key`), caPath: ca('ca.crt') };
}

/** psql through the gateway with NAME's certificate (leaf + its intermediate), trusting only the root. */
function psqlAs(name: string) {
  return psql(conninfo(gw.port, { user: name, dbname: 'appdb', cert: files(name) }), 'SELECT current_user');
}

function nodeClient(name: string): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: gw.port,
    user: name,
    database: 'appdb',
    ssl: { cert: readFileSync(join(out, `${name}.crt`), 'utf8'), key: readFileSync(join(out, `${name}.key`), 'utf8'), ca: readFileSync(ca('ca.crt'), 'utf8'), servername: 'localhost' },
  });
}

test('rotation needs the root key: none, or a wrong one, is refused with a code and changes nothing', async () => {
  const bundleBefore = readFileSync(ca('ca-bundle.crt'), 'utf8');
  const authority = await openCa(dir);
  await assert.rejects(rotateIntermediate(authority), { code: 'ROOT_KEY_MISSING' });
  await assert.rejects(rotateIntermediate(authority, { rootKeyPath: ca('intermediate.key') }), { code: 'ROOT_KEY_MISMATCH' });
  const cli = await pgmoat(['ca', 'rotate-intermediate', '--dir', dir]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^pgmoat: the root CA key .*ca\.key is not there \(moved offline\?\).*--root-key FILE/);
  const wrong = await pgmoat(['ca', 'rotate-intermediate', '--dir', dir, '--root-key', ca('server.key')]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^pgmoat: root CA key .*server\.key does not belong to the certificate CN=pgmoat CA/);
  assert.equal(readFileSync(ca('ca-bundle.crt'), 'utf8'), bundleBefore);
  assert.equal(new X509Certificate(readFileSync(ca('intermediate.crt'))).fingerprint256, oldIntermediate.fingerprint256);
});

test('after rotate-intermediate, certificates of the old and of the new intermediate both connect through psql', async () => {
  const r = await pgmoat(['ca', 'rotate-intermediate', '--dir', dir, '--root-key', rootKey]);
  assert.equal(r.code, 0, r.stderr);
  const newIntermediate = new X509Certificate(readFileSync(ca('intermediate.crt')));
  assert.notEqual(newIntermediate.serialNumber, oldIntermediate.serialNumber);
  const bundle = pemBlocks(readFileSync(ca('ca-bundle.crt'), 'utf8')).map((b) => new X509Certificate(b.der).fingerprint256);
  assert.equal(bundle.length, 3, 'root + new + old intermediate');
  assert.ok(bundle.includes(oldIntermediate.fingerprint256) && bundle.includes(newIntermediate.fingerprint256));
  assert.equal(pemBlocks(readFileSync(ca('crl.pem'), 'utf8')).length, 2, 'a CRL of the new and one of the old intermediate');

  const issued = await pgmoat(['issue', 'fresh', '--env', 'production', '--dir', dir, '--out', out]);
  assert.equal(issued.code, 0, issued.stderr);
  const fresh = new X509Certificate(pemBlocks(readFileSync(join(out, 'fresh.crt'), 'utf8'))[0]!.der);
  assert.ok(fresh.verify(newIntermediate.publicKey), 'issued by the new intermediate');

  // The gateway follows ca-bundle.crt by itself (no reload, no SIGHUP).
  let last = { code: -1, stdout: '', stderr: '' };
  await waitFor(async () => (last = await psqlAs('fresh')).code === 0, `a new-intermediate certificate to connect (last: ${last.stderr})`);
  assert.equal(last.stdout, 'fresh');
  const old = await psqlAs('app');
  assert.equal(old.code, 0, old.stderr);
  assert.equal(old.stdout, 'app');
  const listing = await pgmoat(['ca', 'intermediates', '--dir', dir]);
  assert.match(listing.stdout, new RegExp(`current +${newIntermediate.serialNumber.toLowerCase()} +valid .* yes`));
  assert.match(listing.stdout, new RegExp(`retired +${oldIntermediate.serialNumber.toLowerCase()} +valid .* yes`));
});

test('renewal through the service of an old-intermediate certificate returns one from the new intermediate', async () => {
  const before = new X509Certificate(pemBlocks(readFileSync(join(out, 'renewme.crt'), 'utf8'))[0]!.der);
  assert.ok(before.verify(oldIntermediate.publicKey));
  const r = await remoteRenew({ url: `https://localhost:${renewal.address().port}`, ...files('renewme') });
  assert.notEqual(r.serial, before.serialNumber.toLowerCase());
  const written = readFileSync(join(out, 'renewme.crt'), 'utf8');
  const chain = pemBlocks(written).map((b) => new X509Certificate(b.der));
  const newIntermediate = new X509Certificate(readFileSync(ca('intermediate.crt')));
  assert.ok(chain[0]!.verify(newIntermediate.publicKey), 'signed by the new intermediate');
  assert.equal(chain[1]!.fingerprint256, newIntermediate.fingerprint256, 'the file carries the new intermediate');
  const v = openssl(['verify', '-CAfile', ca('ca.crt'), '-untrusted', ca('intermediate.crt'), '-purpose', 'sslclient'], chain[0]!.toString());
  assert.ok(v.ok, v.out);
  const c = await psqlAs('renewme');
  assert.equal(c.code, 0, c.stderr);
});

let olderRootCrl: string;

test('revoke-intermediate: its certificates are refused at the handshake and a live session ends; the new ones keep working', async () => {
  // A root CRL that lists nothing yet: what an attacker would put back to un-revoke (next test).
  const first = await pgmoat(['crl', '--dir', dir, '--root-key', rootKey]);
  assert.equal(first.code, 0, first.stderr);
  olderRootCrl = readFileSync(ca('root-crl.pem'), 'utf8');
  const rootIssuer = 'CN=pgmoat CA, O=pgmoat';
  await waitFor(
    () => gw.gateway.revocations.freshness().some((f) => f.sequence.some((s) => s.issuer === rootIssuer)),
    'the gateway to load the CRL file with the root CRL',
  );

  const live = nodeClient('victim');
  await live.connect();
  // pg reports the FATAL, then the closed socket: keep listening, the first one is the answer.
  let ended: Error | undefined;
  live.on('error', (e: Error) => (ended ??= e));
  assert.equal((await live.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u, 'victim');

  const serial = oldIntermediate.serialNumber.toLowerCase();
  const noKey = await pgmoat(['ca', 'revoke-intermediate', '--dir', dir, '--serial', serial]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /is not there \(moved offline\?\)/);
  const current = new X509Certificate(readFileSync(ca('intermediate.crt'))).serialNumber.toLowerCase();
  const refuseCurrent = await pgmoat(['ca', 'revoke-intermediate', '--dir', dir, '--serial', current, '--root-key', rootKey]);
  assert.equal(refuseCurrent.code, 1);
  assert.match(refuseCurrent.stderr, /is the intermediate that signs now: run pgmoat ca rotate-intermediate first/);

  const r = await pgmoat(['ca', 'revoke-intermediate', '--dir', dir, '--serial', serial, '--root-key', rootKey]);
  assert.equal(r.code, 0, r.stderr);
  const bundle = pemBlocks(readFileSync(ca('ca-bundle.crt'), 'utf8')).map((b) => new X509Certificate(b.der).fingerprint256);
  assert.ok(!bundle.includes(oldIntermediate.fingerprint256), 'the revoked intermediate leaves the bundle');

  // The live session of a certificate under it ends, like that of a revoked certificate.
  await waitFor(() => ended !== undefined, 'the live session under the revoked intermediate to end', 30_000);
  assert.match(ended!.message, /revoked/);
  // New handshakes with its certificates are refused, whatever chain they send.
  await waitFor(async () => (await psqlAs('app')).code !== 0, 'an old-intermediate certificate to be refused');
  const refused = await psqlAs('app');
  assert.match(refused.stderr, /revoked/);
  assert.ok(logEvents(gw, 'revoked_session_ended').some((l) => l.cn === 'victim'));
  // The new intermediate's certificates, and the renewed one, keep working.
  for (const name of ['fresh', 'renewme']) {
    const ok = await psqlAs(name);
    assert.equal(ok.code, 0, `${name}: ${ok.stderr}`);
  }
  // Nothing under it renews any more.
  await assert.rejects(remoteRenew({ url: `https://localhost:${renewal.address().port}`, ...files('victim') }), /revoked/);
  const listing = await pgmoat(['ca', 'intermediates', '--dir', dir]);
  assert.match(listing.stdout, new RegExp(`retired +${serial} +revoked .* no +\\(revoked `));
});

test('a crl.pem whose root CRL is older than the one in force is refused: the intermediate stays revoked', async () => {
  const now = readFileSync(ca('crl.pem'), 'utf8');
  const blocks = now.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n/g)!;
  const rootNow = readFileSync(ca('root-crl.pem'), 'utf8');
  const rolledBack = blocks.filter((b) => b !== rootNow).join('') + olderRootCrl;
  assert.notEqual(rolledBack, now);
  const before = logEvents(gw, 'crl_reload_failed').length;
  writeFileSync(ca('crl.pem'), rolledBack);
  await waitFor(() => logEvents(gw, 'crl_reload_failed').length > before, 'the rolled-back CRL to be refused');
  const failure = logEvents(gw, 'crl_reload_failed').at(-1)!;
  assert.equal(failure.code, 'CRL_ROLLBACK');
  assert.equal(failure.issuer, 'CN=pgmoat CA, O=pgmoat');
  const refused = await psqlAs('app');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /revoked/);
  writeFileSync(ca('crl.pem'), now);
});
