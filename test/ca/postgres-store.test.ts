/**
 * The CA's inventory in a PostgreSQL store (issue 17): `pgmoat ca migrate --to URL` moves a
 * directory's inventory in, then every CA command works on the store as it did on the file:
 * list prints the same, issue/renew/revoke write rows, a revoke NOTIFYs pgmoat_revocations in
 * the same transaction and crl.pem keeps being published. A store that is down fails cleanly
 * and leaves the directory as it was; migrate can be run again after a crash; another CA is
 * refused; the store's password never appears in any output. Real PostgreSQL, real CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { openssl, pgmoat, snapshotDir, spawnPgmoat, type CliResult } from './run-pgmoat.js';
import { X509Certificate } from 'node:crypto';
import { normalizeSerial } from '../../src/util/serial.js';
import { openCa } from '../../src/ca/index.js';
import { RenewalService } from '../../src/ca/renewal.js';
import { REVOCATION_CHANNEL, STORE_LOCK_KEY } from '../../src/ca/store-schema.js';
import { pemDecodeOne } from '../../src/ca/pem.js';
import { CertificateCatalog, type CatalogGateway } from '../../src/admin/certificate-catalog.js';

const PASSWORD = 'Sup3r-s3cret-pw';
let pgs: PgServer;
let work: string;
let dir: string;
let out: string;
/** Every CLI result of this file: none may show the password. */
const outputs: CliResult[] = [];

const url = (db: string, extra = ''): string => `postgres://castore:${PASSWORD}@127.0.0.1:${pgs.port}/${db}${extra}`;

async function cli(args: readonly string[]): Promise<CliResult> {
  const r = await pgmoat(args);
  outputs.push(r);
  return r;
}

async function ok(args: readonly string[]): Promise<CliResult> {
  const r = await cli(args);
  assert.equal(r.code, 0, `pgmoat ${args.join(' ')}: ${r.stderr}`);
  return r;
}

function serialOf(stdout: string): string {
  const m = /serial ([0-9a-f]+)/.exec(stdout);
  assert.ok(m, stdout);
  return m[1]!;
}

function sql(q: string, db = 'castore'): string {
  return pgs.sql(q, db).trim();
}

async function listJson(d: string): Promise<unknown> {
  const r = await ok(['list', '--dir', d, '--json']);
  return JSON.parse(r.stdout);
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  pgs = await startPostgres({
    hba: ['local all all trust', `host all castore 127.0.0.1/32 scram-sha-256`, 'host all all 127.0.0.1/32 trust', ''].join('\n'),
    setupSql: `CREATE ROLE castore LOGIN PASSWORD '${PASSWORD}'; CREATE DATABASE castore OWNER castore; CREATE DATABASE other OWNER castore; CREATE DATABASE crash OWNER castore; CREATE DATABASE newer OWNER castore; CREATE DATABASE initdb OWNER castore; CREATE DATABASE twolevel OWNER castore;`,
  });
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-store-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  await ok(['init', '--dir', dir]);
  await ok(['issue', 'alice', '--env', 'production', '--dir', dir, '--out', out]);
  await ok(['issue', 'mallory', '--env', 'production', '--dir', dir, '--out', out]);
  await ok(['revoke', 'mallory', '--dir', dir, '--reason', 'keyCompromise']);
});

