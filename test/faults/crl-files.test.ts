/**
 * What may land on crl.pem while the gateway runs, put there the two ways files get replaced: by
 * an atomic rename (what `pgmoat revoke` and most deploy tools do) and by an in-place overwrite
 * (truncate, then write: `cp`, a config-management tool, an editor). None of these may un-revoke
 * a certificate:
 *
 * - a truncated CRL, a garbage file, a CRL signed by a foreign CA (one with the real CA's name,
 *   forging a higher CRL number and an empty list), the CA's own older CRL (from before the
 *   revocation), and a CRL of the real CA with the number in force but other contents.
 *
 * After each, the certificate revoked before stays refused (node-postgres and psql), the refusal
 * is logged as an error, and a newer valid CRL is then picked up. Then the same older CRL is
 * refused by a SIGHUP reload, and by a restarted `pgmoat serve` (it remembered the newest CRL in
 * crl-state.json beside crl.pem), which does not start and says how to fix it. Where the state
 * cannot be written, the gateway warns once and still refuses the older CRL while it runs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, writeConfig, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { assertLoggedIn, assertRefused, events, pgLogin, tlsSection, upstreamDb, waitFor } from '../access/helpers.js';
import { initCa, openCa, readInventory, writeCrl } from '../../src/ca/index.js';
import { buildCrl } from '../../src/ca/crl.js';
import { loadConfig } from '../../src/config/load.js';
import { buildRuntimeConfig } from '../../src/runtime/runtime-config.js';
import { reloadGateway } from '../../src/admin/reload.js';
import { isPgmoatError } from '../../src/util/errors.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let deployDir: string;
/** The gateway's tls.crl: a deployed copy of the CA's crl.pem. */
let crlPath: string;
let statePath: string;
/** The CA's CRL number 1, signed by `pgmoat init` before anything was revoked. */
let olderCrl: string;
/** A CA named like the real one, with its own key. */
let imposterDir: string;
let revoked: ClientFiles;
let good: ClientFiles;
const victims: ClientFiles[] = [];
/** BAD_FILES.length: one victim revoked per bad file and method, one more for the last test. */
const BAD_FILE_COUNT = 5;

type Method = 'rename' | 'in place';

