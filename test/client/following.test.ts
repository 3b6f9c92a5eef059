/**
 * sslFollowingFiles: a node-postgres Pool and a postgres.js pool keep running queries while the
 * certificate and key files are renewed in place several times, the way an agent replaces them
 * (the key first, then after a pause the certificate, each by rename). New connections take the
 * new pair, no query fails, and a half-replaced pair is never used. Against a real PostgreSQL
 * that demands a client certificate (`cert clientcert=verify-full`), which reports the serial
 * of each connection's certificate in pg_stat_ssl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import postgres from 'postgres';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { PgmoatClientError, sslFollowingFiles, type CertificateInUse } from '@pgmoat/client';

let pki: Pki;
let server: PgServer;
let dir: string;
let env: Record<string, string>;

/** Writes a file as an agent does: a temporary name in the same directory, then rename. */
function replace(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function install(c: ClientFiles): void {
  replace(env.PGSSLKEY!, c.keyPem, 0o600);
  replace(env.PGSSLCERT!, c.certPem, 0o644);
}

/** pg_stat_ssl's client_serial is decimal; the inventory's serial is hex. */
const decimal = (hexSerial: string): string => BigInt(`0x${hexSerial}`).toString();

async function waitFor(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

before(async () => {
  pki = await makePki();
  server = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: 'local all all trust\nhostssl all all 127.0.0.1/32 cert clientcert=verify-full\n',
    setupSql: 'CREATE ROLE alice LOGIN',
  });
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-follow-'));
  env = { PGSSLCERT: join(dir, 'alice.crt'), PGSSLKEY: join(dir, 'alice.key'), PGSSLROOTCERT: pki.main.caPath };
  install(await pki.client('alice'));
});

