/**
 * The CA commands against a real gateway and a real PostgreSQL: the serial `pgmoat issue` prints
 * is the one the audit line of a login and the CRL reload line carry (one form, grep finds it),
 * `revoke` takes the other spellings of it, and the variables of `pgmoat export --format env
 * --config` are all psql needs (env -i: nothing else in its environment).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { APP_SETUP_SQL, plainUpstream, waitFor } from '../gateway/helpers.js';
import { conninfo, psql } from '../harness/psql.js';
import { pgTool } from '../harness/pg-binaries.js';

let work: string;
let ca: string;
let upstream: PgServer;
let gw: RunningGateway;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-cli-gw-'));
  ca = join(work, 'ca');
  const init = await pgmoat(['init', '--dir', ca]);
  assert.equal(init.code, 0, init.stderr);
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: join(ca, 'server.crt'), key: join(ca, 'server.key'), ca: join(ca, 'ca.crt'), crl: join(ca, 'crl.pem') },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

function issuedSerial(stdout: string): string {
  const m = /serial ([0-9a-f]+)/.exec(stdout);
  assert.ok(m, stdout);
  return m[1]!;
}

test('export --format env --config: psql connects through the gateway with only the exported variables', async () => {
  const out = join(work, 'app');
  const issued = await pgmoat(['issue', 'app', '--env', 'production', '--dir', ca, '--out', out]);
  assert.equal(issued.code, 0, issued.stderr);
  const r = await pgmoat(['export', '--cert', join(out, 'app.crt'), '--key', join(out, 'app.key'), '--format', 'env', '--config', gw.configPath]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'everything decided: the config has one listen address, one database, and the default rule (role = CN)');
  for (const line of ['PGHOST=127.0.0.1', `PGPORT=${gw.port}`, 'PGUSER=app', 'PGDATABASE=appdb', 'PGSSLMODE=verify-full']) {
    assert.ok(r.stdout.split('\n').includes(`export ${line}`), `${line} in\n${r.stdout}`);
  }
  const envFile = join(work, 'app.env');
  writeFileSync(envFile, r.stdout, { mode: 0o600 });
  const path = `${dirname(pgTool('psql'))}:/usr/bin:/bin`;
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'env',
      ['-i', `PATH=${path}`, 'sh', '-c', `. "${envFile}" && exec psql -X -A -t -c 'SELECT current_user, current_database()'`],
      { encoding: 'utf8', timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: stdout.trim(), stderr: stderr.trim() }),
    );
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'app|appdb');
});

test('export says what it could not decide, and flags decide it', async () => {
  const out = join(work, 'app');
  const r = await pgmoat(['export', '--cert', join(out, 'app.crt'), '--key', join(out, 'app.key'), '--format', 'dotenv', '--host', 'localhost']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^PGHOST=localhost$/m);
  assert.doesNotMatch(r.stdout, /^PGPORT=/m);
  assert.match(r.stderr, /PGPORT not written: no --port and no --config; pass --port PORT/);
  assert.match(r.stderr, /PGUSER not written: .*; pass --user ROLE/);
  assert.match(r.stderr, /PGDATABASE not written: .*; pass --database NAME/);
});

test('one serial form: the serial issue prints is in the login audit line and the CRL reload line; revoke takes other spellings', async () => {
  // Issue until the serial starts with a zero nibble (1 in 8): the case the two forms differed on.
  let serial = '';
  let name = '';
  for (let i = 0; i < 64 && !serial.startsWith('0'); i++) {
    name = `grep${i}`;
    const issued = await pgmoat(['issue', name, '--env', 'production', '--dir', ca, '--out', join(work, name)]);
    assert.equal(issued.code, 0, issued.stderr);
    serial = issuedSerial(issued.stdout);
  }
  assert.match(serial, /^0[1-9a-f]([0-9a-f]{2})*$/, 'lowercase hex in whole bytes, the leading zero kept');
  const out = join(work, name);
  // The role is the CN (default rule): give PostgreSQL that role too.
  upstream.sql(`CREATE ROLE ${name} LOGIN`);
  const login = await psql(
    conninfo(gw.port, { user: name, dbname: 'appdb', cert: { certPath: join(out, `${name}.crt`), keyPath: join(out, `${name}.key`), caPath: join(out, 'ca.crt') } }),
    'SELECT 1',
  );
  assert.equal(login.code, 0, login.stderr);
  const grep = (): string[] => gw.logs().map((l) => JSON.stringify(l)).filter((l) => l.includes(serial));
  await waitFor(() => grep().some((l) => l.includes('"event":"login"')), 'the audit line of the login');

  // Upper case with colons, as openssl x509 -text prints it.
  const colons = serial.toUpperCase().match(/../g)!.join(':');
  const revoked = await pgmoat(['revoke', colons, '--dir', ca, '--reason', 'keyCompromise']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.ok(revoked.stdout.includes(serial), revoked.stdout);
  await waitFor(() => grep().some((l) => l.includes('"event":"crl_reloaded"')), 'the CRL reload line naming the serial');

  // The short form (no leading zero nibble) and a zero-padded one find the same certificate: already revoked.
  for (const spelling of [serial.replace(/^0+/, ''), `00${serial}`, serial.toUpperCase()]) {
    const again = await pgmoat(['revoke', spelling, '--dir', ca]);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /already revoked/, `${spelling}: ${again.stderr}`);
  }
  const listed = await pgmoat(['list', '--dir', ca]);
  assert.ok(listed.stdout.split('\n').some((l) => l.includes(serial) && /revoked .*reason keyCompromise$/.test(l)), listed.stdout);
});