after(async () => {
  await pgs?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('migrate moves the inventory into the store; list prints the same; the directory records the store', async () => {
  const listedBefore = await listJson(dir);
  const textBefore = (await ok(['list', '--dir', dir])).stdout;
  const crlBefore = readFileSync(join(dir, 'crl.pem'), 'utf8');
  const r = await ok(['ca', 'migrate', '--dir', dir, '--to', url('castore')]);
  assert.match(r.stdout, /3 certificate\(s\), 0 adopted revocation\(s\) copied in one transaction/);
  assert.match(r.stdout, new RegExp(`postgres://castore:\\*\\*\\*@127\\.0\\.0\\.1:${pgs.port}/castore`));
  assert.ok(!existsSync(join(dir, 'inventory.json')));
  assert.ok(existsSync(join(dir, 'inventory.json.migrated')));
  assert.equal(statSync(join(dir, 'store.json')).mode & 0o777, 0o600);
  assert.equal(JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8')).url, url('castore'));
  assert.equal(sql('select count(*) from pgmoat.certificates'), '3');
  assert.equal(sql("select identity || ' ' || status || ' ' || reason from pgmoat.certificates where status = 'revoked'"), 'mallory revoked keyCompromise');
  assert.equal(sql('select schema_version from pgmoat.store_meta'), '1');
  // The same listing, from the store.
  assert.deepEqual(await listJson(dir), listedBefore);
  assert.equal((await ok(['list', '--dir', dir])).stdout, textBefore);
  assert.equal(readFileSync(join(dir, 'crl.pem'), 'utf8'), crlBefore, 'migrate itself does not re-sign the CRL');
});

test('on the store: issue writes a row, revoke writes it and NOTIFYs in the same transaction, crl.pem is rewritten; renew and export work', async () => {
  const listener = new pg.Client({ connectionString: url('castore') });
  await listener.connect();
  const heard: string[] = [];
  listener.on('notification', (n) => {
    if (n.channel === REVOCATION_CHANNEL && n.payload) heard.push(n.payload);
  });
  await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
  try {
    const issued = await ok(['issue', 'bob', '--env', 'production', '--dir', dir, '--out', out]);
    const bob = serialOf(issued.stdout);
    assert.equal(sql(`select identity || ' ' || environment || ' ' || kind || ' ' || status from pgmoat.certificates where serial = '${bob}'`), 'bob production client valid');
    assert.ok(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(out, 'bob.crt')]).ok);
    assert.ok(!existsSync(join(dir, 'inventory.json')), 'the file inventory is not written again');
    assert.deepEqual(heard, [], 'an issue sends no NOTIFY');

    const crlNumberBefore = Number(sql('select crl_number from pgmoat.ca_state'));
    await ok(['revoke', 'bob', '--dir', dir, '--reason', 'keyCompromise']);
    assert.equal(sql(`select status || ' ' || reason || ' ' || (revoked_at is not null) from pgmoat.certificates where serial = '${bob}'`), 'revoked keyCompromise true');
    assert.deepEqual(await waitFor('the NOTIFY', () => (heard.length > 0 ? heard : undefined)), [bob]);
    assert.equal(Number(sql('select crl_number from pgmoat.ca_state')), crlNumberBefore + 1);
    const crlText = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text']).out;
    assert.match(crlText, new RegExp(`Serial Number: ${bob.toUpperCase()}`));
    assert.match(crlText, new RegExp(`X509v3 CRL Number: \\n\\s+${crlNumberBefore + 1}\\b`));
    // The list the gateways read (REVOKED_LIST_SQL) holds it.
    assert.match(sql("select string_agg(serial, ',') from (select serial from pgmoat.certificates where status = 'revoked' union all select serial from pgmoat.adopted_revocations) s"), new RegExp(bob));

    const aliceOld = sql("select serial from pgmoat.certificates where identity = 'alice'");
    const renewed = await ok(['renew', 'alice', '--env', 'production', '--dir', dir, '--out', out]);
    const aliceNew = serialOf(renewed.stdout.split('\n').find((l) => /serial/.test(l) && !l.includes(aliceOld)) ?? renewed.stdout);
    assert.notEqual(aliceNew, aliceOld);
    assert.equal(sql(`select superseded_by from pgmoat.certificates where serial = '${aliceOld}'`), aliceNew);
    assert.equal(sql(`select status from pgmoat.certificates where serial = '${aliceNew}'`), 'valid');
    const exported = await ok(['export', '--cert', join(out, 'alice.crt'), '--key', join(out, 'alice.key'), '--format', 'libpq']);
    assert.match(exported.stdout, /sslcert=/);
    const listed = (await listJson(dir)) as { certificates: { name: string; serial: string; status: string; supersededBy: string | null }[] };
    assert.equal(listed.certificates.find((c) => c.serial === aliceOld)?.supersededBy, aliceNew);
    assert.equal(listed.certificates.find((c) => c.serial === bob)?.status, 'revoked');
    assert.deepEqual(heard, [bob], 'renew (without --revoke-old) revokes nothing');
  } finally {
    await listener.end();
  }
});

test('SHOW CERTS (the certificate catalog) lists the inventory from the store once the directory has migrated', async () => {
  // Only the gateway's side is stood in for (its settings and no pools): the store is the real one.
  const gateway = {
    runtime: { config: { renewal: { ca_dir: dir }, tls: { mode: 'disable' } }, clientTls: undefined },
    revocations: { lookup: () => undefined },
    pools: new Map(),
  } as unknown as CatalogGateway;
  const catalog = new CertificateCatalog(gateway);
  await catalog.refreshInventory();
  assert.equal(catalog.hasInventory(), true);
  const listed = catalog.list().filter((c) => c.source === 'inventory');
  assert.deepEqual(listed.map((c) => c.cn).sort(), sql("select string_agg(identity, ',' order by identity) from pgmoat.certificates").split(','));
  assert.equal(listed.find((c) => c.cn === 'bob')?.revoked, true);
});

test("the renewal service's standing check reads the store: a certificate revoked there is refused", async () => {
  const service = new RenewalService(await openCa(dir), { expiredGraceMs: 0 });
  const der = Uint8Array.from(pemDecodeOne(readFileSync(join(out, 'alice.crt'), 'utf8'), ['CERTIFICATE'], 'alice.crt'));
  const peer = await service.authenticate(der);
  assert.equal(peer.identity.cn, 'alice');
  // Revoked in the store only (crl.pem does not list it): the refusal can only come from the store.
  sql(`update pgmoat.certificates set status = 'revoked', revoked_at = now() where serial = '${peer.identity.serial}'`);
  await assert.rejects(service.authenticate(der), { code: 'RENEWAL_REVOKED' });
  sql(`update pgmoat.certificates set status = 'valid', revoked_at = null where serial = '${peer.identity.serial}'`);
});

test('pgmoat ca serve on a CA whose inventory is in the store: renew --remote writes the new row there; a revoke in the store is refused at once', async () => {
  const carolDir = join(work, 'carol');
  const issued = await ok(['issue', 'carol', '--env', 'production', '--dir', dir, '--out', carolDir]);
  const oldSerial = serialOf(issued.stdout);
  const serve = spawnPgmoat(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0']);
  let said = '';
  serve.stdout!.setEncoding('utf8').on('data', (d: string) => (said += d));
  serve.stderr!.setEncoding('utf8').on('data', (d: string) => (said += d));
  try {
    const port = await waitFor('ca serve listening', () => /"event":"renewal_listening".*?"port":(\d+)/.exec(said)?.[1], 30_000);
    const remote = ['renew', '--remote', `https://localhost:${port}`, '--cert', join(carolDir, 'carol.crt'), '--key', join(carolDir, 'carol.key'), '--ca', join(dir, 'ca.crt')];
    const renewed = await cli(remote);
    assert.equal(renewed.code, 0, renewed.stderr + said);
    const newSerial = sql("select serial from pgmoat.certificates where identity = 'carol' and superseded_by is null");
    assert.notEqual(newSerial, oldSerial);
    assert.equal(sql(`select superseded_by from pgmoat.certificates where serial = '${oldSerial}'`), newSerial);
    assert.equal(sql(`select environment || ' ' || status from pgmoat.certificates where serial = '${newSerial}'`), 'production valid');
    assert.equal(serialOf(`serial ${normalizeSerial(new X509Certificate(readFileSync(join(carolDir, 'carol.crt'))).serialNumber)}`), newSerial);
    assert.ok(!existsSync(join(dir, 'inventory.json')), 'the service wrote no file inventory');
    // Revoked through the CLI on the store: the running service refuses the next renewal.
    await ok(['revoke', 'carol', '--dir', dir, '--reason', 'keyCompromise']);
    const refused = await cli(remote);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /revoked/i);
  } finally {
    serve.kill('SIGTERM');
    await new Promise((r) => serve.once('exit', r));
  }
  assert.doesNotMatch(said, new RegExp(PASSWORD));
});

test('concurrent issues from several processes and two copies of the CA directory on one store: no lost entry, unique serials', async () => {
  const twin = join(work, 'ca-twin');
  cpSync(dir, twin, { recursive: true });
  const before = Number(sql('select count(*) from pgmoat.certificates'));
  const names = Array.from({ length: 8 }, (_, i) => `worker${i}`);
  // Each copy writes to its own --out, so that the only thing that can refuse the second is the store.
  const dup = (caDir: string, out: string): string[] => ['issue', 'dup', '--env', 'staging', '--out', join(work, out), '--dir', caDir];
  const [results, dups] = await Promise.all([
    Promise.all(names.map((n, i) => cli(['issue', n, '--env', 'staging', '--dir', i % 2 === 0 ? dir : twin, '--out', join(work, 'conc')]))),
    // One identity from both copies at once: the store lock makes the second see the first.
    Promise.all([cli(dup(dir, 'conc-dup-a')), cli(dup(twin, 'conc-dup-b'))]),
  ]);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(dups.map((r) => r.code).sort(), [0, 1], dups.map((r) => r.stderr).join('\n'));
  assert.match(dups.find((r) => r.code === 1)!.stderr, /"dup" already has a valid certificate in "staging"/);
  assert.equal(sql("select count(*) from pgmoat.certificates where identity = 'dup'"), '1');
  assert.equal(Number(sql('select count(*) from pgmoat.certificates')), before + names.length + 1);
  assert.equal(sql("select string_agg(identity, ',' order by identity) from pgmoat.certificates where environment = 'staging' and identity <> 'dup'"), names.join(','));
  assert.equal(sql('select count(distinct serial) = count(*) from pgmoat.certificates'), 't');
  for (const r of results) assert.equal(sql(`select count(*) from pgmoat.certificates where serial = '${serialOf(r.stdout)}'`), '1');
});

test('a CA transaction waits for the store lock another writer holds (pg_advisory_xact_lock), then goes on', async () => {
  const holder = new pg.Client({ connectionString: url('castore') });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query(`select pg_advisory_xact_lock(${STORE_LOCK_KEY})`);
    const issuing = cli(['issue', 'held', '--env', 'production', '--dir', dir, '--out', out]);
    await waitFor('the issue to wait on the advisory lock', () =>
      sql("select count(*) from pg_stat_activity where application_name = 'pgmoat-ca' and wait_event_type = 'Lock' and wait_event = 'advisory'") === '1' ? true : undefined,
    );
    assert.equal(sql("select count(*) from pgmoat.certificates where identity = 'held'"), '0');
    await holder.query('commit');
    const r = await issuing;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sql("select count(*) from pgmoat.certificates where identity = 'held'"), '1');
  } finally {
    await holder.end();
  }
});

