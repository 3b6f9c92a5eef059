/**
 * Reload on change, client side: the gateway follows tls.cert, tls.key and tls.ca as they are
 * rewritten in place, without a SIGHUP. Under pgbench load (a new mutual-TLS connection per
 * transaction) the server pair is replaced in both orders with a pause between the two files:
 * no transaction fails, new handshakes show the new certificate once both files agree, and while
 * only one half is new the old pair keeps serving. A pair that does not match, a file cut short,
 * garbage, an expired or an older certificate are never loaded; a new CA bundle lets a client of
 * the new CA in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { initCa, issueClient, openCa } from '../../src/ca/index.js';
import { signServerCertificate } from '../../src/ca/issue-server.js';
import { parseHosts } from '../../src/ca/inputs.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { APP_SETUP_SQL, logEvents, nodeSsl, plainUpstream, waitFor } from './helpers.js';
import { servedFingerprint as fingerprintAt } from '../harness/tls-probe.js';

let pki: Pki;
let upstream: PgServer;
let gw: RunningGateway;
let app: ClientFiles;
let tlsDir: string;
let certPath: string;
let keyPath: string;
let caPath: string;

interface Pair {
  certPem: string;
  keyPem: string;
  fingerprint: string;
}

const HOSTS = parseHosts(['localhost', '127.0.0.1', '::1']);

async function newPair(now = new Date(), days?: number): Promise<Pair> {
  const ca = pki.main.authority;
  const s = await signServerCertificate(ca, { hosts: HOSTS, keyType: 'ec-p256', now, defaultLifetime: ca.defaults.server, chainPem: ca.chainPem, ...(days !== undefined ? { days } : {}) });
  const { X509Certificate } = await import('node:crypto');
  return { certPem: s.certPem, keyPem: s.keyPem, fingerprint: new X509Certificate(s.certPem).fingerprint256 };
}

/** In place, as a tool that truncates and writes would: the watch may see the file half-written. */
function writeCert(pem: string): void {
  writeFileSync(certPath, pem);
}
function writeKey(pem: string): void {
  writeFileSync(keyPath, pem, { mode: 0o600 });
}

const servedFingerprint = (): Promise<string> => fingerprintAt(gw.port, app, pki.main.caPem, ['postgresql']);

async function waitServed(fingerprint: string, what: string): Promise<void> {
  await waitFor(async () => (await servedFingerprint()) === fingerprint, what, 15_000);
}

function refusals(code: string): Record<string, unknown>[] {
  return logEvents(gw, 'tls_reload_refused').filter((l) => l.code === code);
}

let current: Pair;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  tlsDir = mkdtempSync(join(tmpdir(), 'pgmoat-tls-reload-'));
  chmodSync(tlsDir, 0o700);
  certPath = join(tlsDir, 'server.crt');
  keyPath = join(tlsDir, 'server.key');
  caPath = join(tlsDir, 'ca.crt');
  copyFileSync(pki.server.certPath, certPath);
  writeFileSync(keyPath, pki.server.keyPem, { mode: 0o600 });
  copyFileSync(pki.main.caPath, caPath);
  const { X509Certificate } = await import('node:crypto');
  current = { certPem: pki.server.certPem, keyPem: pki.server.keyPem, fingerprint: new X509Certificate(pki.server.certPem).fingerprint256 };
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: certPath, key: keyPath, ca: caPath, crl: pki.crlPath },
    pool_mode: 'transaction',
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
  });
});

