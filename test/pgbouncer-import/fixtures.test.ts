/**
 * pgmoat import-pgbouncer on whole configurations: Debian's shipped pgbouncer.ini (as is, and
 * with its examples uncommented), the mTLS guides' setups, TLS + SCRAM + hba, and %include.
 * Each output goes through pgmoat's real loader (parseConfig, with the files it names created).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { importPgbouncer } from '../../src/pgbouncer-import/import.js';
import { notCarried, stage } from './stage.js';

test("Debian's pgbouncer.ini as shipped: what is not carried over, and the one thing missing (a database)", () => {
  const s = stage('debian');
  try {
    const r = importPgbouncer(s.ini);
    assert.deepEqual(notCarried(r.notes, s.dir), ['pgbouncer.ini:45: logfile', 'pgbouncer.ini:46: pidfile', 'pgbouncer.ini:61: unix_socket_dir']);
    assert.deepEqual(r.problems, ['pgmoat.yaml: databases: at least one database is required']);
    assert.ok(r.notes.some((n) => n.endsWith('pgbouncer.ini: [databases]: no database could be carried over, and pgmoat needs at least one: add one under databases:')));
    const out = parse(r.yaml) as Record<string, unknown>;
    assert.deepEqual(out.listen, { host: 'localhost', port: 6432 });
    assert.deepEqual(out.tls, { mode: 'disable' });
    assert.deepEqual(out.rules, [{ method: 'md5' }]);
    assert.equal(out.auth_file, '/etc/pgbouncer/userlist.txt');
    // With a database added and the userlist where this machine has it readable, it loads.
    const userlist = s.file('userlist.txt', '"app" "secret"\n', 0o600);
    const edited = r.yaml.replace('databases: {}', 'databases:\n  app: { host: 127.0.0.1 }').replace('/etc/pgbouncer/userlist.txt', userlist);
    const { config } = s.load(edited);
    assert.equal(config.tls.mode, 'disable');
    assert.equal(config.auth_file, userlist);
  } finally {
    s.cleanup();
  }
});

test("Debian's example lines uncommented: databases, users, the * fallback, forced user's password", () => {
  const s = stage('debian-examples');
  try {
    const r = importPgbouncer(s.ini);
    assert.deepEqual(notCarried(r.notes, s.dir), [
      'pgbouncer.ini:23: client_encoding (database forcedb)',
      'pgbouncer.ini:23: datestyle (database forcedb)',
      'pgbouncer.ini:23: connect_query (database forcedb)',
      'pgbouncer.ini:26: database nondefaultdb',
      'pgbouncer.ini:30: auth_user (database foodb)',
      'pgbouncer.ini:30: database foodb',
      'pgbouncer.ini:33: database *',
      'pgbouncer.ini:47: logfile',
      'pgbouncer.ini:48: pidfile',
      'pgbouncer.ini:63: unix_socket_dir',
      'pgbouncer.ini:133: admin_users',
      'pgbouncer.ini:136: stats_users',
      'pgbouncer.ini:159: ignore_startup_parameters',
      'pgbouncer.ini:219: log_connections',
      'pgbouncer.ini:272: autodb_idle_timeout',
      'pgbouncer.ini:287: pkt_buf',
      'pgbouncer.ini:332: dns_max_ttl',
    ]);
    // Settings at "off" that pgmoat matches anyway are not reported.
    for (const quiet of ['so_reuseport', 'application_name_add_host', 'query_timeout', 'tcp_keepidle', 'max_packet_size']) {
      assert.ok(!r.notes.some((n) => n.includes(`: ${quiet}: `)), quiet);
    }
    assert.deepEqual(r.problems, []);
    assert.equal(r.databaseCount, 2);
    assert.deepEqual(r.passwords.map((p) => [p.name, p.database, p.source.replace(`${s.dir}/`, '')]), [['PGMOAT_FORCEDB_PASSWORD', 'forcedb', 'password= on pgbouncer.ini:23']]);
    // The password (foo) is in neither output.
    assert.ok(!/\bfoo\b/.test(r.yaml.replace(/foodb/g, '')));
    assert.ok(!r.notes.some((n) => /\bfoo\b/.test(n.replace(/foodb/g, ''))));
    const out = parse(r.yaml) as { databases: Record<string, unknown>; users: unknown };
    assert.deepEqual(out.databases, {
      bardb: { host: 'localhost', dbname: 'bazdb' },
      forcedb: { host: 'localhost', port: 300, user: 'baz', password_env: 'PGMOAT_FORCEDB_PASSWORD' },
    });
    assert.deepEqual(out.users, { user1: { pool_mode: 'transaction', max_user_connections: 10 } });
    // Unix-socket databases, the fallback and admin_users are left as commented suggestions.
    assert.match(r.yaml, /^ {2}# nondefaultdb:\n {2}# {3}host: 127\.0\.0\.1\n {2}# {3}pool_size: 50\n {2}# {3}reserve_pool_size: 10$/m);
    assert.match(r.yaml, /^ {2}# your_database:\n {2}# {3}host: testserver$/m);
    assert.match(r.yaml, /^# admin:\n(#.*\n)*# {3}identities:\n# {5}- user2$/m);

    const userlist = s.file('userlist.txt', '"baz" "x"\n', 0o600);
    const { config } = s.load(r.yaml.replace('/etc/pgbouncer/userlist.txt', userlist), { PGMOAT_FORCEDB_PASSWORD: 'foo' });
    assert.equal(config.max_client_conn, 100);
    assert.equal(config.client_login_timeout, 60_000);
    assert.equal(config.server_check_query, 'select 1');
    assert.equal(config.databases.forcedb?.port, 300);
    assert.equal(config.users.user1?.pool_mode, 'transaction');

    // --fallback-database makes real entries out of "*".
    const f = importPgbouncer(s.ini, { fallbackDatabases: ['appdb', 'bardb'] });
    const fo = parse(f.yaml) as { databases: Record<string, unknown> };
    assert.deepEqual(fo.databases.appdb, { host: 'testserver' });
    assert.deepEqual(fo.databases.bardb, { host: 'localhost', dbname: 'bazdb' });
    assert.ok(f.notes.some((n) => n.endsWith('database bardb: defined in [databases] already: --fallback-database ignored for it')));
    assert.ok(!notCarried(f.notes, s.dir).includes('pgbouncer.ini:33: database *'));
  } finally {
    s.cleanup();
  }
});

const MTLS_FILES = {
  'certs/pgbouncer.crt': 0o644,
  'certs/pgbouncer.key': 0o600,
  'certs/clients-ca.crt': 0o644,
  'certs/postgres-ca.crt': 0o644,
  'certs/pgbouncer-client.crt': 0o644,
  'certs/pgbouncer-client.key': 0o600,
};

test('mTLS guide: auth_type = cert with verify-full clients, verify-full and a client certificate upstream', () => {
  const s = stage('mtls-cert', MTLS_FILES);
  try {
    const r = importPgbouncer(s.ini);
    assert.deepEqual(notCarried(r.notes, s.dir), ['pgbouncer.ini:19: logfile', 'pgbouncer.ini:20: pidfile', 'pgbouncer.ini:57: tcp_keepidle']);
    assert.deepEqual(r.problems, []);
    assert.equal(r.blockerCount, 0);
    assert.deepEqual(r.passwords.map((p) => p.name), ['PGMOAT_REPORTS_PASSWORD']);
    assert.ok(!r.yaml.includes('r3p0rts') && !r.notes.join('\n').includes('r3p0rts'));

    const { config } = s.load(r.yaml, { PGMOAT_REPORTS_PASSWORD: "r3p0rts p@ss'word" });
    const c = (rel: string): string => join(s.dir, rel);
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 6432, reuse_port: false });
    assert.equal(config.tls.mode, 'verify-full');
    assert.equal(config.tls.cert, c('certs/pgbouncer.crt'));
    assert.equal(config.tls.key, c('certs/pgbouncer.key'));
    assert.equal(config.tls.ca, c('certs/clients-ca.crt'));
    assert.equal(config.tls.min_version, 'TLSv1.3');
    assert.equal(config.tls.ciphers, 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384');
    assert.equal(config.tls.groups, 'prime256v1');
    assert.equal(config.rules, undefined, 'verify-full alone is auth_type = cert');
    for (const name of ['app', 'reports', 'billing-eu']) {
      const tls = config.databases[name]!.tls;
      assert.equal(tls.mode, 'verify-full');
      assert.equal(tls.ca, c('certs/postgres-ca.crt'));
      assert.equal(tls.cert, c('certs/pgbouncer-client.crt'));
      assert.equal(tls.key, c('certs/pgbouncer-client.key'));
      assert.equal(tls.min_version, 'TLSv1.2');
    }
    assert.deepEqual(
      { ...config.databases.app, tls: undefined },
      { name: 'app', host: 'db.internal', port: 5432, dbname: 'app_production', user: 'app_owner', pool_size: 10, tls: undefined },
    );
    assert.equal(config.databases.reports?.password_env, 'PGMOAT_REPORTS_PASSWORD');
    assert.equal(config.databases.reports?.max_db_connections, 5);
    assert.equal(config.databases['billing-eu']?.reserve_pool_size, 3);
    assert.equal(config.databases['billing-eu']?.min_pool_size, 2);
    assert.deepEqual(config.users, { app_owner: { pool_mode: 'transaction', max_user_connections: 40 }, reporting: { pool_size: 3 } });
    assert.deepEqual(config.admin.identities, ['ops-admin']);
    assert.equal(config.pool_mode, 'transaction');
    assert.equal(config.max_client_conn, 2000);
    assert.equal(config.server_lifetime, 1_800_000);
    assert.equal(config.reserve_pool_timeout, 3_000);
    assert.equal(config.idle_transaction_timeout, 60_000);
    assert.equal(config.server_reset_query_always, true);
    assert.equal(config.max_prepared_statements, 100);
    assert.equal(config.max_packet_size, 32 * 1024 * 1024);
    assert.equal(config.log.level, 'debug');

    // A private key readable by others is reported before pgmoat refuses it.
    chmodSync(join(s.dir, 'certs/pgbouncer-client.key'), 0o640);
    const loose = importPgbouncer(s.ini);
    assert.equal(loose.blockerCount, 1);
    assert.ok(loose.notes.some((n) => n.includes('pgbouncer.ini:36: server_tls_key_file: ') && n.includes('(mode 0640)') && n.includes('chmod 600')));
  } finally {
    s.cleanup();
  }
});

test('TLS without client certificates, hba with SCRAM, auth_query, and settings that change meaning', () => {
  const s = stage('tls-scram-hba', { 'server.crt': 0o644, 'server.key': 0o600 });
  try {
    chmodSync(join(s.dir, 'userlist.txt'), 0o600);
    const r = importPgbouncer(s.ini);
    assert.deepEqual(notCarried(r.notes, s.dir), [
      'pgbouncer.ini:5: host (database shop_ro)',
      'pgbouncer.ini:5: connect_query (database shop_ro)',
      'pgbouncer.ini:8: listen_addr',
      'pgbouncer.ini:19: client_tls_ciphers',
      'pgbouncer.ini:20: client_tls_dheparams',
      'pgbouncer.ini:22: server_lifetime',
      'pgbouncer.ini:26: so_reuseport',
      'pgbouncer.ini:27: peer_id',
      'pgbouncer.ini:28: application_name_add_host',
      'pgbouncer.ini:29: stats_users',
      'pgbouncer.ini:31: frobnicate',
      'pgbouncer.ini:34: peer 1',
    ]);
    // The hba file's `local ... peer` line is what pgmoat would refuse: named, with its line.
    assert.equal(r.blockerCount, 1);
    assert.ok(r.notes.some((n) => n.includes('auth_hba_file: pgmoat will refuse this file: ') && n.includes('pgbouncer_hba.conf line 2: authentication method "peer"')));
    assert.ok(r.notes.some((n) => n.includes('pgbouncer.ini:18: client_tls_protocols: TLS 1.0 and 1.1 dropped')));
    assert.ok(r.notes.some((n) => n.includes('pgbouncer.ini:24: reserve_pool_timeout: 0 switches')));
    assert.ok(r.notes.some((n) => n.includes('pgbouncer.ini:25: max_packet_size: 4294967296 bytes lowered to 1GB')));
    assert.ok(!r.yaml.includes('ro secret') && !r.notes.join('\n').includes('ro secret'));
    assert.deepEqual(r.problems, []);

    const { config } = s.load(r.yaml, { PGMOAT_SHOP_RO_PASSWORD: 'ro secret' });
    assert.equal(config.query_timeout, 600_000);
    assert.equal(config.tls.mode, 'require');
    assert.equal(config.tls.max_version, 'TLSv1.2');
    assert.equal(config.hba_file, join(s.dir, 'pgbouncer_hba.conf'));
    assert.equal(config.auth_file, join(s.dir, 'userlist.txt'));
    assert.equal(config.auth_user, 'pgbouncer_auth');
    assert.equal(config.auth_query, 'SELECT usename, passwd FROM pgbouncer.get_auth($1)');
    assert.equal(config.rules, undefined);
    assert.equal(config.reserve_pool_size, 0);
    assert.equal(config.reserve_pool_timeout, 5_000, "pgmoat's default: 0 was not copied");
    assert.equal(config.server_lifetime, 3_600_000);
    assert.equal(config.max_packet_size, 1024 ** 3);
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 6543, reuse_port: false });
    assert.deepEqual({ ...config.databases.shop_ro, tls: undefined }, {
      name: 'shop_ro',
      host: 'pg-replica-1.internal',
      port: 5432,
      dbname: 'shop',
      user: 'shop_ro',
      password_env: 'PGMOAT_SHOP_RO_PASSWORD',
      tls: undefined,
    });
    assert.equal(config.databases.shop?.tls.mode, 'require');
    assert.equal(config.databases.shop?.port, 5433);

    // Without the local line, the hba file is one pgmoat takes.
    const hba = join(s.dir, 'pgbouncer_hba.conf');
    writeFileSync(hba, readFileSync(hba, 'utf8').replace(/^local.*\n/m, ''));
    assert.equal(importPgbouncer(s.ini).blockerCount, 0);
  } finally {
    s.cleanup();
  }
});

test('%include: settings from included files keep their file and line; the section carries through', () => {
  const s = stage('includes', { 'certs/server.crt': 0o644, 'certs/server.key': 0o600, 'certs/ca.crt': 0o644 });
  try {
    chmodSync(join(s.dir, 'userlist.txt'), 0o600);
    const r = importPgbouncer(s.ini, { fallbackDatabases: ['shop'] });
    assert.deepEqual(notCarried(r.notes, s.dir), []);
    assert.deepEqual(r.passwords.map((p) => [p.name, p.source.replace(`${s.dir}/`, '')]), [['PGMOAT_ORDERS_PASSWORD', 'password= on conf.d/databases.ini:2']]);
    assert.ok(r.notes.some((n) => n.startsWith(`${s.dir}/conf.d/tls.ini:3: client_tls_key_file: relative path certs/server.key kept as written`)));
    assert.deepEqual(r.problems, []);
    const { config } = s.load(r.yaml, { PGMOAT_ORDERS_PASSWORD: 'x' });
    assert.equal(config.tls.mode, 'verify-ca');
    assert.equal(config.tls.key, join(s.dir, 'certs/server.key'));
    assert.deepEqual(config.rules, [{ type: 'any', method: 'scram-sha-256' }]);
    assert.equal(config.auth_file, join(s.dir, 'userlist.txt'));
    assert.equal(config.pool_mode, 'transaction');
    assert.deepEqual(Object.keys(config.databases), ['orders', 'shop']);
    assert.equal(config.databases.shop?.host, '10.1.0.5');
    assert.equal(config.databases.shop?.dbname, 'shop');

    const plain = importPgbouncer(s.ini);
    assert.deepEqual(notCarried(plain.notes, s.dir), ['conf.d/databases.ini:3: database *']);
  } finally {
    s.cleanup();
  }
});