/** Puts `content` at crl.pem the way a deploy step would. */
function deploy(content: string | Buffer, method: Method): void {
  if (method === 'rename') {
    const tmp = join(deployDir, `.crl.pem.${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, content);
    renameSync(tmp, crlPath);
  } else {
    writeFileSync(crlPath, content); // O_TRUNC then write: a reader may see it empty or half-written
  }
}

/** Refused as revoked by node-postgres and by psql. */
async function assertRevoked(c: ClientFiles): Promise<void> {
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c }), '28000', 'client certificate has been revoked');
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: c }), 'SELECT 1');
  assert.notEqual(r.code, 0, 'psql logged in with a revoked certificate');
  assert.match(r.stderr, /FATAL: {2}client certificate has been revoked/);
}

function caCrlNumber(): number {
  return readInventory(pki.main.dir).crlNumber;
}

before(async () => {
  pki = await makePki();
  olderCrl = pki.crlPem();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  good = await pki.client('app');
  revoked = await pki.client('app');
  for (let i = 0; i < BAD_FILE_COUNT * 2 + 1; i++) victims.push(await pki.client('app'));
  await pki.revoke(revoked.serial);
  assert.equal(caCrlNumber(), 2);
  imposterDir = join(pki.dir, 'imposter');
  await initCa({ dir: imposterDir, caName: 'pgmoat test CA', keyType: 'ec-p256', hosts: ['localhost'] });
  deployDir = join(pki.dir, 'deploy');
  mkdirSync(deployDir);
  crlPath = join(deployDir, 'crl.pem');
  statePath = join(deployDir, 'crl-state.json');
  copyFileSync(pki.crlPath, crlPath);
  gw = await startGateway({ tls: tlsSection(pki, { crl: crlPath }), databases: { appdb: upstreamDb(upstream, 'appdb', { pool_size: 4 }) } });
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

test('at start: the revoked certificate is refused, the state file records CRL number 2 (0600)', async () => {
  await assertRevoked(revoked);
  assertLoggedIn(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: good }), 'app');
  assert.ok(existsSync(statePath), 'crl-state.json beside crl.pem');
  assert.equal(statSync(statePath).mode & 0o777, 0o600);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { marks: { issuer: string; crl_number: string }[] };
  assert.deepEqual(state.marks.map((m) => [m.issuer, m.crl_number]), [['CN=pgmoat test CA, O=pgmoat', '2']]);
});

interface BadFile {
  name: string;
  content: () => Promise<string | Buffer>;
  /** The `code` of the crl_reload_failed line. */
  code: string;
  reasonCode?: string;
}

const BAD_FILES: BadFile[] = [
  { name: 'a truncated CRL', content: async () => pki.crlPem().slice(0, Math.floor(pki.crlPem().length * 0.6)), code: 'CRL_INVALID' },
  { name: 'a garbage file', content: async () => randomBytes(700), code: 'CRL_INVALID' },
  {
    name: "a CRL signed by a foreign CA with the real CA's name (higher number, nothing revoked)",
    content: async () => (await buildCrl(await openCa(imposterDir), { entries: [], crlNumber: 999, days: 7 })).pem,
    code: 'CRL_UNTRUSTED',
  },
  { name: "the CA's older CRL, from before the revocation", content: async () => olderCrl, code: 'CRL_ROLLBACK', reasonCode: 'older-number' },
  {
    name: 'a CRL of the real CA with the number in force but other contents',
    content: async () => (await buildCrl(pki.main.authority, { entries: [], crlNumber: caCrlNumber(), days: 7 })).pem,
    code: 'CRL_ROLLBACK',
    reasonCode: 'conflict',
  },
];

assert.equal(BAD_FILES.length, BAD_FILE_COUNT);

for (const method of ['rename', 'in place'] as const) {
  for (const bad of BAD_FILES) {
    test(`${bad.name}, put in place by ${method}: refused and logged as an error; a newer CRL is then accepted`, { timeout: 60_000 }, async () => {
      const reloadsBefore = events(gw, 'crl_reloaded').length;
      const errorsBefore = events(gw, 'crl_reload_failed').length;
      deploy(await bad.content(), method);
      await waitFor(() => events(gw, 'crl_reload_failed').slice(errorsBefore).some((l) => l.code === bad.code), `a crl_reload_failed line with code ${bad.code}`);
      const line = events(gw, 'crl_reload_failed').slice(errorsBefore).find((l) => l.code === bad.code)!;
      assert.equal(line.level, 50, 'logged as an error');
      assert.equal(line.path, crlPath);
      if (bad.reasonCode) {
        const number = String(caCrlNumber());
        assert.equal(line.reason_code, bad.reasonCode);
        assert.equal(line.crl_number_in_force, number);
        assert.equal(line.crl_number_offered, bad.reasonCode === 'conflict' ? number : '1');
        assert.match(String(line.reason), /pgmoat crl --dir/);
      }
      assert.equal(events(gw, 'crl_reloaded').length, reloadsBefore, 'nothing was reloaded');
      await assertRevoked(revoked);
      assertLoggedIn(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: good }), 'app');

      // The CA revokes one more certificate; its CRL, deployed the same way, is taken.
      const victim = victims.shift()!;
      await pki.revoke(victim.serial);
      const reloads = events(gw, 'crl_reloaded').length;
      deploy(pki.crlPem(), method);
      await waitFor(
        () => events(gw, 'crl_reloaded').slice(reloads).some((l) => (l.newly_revoked as string[]).includes(victim.serial)),
        'the newer CRL to be loaded',
      );
      const reloaded = events(gw, 'crl_reloaded').slice(reloads).find((l) => (l.newly_revoked as string[]).includes(victim.serial))!;
      assert.equal(reloaded.unrevoked, 0);
      assert.deepEqual(reloaded.crl_numbers, [String(caCrlNumber())]);
      await assertRevoked(victim);
      await assertRevoked(revoked);
      assert.equal(gw.gateway.runtime.revocation.crls[0]?.crlNumber, BigInt(caCrlNumber()));
    });
  }
}

test('a SIGHUP reload with the older CRL is refused whole, and the newer list stays', async () => {
  const log = pino({ level: 'silent' });
  deploy(olderCrl, 'rename');
  await assert.rejects(reloadGateway(gw.gateway, log, 'SIGHUP'), (err: Error) => {
    assert.ok(isPgmoatError(err) && err.code === 'RELOAD_REFUSED');
    assert.match(err.message, new RegExp(`${crlPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is older than the CRL in force for "CN=pgmoat test CA, O=pgmoat": it has CRL number 1, .* has CRL number ${caCrlNumber()},`));
    return true;
  });
  await assertRevoked(revoked);
  deploy(pki.crlPem(), 'rename');
  await reloadGateway(gw.gateway, log, 'SIGHUP');
  await assertRevoked(revoked);
});

function serve(configPath: string): Promise<{ code: number; output: string }> {
  const root = new URL('../..', import.meta.url).pathname;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve', '--config', configPath], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output: stdout + stderr });
    });
  });
}

test('a restarted gateway given the older CRL refuses to start, naming the file, both numbers and the fix', { timeout: 60_000 }, async () => {
  const inForce = caCrlNumber();
  await gw.stop();
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { marks: { crl_number: string }[] };
  assert.equal(state.marks[0]!.crl_number, String(inForce), 'the state file followed every accepted CRL');
  deploy(olderCrl, 'rename');
  const dir = join(pki.dir, 'restart');
  mkdirSync(dir);
  const configPath = writeConfig(dir, { listen: { host: '127.0.0.1', port: await freePort() }, tls: tlsSection(pki, { crl: crlPath }), databases: { appdb: upstreamDb(upstream, 'appdb') } });

  const r = await serve(configPath);
  assert.equal(r.code, 1, r.output);
  assert.match(r.output, /^pgmoat: /m);
  assert.ok(r.output.includes(`${crlPath} is older than the CRL in force`), r.output);
  assert.ok(r.output.includes('it has CRL number 1, thisUpdate'), r.output);
  assert.ok(r.output.includes(`has CRL number ${inForce}, thisUpdate`), r.output);
  assert.ok(r.output.includes(`recorded in ${statePath}`), r.output);
  assert.ok(r.output.includes('pgmoat crl --dir'), r.output);
  assert.ok(!r.output.includes('"event":"listening"'), 'it never listened');

  // The newest CRL back: it starts, and the revoked certificate is still refused.
  deploy(pki.crlPem(), 'in place');
  gw = await startGateway({ tls: tlsSection(pki, { crl: crlPath }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
  await assertRevoked(revoked);
  // A CRL re-signed by the CA (pgmoat crl) is newer: accepted at start.
  await gw.stop();
  await writeCrl(pki.main.authority);
  copyFileSync(pki.crlPath, crlPath);
  const rc = await buildRuntimeConfig(await loadConfig(configPath));
  assert.equal(rc.revocation.crls[0]?.crlNumber, BigInt(caCrlNumber()));
  gw = await startGateway({ tls: tlsSection(pki, { crl: crlPath }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
  await assertRevoked(revoked);
});

test('a state file that cannot be written: one warning, and the older CRL is still refused while the gateway runs', { timeout: 60_000 }, async (t) => {
  // As root, file modes do not stop a write; /sys is read-only (EACCES / EROFS) in the usual container.
  const unwritable = '/sys/pgmoat-crl-state.json';
  try {
    writeFileSync(unwritable, '{}', { flag: 'wx' });
    t.skip('/sys is writable here');
    return;
  } catch {
    // expected
  }
  await gw.stop();
  gw = await startGateway({ tls: tlsSection(pki, { crl: crlPath, crl_state_file: unwritable }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
  const warnings = events(gw, 'crl_state_unwritable');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.level, 40);
  assert.equal(warnings[0]!.path, unwritable);

  const errorsBefore = events(gw, 'crl_reload_failed').length;
  deploy(olderCrl, 'rename');
  await waitFor(() => events(gw, 'crl_reload_failed').slice(errorsBefore).some((l) => l.code === 'CRL_ROLLBACK'), 'the older CRL to be refused');
  assert.match(String(events(gw, 'crl_reload_failed').at(-1)!.reason), /held in memory/);
  await assertRevoked(revoked);

  const victim = victims.shift()!;
  await pki.revoke(victim.serial);
  const reloads = events(gw, 'crl_reloaded').length;
  deploy(pki.crlPem(), 'rename');
  await waitFor(() => events(gw, 'crl_reloaded').length > reloads, 'the newer CRL');
  await assertRevoked(victim);
  assert.equal(events(gw, 'crl_state_unwritable').length, 1, 'warned once, not at every CRL');
});
