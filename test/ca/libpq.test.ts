/**
 * libpq (psql) as the independent client: a real PostgreSQL with pgmoat's server certificate
 * and `hostssl ... cert clientcert=verify-full` lets an issued identity in as the role named by
 * its CN, and refuses it once `pgmoat revoke` has rewritten the CRL PostgreSQL reads.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { pgTool } from '../harness/pg-binaries.js';
import { pgmoat } from './run-pgmoat.js';

let work: string;
let dir: string;
let out: string;
let pg: PgServer | undefined;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-libpq-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
  for (const name of ['app_user', 'other_user']) {
    const r = await pgmoat(['issue', name, '--env', 'production', '--dir', dir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
  }
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  pg = await startPostgres({
    ssl: { cert: read('server.crt'), key: read('server.key'), ca: read('ca.crt'), crl: read('crl.pem') },
    hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert clientcert=verify-full', ''].join('\n'),
    setupSql: 'CREATE ROLE app_user LOGIN; CREATE ROLE other_user LOGIN;',
  });
});
after(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function conninfo(name: string, user = name): Promise<string> {
  const r = await pgmoat(['export', '--cert', join(out, `${name}.crt`), '--key', join(out, `${name}.key`), '--format', 'libpq']);
  assert.equal(r.code, 0, r.stderr);
  return `host=127.0.0.1 port=${pg!.port} dbname=postgres user=${user} connect_timeout=10 ${r.stdout.trim()}`;
}

function psql(conn: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(pgTool('psql'), ['-X', '-A', '-t', '-c', 'SELECT current_user', conn], {
    encoding: 'utf8',
    env: { ...process.env, PGSSLMODE: '', PGPASSWORD: '' },
    timeout: 30_000,
  });
  return { ok: r.status === 0, stdout: r.stdout.trim(), stderr: r.stderr };
}

test('an issued identity logs in over verify-full TLS as the role named by its CN', async () => {
  const conn = await conninfo('app_user');
  assert.match(conn, /sslmode=verify-full sslcert=\/.*app_user\.crt sslkey=\/.*app_user\.key sslrootcert=\/.*ca\.crt$/);
  const r = psql(conn);
  assert.ok(r.ok, r.stderr);
  assert.equal(r.stdout, 'app_user');
  // The certificate names app_user: it cannot log in as another role.
  const wrong = psql(await conninfo('app_user', 'other_user'));
  assert.ok(!wrong.ok);
  assert.match(wrong.stderr, /certificate authentication failed for user "other_user"/);
});

test('after pgmoat revoke and a CRL reload, PostgreSQL refuses the identity', async () => {
  const conn = await conninfo('app_user');
  const others = await conninfo('other_user');
  const r = await pgmoat(['revoke', 'app_user', '--dir', dir, '--reason', 'keyCompromise']);
  assert.equal(r.code, 0, r.stderr);
  pg!.writeDataFile('crl.pem', readFileSync(join(dir, 'crl.pem'), 'utf8'));
  pg!.sql("ALTER SYSTEM SET ssl_crl_file = 'crl.pem'");
  pg!.reload();
  // The reload is asynchronous: retry (bounded) until the new CRL is in force.
  let last = psql(conn);
  for (let i = 0; i < 100 && last.ok; i++) {
    await sleep(100);
    last = psql(conn);
  }
  assert.ok(!last.ok, 'the revoked identity still got in');
  assert.match(last.stderr, /certificate revoked/);
  // Everyone else still gets in.
  const ok = psql(others);
  assert.ok(ok.ok, ok.stderr);
  assert.equal(ok.stdout, 'other_user');
});