test('a COMMIT that fails: the files written before it are put back, no row changes, no NOTIFY is delivered', async () => {
  // A deferred constraint trigger fails at COMMIT, after pgmoat wrote the rows and the files.
  sql(`create function pgmoat_test_fail() returns trigger language plpgsql as $$ begin raise exception 'refused at commit by the test'; end $$;
       create constraint trigger fail_at_commit after insert or update on pgmoat.certificates deferrable initially deferred for each row execute function pgmoat_test_fail();`);
  const listener = new pg.Client({ connectionString: url('castore') });
  await listener.connect();
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.payload ?? ''));
  await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
  const failOut = join(work, 'fail-out');
  try {
    const snap = snapshotDir(dir);
    const rows = sql("select string_agg(serial || status, ',' order by serial) from pgmoat.certificates");
    const revoked = await cli(['revoke', 'alice', '--dir', dir]);
    assert.equal(revoked.code, 1, revoked.stderr);
    assert.match(revoked.stderr, /the pgmoat store at postgres:\/\/castore:\*\*\*@.* failed: refused at commit by the test/);
    const issued = await cli(['issue', 'gina', '--env', 'production', '--dir', dir, '--out', failOut]);
    assert.equal(issued.code, 1, issued.stderr);
    assert.deepEqual(snapshotDir(dir), snap, 'crl.pem and every other file as before');
    assert.ok(!existsSync(join(failOut, 'gina.crt')) && !existsSync(join(failOut, 'gina.key')), 'the staged client files were removed');
    assert.equal(sql("select string_agg(serial || status, ',' order by serial) from pgmoat.certificates"), rows);
    // A NOTIFY of a transaction that rolled back is never delivered: one round trip on the listener flushes any.
    await listener.query('select 1');
    assert.deepEqual(heard, []);
  } finally {
    sql('drop trigger fail_at_commit on pgmoat.certificates; drop function pgmoat_test_fail();');
    await listener.end();
  }
});