after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function pgbench(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<Run> } {
  let child!: ChildProcess;
  const done = new Promise<Run>((resolve) => {
    child = execFile(pgTool('pgbench'), args, { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  return { child, done };
}

test('the server pair replaced under pgbench -C load, cert first then key first: no failed transaction, the old pair serves until both agree', async () => {
  const init = await pgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb']).done;
  assert.equal(init.code, 0, init.stderr);
  const env = { PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath, PGCONNECT_TIMEOUT: '10' };
  const run = pgbench(['-C', '-c', '4', '-T', '15', '-n', '-h', '127.0.0.1', '-p', String(gw.port), '-U', 'app', 'appdb'], env);
  let finished = false;
  void run.done.then(() => (finished = true));
  // pgbench is connecting through the gateway.
  await waitFor(() => (gw.gateway.pools.get('appdb/app')?.stats.serverConnects ?? 0) > 0, 'pgbench to connect');

  const orders: Array<'cert first' | 'key first'> = ['cert first', 'key first'];
  for (const order of orders) {
    const next = await newPair();
    if (order === 'cert first') writeCert(next.certPem);
    else writeKey(next.keyPem);
    // Half replaced: the watch sees a pair that does not match, and the old pair keeps serving.
    const mismatches = refusals('KEY_MISMATCH').length;
    await waitFor(() => refusals('KEY_MISMATCH').length > mismatches, `${order}: the half-replaced pair to be refused`);
    for (let i = 0; i < 5; i++) assert.equal(await servedFingerprint(), current.fingerprint, `${order}: the old pair serves while one half is new`);
    await sleep(500);
    assert.equal(await servedFingerprint(), current.fingerprint, `${order}: still the old pair after the pause`);
    if (order === 'cert first') writeKey(next.keyPem);
    else writeCert(next.certPem);
    await waitServed(next.fingerprint, `${order}: new handshakes to get the new certificate`);
    current = next;
  }
  assert.equal(finished, false, 'pgbench ran until both replacements were done (otherwise the load proved nothing)');
  const r = await run.done;
  assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
  assert.doesNotMatch(r.stderr, /error|FATAL|abort/i);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  if (failed) assert.equal(failed[1], '0');
  const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  assert.ok(processed && Number(processed[1]) > 0, r.stdout);
  console.log(`# pgbench -C -c 4 -T 15 across both replacements: ${processed![1]} transactions, ${failed?.[1] ?? 0} failed`);
  // Each change applied is one info line with the new certificate's facts.
  const applied = logEvents(gw, 'tls_files_reloaded');
  assert.equal(applied.length, 2, JSON.stringify(applied));
  assert.equal(applied[1]!.fingerprint256, current.fingerprint);
  assert.match(String(applied[1]!.serial), /^[0-9a-f]+$/);
  assert.ok(!Number.isNaN(Date.parse(String(applied[1]!.not_after))));
});

test('a mismatched pair is never loaded (warned once, also across retries); the matching key, written later, is', async () => {
  const b = await newPair();
  const c = await newPair();
  const before = refusals('KEY_MISMATCH').length;
  // Both files written, but the key belongs to another certificate.
  writeKey(c.keyPem);
  writeCert(b.certPem);
  await waitFor(() => refusals('KEY_MISMATCH').length > before, 'the mismatched pair to be refused');
  const logged = refusals('KEY_MISMATCH').length;
  // Longer than the retry interval (2 s): the set is read again, and not logged again.
  await sleep(2_600);
  assert.equal(refusals('KEY_MISMATCH').length, logged, 'one warning for one state of the files');
  assert.equal(await servedFingerprint(), current.fingerprint);
  // A reload (SIGHUP, RELOAD) reading the same files is refused whole, with the same code.
  await assert.rejects(gw.reload(), (err: Error & { code?: string }) => err.code === 'KEY_MISMATCH');
  assert.equal(await servedFingerprint(), current.fingerprint);
  writeKey(b.keyPem);
  await waitServed(b.fingerprint, 'the pair to be loaded once the key matches');
  current = b;
});

test('a certificate cut short and a key of garbage are not loaded; the whole pair then is', async () => {
  const d = await newPair();
  const invalid = refusals('CERT_INVALID').length;
  writeCert(d.certPem.slice(0, Math.floor(d.certPem.length / 2)));
  await waitFor(() => refusals('CERT_INVALID').length > invalid, 'the half-written certificate to be refused');
  assert.equal(await servedFingerprint(), current.fingerprint);
  const badKey = refusals('KEY_INVALID').length;
  writeCert(d.certPem);
  writeKey('-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
  await waitFor(() => refusals('KEY_INVALID').length > badKey, 'the garbage key to be refused');
  assert.equal(await servedFingerprint(), current.fingerprint);
  writeKey(d.keyPem);
  await waitServed(d.fingerprint, 'the whole pair to be loaded');
  current = d;
});

test('an expired certificate and one older than the one in force are refused with their codes, as errors', async () => {
  const expired = await newPair(new Date(Date.now() - 3 * 86_400_000), 1);
  writeKey(expired.keyPem);
  writeCert(expired.certPem);
  await waitFor(() => refusals('TLS_CERT_EXPIRED').length > 0, 'the expired certificate to be refused');
  assert.equal(refusals('TLS_CERT_EXPIRED')[0]!.level, 50, 'logged as an error');
  assert.equal(await servedFingerprint(), current.fingerprint);
  const older = await newPair(new Date(Date.now() - 3_600_000));
  writeKey(older.keyPem);
  writeCert(older.certPem);
  await waitFor(() => refusals('TLS_CERT_ROLLBACK').length > 0, 'the older certificate to be refused');
  assert.equal(refusals('TLS_CERT_ROLLBACK')[0]!.level, 50, 'logged as an error');
  assert.equal(await servedFingerprint(), current.fingerprint);
  // Put a good pair back for the next test.
  const e = await newPair();
  writeKey(e.keyPem);
  writeCert(e.certPem);
  await waitServed(e.fingerprint, 'a current pair to be loaded again');
  current = e;
});

test('a key readable by others is refused (0600 rule), then loaded once it is private', async () => {
  const f = await newPair();
  writeFileSync(keyPath, f.keyPem);
  chmodSync(keyPath, 0o644);
  writeCert(f.certPem);
  await waitFor(() => refusals('KEY_PERMISSIONS').length > 0, 'the readable key to be refused');
  assert.equal(await servedFingerprint(), current.fingerprint);
  chmodSync(keyPath, 0o600);
  await waitServed(f.fingerprint, 'the pair to be loaded once the key is 0600');
  current = f;
});

test('tls.ca replaced: a client of a new CA connects once the bundle includes it, and clients of the old CA still do', async () => {
  const otherDir = join(tlsDir, 'other-ca');
  await initCa({ dir: otherDir, caName: 'second test CA', keyType: 'ec-p256' });
  const other = await openCa(otherDir);
  const issued = await issueClient(other, { name: 'app', environment: 'production', outDir: join(tlsDir, 'other-client'), allowDuplicate: true });
  const ssl = { cert: issued.certPem, key: issued.keyPem!, ca: pki.main.caPem };
  const query = async (s: { cert: string; key: string; ca: string }): Promise<string> => {
    const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: s, connectionTimeoutMillis: 10_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return String((await c.query('SELECT 1 AS one')).rows[0].one);
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  await assert.rejects(query(ssl), 'a client of a CA the gateway does not trust yet is refused');
  writeFileSync(caPath, `${pki.main.caPem.trimEnd()}\n${issued.caPem.trimEnd()}\n`);
  await waitFor(async () => (await query(ssl).catch(() => '')) === '1', 'the client of the new CA to connect');
  assert.equal(await query(nodeSsl(app)), '1');
  const line = logEvents(gw, 'tls_files_reloaded').at(-1)!;
  assert.deepEqual(line.changed, ['ca']);
});