after(async () => {
  await server?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sslFollowingFiles', () => {
  it('a half-replaced pair is not taken; the last good pair stays until the other half arrives', async () => {
    const first = await pki.client('alice');
    install(first);
    const errors: PgmoatClientError[] = [];
    const changes: CertificateInUse[] = [];
    const ssl = sslFollowingFiles(env, { onError: (e) => errors.push(e), onChange: (now) => changes.push(now) });
    assert.equal(ssl.current.serial, first.serial);
    assert.equal(ssl.refresh(), false, 'nothing changed');

    const next = await pki.client('alice');
    replace(env.PGSSLKEY!, next.keyPem, 0o600);
    assert.equal(ssl.refresh(), false, 'the new key with the old certificate is not a pair');
    assert.deepEqual(errors.map((e) => e.code), ['KEY_MISMATCH']);
    assert.equal(ssl.current.serial, first.serial);
    assert.equal(ssl.refresh(), false, 'the same files are not tried twice');
    assert.equal(errors.length, 1);

    replace(env.PGSSLCERT!, 'not a certificate\n', 0o644);
    assert.equal(ssl.refresh(), false);
    assert.equal(errors.at(-1)?.code, 'NOT_PEM');

    replace(env.PGSSLCERT!, next.certPem, 0o644);
    assert.equal(ssl.refresh(), true);
    assert.equal(ssl.current.serial, next.serial);
    assert.deepEqual(changes.map((c) => c.serial), [next.serial]);
    assert.deepEqual(Object.keys(ssl).sort(), ['rejectUnauthorized', 'secureContext'], 'only what tls.connect takes is enumerable');
  });

  it('refuses the base64 variables, whose values cannot change under a running process', () => {
    assert.throws(() => sslFollowingFiles({ ...env, PGCLIENT_CERT_B64: 'eA==' }), (e: unknown) => e instanceof PgmoatClientError && e.code === 'FOLLOW_NEEDS_FILES');
  });

  it('the first load fails as sslFromEnv does (a mismatched pair throws)', async () => {
    const other = await pki.client('alice');
    const saved = await pki.client('alice');
    install(saved);
    replace(env.PGSSLKEY!, other.keyPem, 0o600);
    assert.throws(() => sslFollowingFiles(env), (e: unknown) => e instanceof PgmoatClientError && e.code === 'KEY_MISMATCH');
    install(saved);
  });

  it('a node-postgres Pool and a postgres.js pool keep running across three renewals, with no failed query', { timeout: 180_000 }, async () => {
    install(await pki.client('alice'));
    const errors: PgmoatClientError[] = [];
    const ssl = sslFollowingFiles(env, { onError: (e) => errors.push(e) });
    const conn = { host: '127.0.0.1', port: server.port, user: 'alice', database: 'postgres' };
    // Short connection lifetimes, so that the pools open new connections while the test runs.
    const pgPool = new pg.Pool({ ...conn, ssl, max: 3, maxLifetimeSeconds: 1 });
    const sql = postgres({ ...conn, ssl, max: 3, max_lifetime: 1, onnotice: () => undefined });
    const seen = { pg: new Set<string>(), js: new Set<string>() };
    const failures: string[] = [];
    let stop = false;
    let queries = 0;
    const loop = async (run: () => Promise<string>, into: Set<string>): Promise<void> => {
      while (!stop && queries < 200_000) {
        try {
          into.add(await run());
          queries++;
        } catch (err) {
          failures.push((err as Error).message);
          await sleep(10);
        }
      }
    };
    const SERIAL = 'SELECT client_serial::text AS serial FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    const loops = [
      loop(async () => (await pgPool.query<{ serial: string }>(SERIAL)).rows[0]!.serial, seen.pg),
      loop(async () => (await sql.unsafe<{ serial: string }[]>(SERIAL))[0]!.serial, seen.js),
      loop(async () => (await pgPool.query<{ serial: string }>(SERIAL)).rows[0]!.serial, seen.pg),
      loop(async () => (await sql.unsafe<{ serial: string }[]>(SERIAL))[0]!.serial, seen.js),
    ];
    try {
      await waitFor('both pools to run with the first certificate', () => seen.pg.has(decimal(ssl.current.serial)) && seen.js.has(decimal(ssl.current.serial)));
      for (let round = 1; round <= 3; round++) {
        const next = await pki.client('alice');
        replace(env.PGSSLKEY!, next.keyPem, 0o600);
        await sleep(300); // the agent's two renames are apart: connections made now keep the old pair
        replace(env.PGSSLCERT!, next.certPem, 0o644);
        await waitFor(`renewal ${round} to reach both pools`, () => seen.pg.has(decimal(next.serial)) && seen.js.has(decimal(next.serial)));
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      await pgPool.end();
      await sql.end({ timeout: 5 });
    }
    assert.deepEqual(failures, [], 'no query failed');
    assert.equal(seen.pg.size, 4, `node-postgres used the first certificate and three renewals: ${[...seen.pg].join(', ')}`);
    assert.equal(seen.js.size, 4, `postgres.js used the first certificate and three renewals: ${[...seen.js].join(', ')}`);
    assert.ok(errors.every((e) => e.code === 'KEY_MISMATCH'), `only the half-replaced moments were refused: ${errors.map((e) => e.code).join(', ')}`);
  });

  it('one file for both (PGSSLCERT=F PGSSLKEY=F, the chain then the key, as `pgmoat agent --cert F --key F` writes it): a Pool runs across three renewals, each one rename, with no failed query and no refused set', { timeout: 180_000 }, async () => {
    const combined = join(dir, 'alice.pem');
    const oneFileEnv = { PGSSLCERT: combined, PGSSLKEY: combined, PGSSLROOTCERT: pki.main.caPath };
    const writeCombined = (c: ClientFiles): void => replace(combined, c.certPem + c.keyPem, 0o600);
    const first = await pki.client('alice');
    writeCombined(first);
    const errors: PgmoatClientError[] = [];
    const changes: string[] = [];
    const ssl = sslFollowingFiles(oneFileEnv, { onError: (e) => errors.push(e), onChange: (now) => changes.push(now.serial) });
    assert.equal(ssl.current.serial, first.serial);
    const pgPool = new pg.Pool({ host: '127.0.0.1', port: server.port, user: 'alice', database: 'postgres', ssl, max: 3, maxLifetimeSeconds: 1 });
    const seen = new Set<string>();
    const failures: string[] = [];
    let stop = false;
    const SERIAL = 'SELECT client_serial::text AS serial FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          seen.add((await pgPool.query<{ serial: string }>(SERIAL)).rows[0]!.serial);
        } catch (err) {
          failures.push((err as Error).message);
          await sleep(10);
        }
      }
    };
    const loops = [loop(), loop(), loop()];
    const serials = [first.serial];
    try {
      await waitFor('the pool to run with the first certificate', () => seen.has(decimal(first.serial)));
      for (let round = 1; round <= 3; round++) {
        const next = await pki.client('alice');
        writeCombined(next);
        serials.push(next.serial);
        await waitFor(`renewal ${round} to reach the pool`, () => seen.has(decimal(next.serial)));
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      await pgPool.end();
    }
    assert.deepEqual(failures, [], 'no query failed');
    assert.deepEqual([...seen].sort(), serials.map(decimal).sort(), 'the first certificate and three renewals, nothing else');
    assert.deepEqual(changes, serials.slice(1), 'each renewal taken once, in order');
    assert.deepEqual(errors.map((e) => e.code), [], 'one rename never shows a half-replaced pair');
  });

  it('one file for both is read once per load: replaced again and again by another process, it never yields a certificate and a key from two versions', { timeout: 120_000 }, async () => {
    const combined = join(dir, 'churn.pem');
    const a = await pki.client('alice');
    const b = await pki.client('alice');
    writeFileSync(join(dir, 'a.pem'), a.certPem + a.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'b.pem'), b.certPem + b.keyPem, { mode: 0o600 });
    replace(combined, a.certPem + a.keyPem, 0o600);
    const errors: PgmoatClientError[] = [];
    const ssl = sslFollowingFiles({ PGSSLCERT: combined, PGSSLKEY: combined, PGSSLROOTCERT: pki.main.caPath }, { onError: (e) => errors.push(e) });
    // Another process swaps the two versions in by rename as fast as it can, as an agent would (slowly).
    const churn = spawn(
      process.execPath,
      ['-e', `const fs = require('node:fs'); const [a, b, f] = process.argv.slice(1); for (let i = 0; ; i++) { fs.copyFileSync(i % 2 ? b : a, f + '.tmp'); fs.renameSync(f + '.tmp', f); }`, join(dir, 'a.pem'), join(dir, 'b.pem'), combined],
      { stdio: 'ignore' },
    );
    let taken = 0;
    try {
      for (let i = 0; i < 20_000 && taken < 2_000; i++) {
        if (ssl.refresh()) taken++;
        if (i % 100 === 0) await sleep(1); // let the other process run on a busy machine
      }
    } finally {
      churn.kill('SIGKILL');
      await new Promise((r) => churn.once('exit', r));
    }
    assert.ok(taken > 10, `the file changed under the reader (${taken} new sets taken)`);
    assert.deepEqual(errors.map((e) => e.code), [], `no load mixed two versions (${taken} sets taken)`);
    assert.ok([a.serial, b.serial].includes(ssl.current.serial));
  });
});