test('the store down: a clear error, non-zero exit, no stack trace, the CA directory untouched', async () => {
  const snap = snapshotDir(dir);
  await pgs.stopServer();
  try {
    for (const args of [
      ['issue', 'carol', '--env', 'production', '--dir', dir, '--out', join(work, 'down')],
      ['revoke', 'alice', '--dir', dir],
      ['list', '--dir', dir],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`pgmoat: cannot reach the pgmoat store at postgres://castore:\\*\\*\\*@127\\.0\\.0\\.1:${pgs.port}/castore: .*ECONNREFUSED`));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    await pgs.start();
  }
  assert.deepEqual(snapshotDir(dir), snap);
});

test('a store that accepts TCP but never answers: the command gives up at connect_timeout', async () => {
  const held: Socket[] = [];
  const silent: Server = createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const d = join(work, 'ca-silent');
  await ok(['init', '--dir', d]);
  const snap = snapshotDir(d);
  try {
    const r = await cli(['ca', 'migrate', '--dir', d, '--to', `postgres://castore:${PASSWORD}@127.0.0.1:${port}/x?connect_timeout=1`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot reach the pgmoat store at postgres:\/\/castore:\*\*\*@127\.0\.0\.1:\d+\/x\?connect_timeout=1: .*timeout/i);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }
  assert.deepEqual(snapshotDir(d), snap);
});

test('migrate again: nothing to do; after a crash between COMMIT and store.json, or between store.json and the rename, it finishes', async () => {
  const again = await ok(['ca', 'migrate', '--dir', dir, '--to', url('castore')]);
  assert.match(again.stdout, /Finished migrating/);
  assert.ok(!existsSync(join(dir, 'inventory.json')));

  const d = join(work, 'ca-crash');
  await ok(['init', '--dir', d]);
  await ok(['issue', 'dave', '--env', 'production', '--dir', d, '--out', out]);
  await ok(['ca', 'migrate', '--dir', d, '--to', url('crash')]);
  // The state a kill right after COMMIT leaves: the rows are in, the directory does not know.
  unlinkSync(join(d, 'store.json'));
  renameSync(join(d, 'inventory.json.migrated'), join(d, 'inventory.json'));
  assert.equal((await ok(['list', '--dir', d])).stdout.includes('dave'), true, 'the directory still works on its own');
  const resumed = await ok(['ca', 'migrate', '--dir', d, '--to', url('crash')]);
  assert.match(resumed.stdout, /already in the store \(an earlier run copied them\)/);
  assert.ok(existsSync(join(d, 'store.json')) && !existsSync(join(d, 'inventory.json')));
  // The state a kill between store.json and the rename leaves.
  copyFileSync(join(d, 'inventory.json.migrated'), join(d, 'inventory.json'));
  await ok(['ca', 'migrate', '--dir', d, '--to', url('crash')]);
  assert.ok(!existsSync(join(d, 'inventory.json')));
  assert.equal(sql('select count(*) from pgmoat.certificates', 'crash'), '2');

  // Used on its own after the crash, the directory's inventory differs from the store's: refused.
  unlinkSync(join(d, 'store.json'));
  renameSync(join(d, 'inventory.json.migrated'), join(d, 'inventory.json'));
  await ok(['issue', 'erin', '--env', 'production', '--dir', d, '--out', out]);
  const snap = snapshotDir(d);
  const refused = await cli(['ca', 'migrate', '--dir', d, '--to', url('crash')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already holds this CA's inventory and it differs/);
  assert.deepEqual(snapshotDir(d), snap);
});

test("another CA's directory is refused by a store that holds a CA; a directory already on a store is not moved to another", async () => {
  const d = join(work, 'ca-other');
  await ok(['init', '--dir', d]);
  const snap = snapshotDir(d);
  const r = await cli(['ca', 'migrate', '--dir', d, '--to', url('castore')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds the inventory of another CA/);
  assert.deepEqual(snapshotDir(d), snap);
  const moved = await cli(['ca', 'migrate', '--dir', dir, '--to', url('other')]);
  assert.equal(moved.code, 1);
  assert.match(moved.stderr, /already keeps its inventory in the pgmoat store at postgres:\/\/castore:\*\*\*@/);
  assert.equal(sql("select to_regclass('pgmoat.certificates') is null", 'other'), 't');
});

test('a store made by a newer pgmoat is refused with a clear message', async () => {
  const d = join(work, 'ca-newer');
  await ok(['init', '--dir', d]);
  await ok(['ca', 'migrate', '--dir', d, '--to', url('newer')]);
  sql('update pgmoat.store_meta set schema_version = 99', 'newer');
  const r = await cli(['list', '--dir', d]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has schema version 99, this pgmoat knows version 1; upgrade pgmoat/);
});

test('a password file is used and recorded instead of the password; a bad URL is a usage error', async () => {
  const d = join(work, 'ca-pwfile');
  await ok(['init', '--dir', d]);
  const pw = join(work, 'pw');
  await import('node:fs').then((fs) => fs.writeFileSync(pw, `${PASSWORD}\n`, { mode: 0o600 }));
  sql('create database pwfile owner castore', 'postgres');
  await ok(['ca', 'migrate', '--dir', d, '--to', `postgres://castore@127.0.0.1:${pgs.port}/pwfile`, '--password-file', pw]);
  assert.doesNotMatch(readFileSync(join(d, 'store.json'), 'utf8'), new RegExp(PASSWORD));
  await ok(['issue', 'frank', '--env', 'production', '--dir', d, '--out', out]);
  const bad = await cli(['ca', 'migrate', '--dir', d, '--to', `mysql://castore:${PASSWORD}@x/y`]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--to must be a postgres:\/\/ URL/);
});

test('init --store: a new CA whose inventory starts in the store; a store that holds a CA leaves no directory behind', async () => {
  const d = join(work, 'ca-init-store');
  const r = await ok(['init', '--dir', d, '--store', url('initdb')]);
  assert.match(r.stdout, /store\.json\s+every certificate issued is kept in the pgmoat store at postgres:\/\/castore:\*\*\*@/);
  assert.ok(existsSync(join(d, 'store.json')) && !existsSync(join(d, 'inventory.json')));
  assert.equal(sql("select kind || ' ' || identity from pgmoat.certificates", 'initdb'), 'server localhost');
  await ok(['issue', 'henry', '--env', 'production', '--dir', d, '--out', out]);
  assert.equal(sql('select count(*) from pgmoat.certificates', 'initdb'), '2');
  await ok(['crl', '--dir', d]);
  assert.equal(sql('select crl_number from pgmoat.ca_state', 'initdb'), '2');

  const refused = join(work, 'ca-init-refused');
  const again = await cli(['init', '--dir', refused, '--store', url('initdb')]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a CA's inventory; a store holds one CA/);
  assert.ok(!existsSync(refused), 'nothing created');
});

test('a two-level CA on the store: issue-server, rotate-intermediate, and a revoke of a certificate of the retired intermediate', async () => {
  const d = join(work, 'ca-two');
  await ok(['init', '--dir', d, '--intermediate', '--store', url('twolevel')]);
  const old = serialOf((await ok(['issue', 'ivan', '--env', 'production', '--dir', d, '--out', out])).stdout);
  await ok(['issue-server', '--dir', d]);
  assert.equal(sql("select count(*) from pgmoat.certificates where kind = 'server'", 'twolevel'), '2');
  assert.equal(sql("select count(*) from pgmoat.certificates where kind = 'server' and superseded_by is not null", 'twolevel'), '1');
  await ok(['ca', 'rotate-intermediate', '--dir', d]);
  await ok(['revoke', old, '--dir', d]);
  assert.equal(sql(`select status from pgmoat.certificates where serial = '${old}'`, 'twolevel'), 'revoked');
  // crl.pem holds one CRL per intermediate in force: the retired one's lists it.
  const blocks = readFileSync(join(d, 'crl.pem'), 'utf8').match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n/g) ?? [];
  assert.ok(blocks.length >= 2, 'one CRL per intermediate');
  assert.match(blocks.map((b) => openssl(['crl', '-noout', '-text'], b).out).join('\n'), new RegExp(`Serial Number: ${old.toUpperCase()}`));
  assert.ok(!existsSync(join(d, 'inventory.json')));
});

test('the password never appears in any output', () => {
  assert.ok(outputs.length > 20);
  for (const r of outputs) {
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), `${r.stdout}\n${r.stderr}`);
  }
});
