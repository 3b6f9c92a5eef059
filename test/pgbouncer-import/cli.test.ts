/** `pgmoat import-pgbouncer` as a person runs it: YAML on stdout, everything else on stderr. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';
import { stage } from './stage.js';

test('--help names the arguments and options', async () => {
  const r = await pgmoat(['import-pgbouncer', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: pgmoat import-pgbouncer \[options\] <pgbouncer\.ini>/);
  assert.match(r.stdout, /--userlist <file>/);
  assert.match(r.stdout, /--fallback-database <name>/);
  assert.match(r.stdout, /password_env/);
  const top = await pgmoat(['--help']);
  assert.match(top.stdout, /import-pgbouncer/);
});

test('a configuration pgmoat can load: exit 0, YAML on stdout, notes and password variables on stderr', async () => {
  const s = stage('mtls-cert', {
    'certs/pgbouncer.crt': 0o644,
    'certs/pgbouncer.key': 0o600,
    'certs/clients-ca.crt': 0o644,
    'certs/postgres-ca.crt': 0o644,
    'certs/pgbouncer-client.crt': 0o644,
    'certs/pgbouncer-client.key': 0o600,
  });
  try {
    const r = await pgmoat(['import-pgbouncer', s.ini]);
    assert.equal(r.code, 0, r.stderr);
    const { config } = s.load(r.stdout, { PGMOAT_REPORTS_PASSWORD: 'x' });
    assert.equal(config.tls.mode, 'verify-full');
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.includes(`${s.ini}:19: logfile: not carried over: pgmoat logs JSON lines to stdout (log.format: pretty for people); let the service manager keep them`));
    assert.ok(lines.includes('Set these environment variables where pgmoat runs (the passwords are not in the output):'));
    assert.ok(lines.includes(`  PGMOAT_REPORTS_PASSWORD  (database reports: password= on ${s.ini}:8)`));
    assert.equal(lines.at(-1), 'pgmoat: converted 3 database(s); 3 setting(s) not carried over (listed above)');
    assert.ok(!r.stdout.includes('r3p0rts') && !r.stderr.includes('r3p0rts'));
  } finally {
    s.cleanup();
  }
});

test('an output pgmoat would refuse: still printed, the problems listed, exit 1', async () => {
  const s = stage('debian');
  try {
    const r = await pgmoat(['import-pgbouncer', s.ini, '--userlist', join(s.dir, 'missing-userlist.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^databases: \{\}$/m);
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.includes('pgmoat.yaml: databases: at least one database is required'));
    assert.match(lines.at(-1)!, /^pgmoat: the converted configuration will not load until \d+ problem\(s\) listed above are fixed$/);
  } finally {
    s.cleanup();
  }
});

test('unreadable or malformed input: one line, exit 1, nothing on stdout', async () => {
  const s = stage('includes');
  try {
    const missing = await pgmoat(['import-pgbouncer', join(s.dir, 'nope.ini')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, `pgmoat: cannot read ${join(s.dir, 'nope.ini')}: ENOENT\n`);

    writeFileSync(join(s.dir, 'conf.d/databases.ini'), 'orders host=x password=hunter2\n');
    const bad = await pgmoat(['import-pgbouncer', s.ini]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, `pgmoat: ${join(s.dir, 'conf.d/databases.ini')}:1: expected "name = value"\n`);

    const usage = await pgmoat(['import-pgbouncer']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing required argument/);
  } finally {
    s.cleanup();
  }
});
