import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'yaml';
import { importPgbouncer, selfCheck, type ImportOptions, type ImportResult } from './import.js';
import { UNSUPPORTED_SETTINGS } from './unsupported.js';

const INI = '/virt/pgbouncer.ini';

/** Converts an in-memory pgbouncer.ini; every file the output names "exists" with mode 0600. */
function run(text: string, extra: Record<string, string> = {}, opts: ImportOptions = {}): ImportResult & { out: Record<string, unknown> } {
  const files: Record<string, string> = { [INI]: text, ...extra };
  const r = importPgbouncer(INI, {
    read: (p) => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return t;
    },
    fileMode: () => ({ mode: 0o600, isFile: true }),
    ...opts,
  });
  return { ...r, out: parse(r.yaml) as Record<string, unknown> };
}

const DB = '[databases]\napp = host=db.example\n';

/** The "not carried over" lines, without the file name. */
const dropped = (r: ImportResult): string[] => r.notes.filter((n) => n.includes(': not carried over: ')).map((n) => n.replace(`${INI}:`, ''));
const noteFor = (r: ImportResult, text: string): boolean => r.notes.some((n) => n.includes(text));

test('each setting pgmoat has no counterpart for gets exactly one line, with its line number', () => {
  const keys = Object.keys(UNSUPPORTED_SETTINGS);
  const text = `${DB}[pgbouncer]\nauth_type = trust\n${keys.map((k) => `${k} = 7`).join('\n')}\n`;
  const r = run(text);
  const lines = dropped(r);
  keys.forEach((k, i) => {
    const mine = lines.filter((l) => l.startsWith(`${i + 5}: ${k}: `));
    assert.equal(mine.length, 1, `${k}: ${JSON.stringify(lines)}`);
    assert.ok(mine[0]!.endsWith(`not carried over: ${UNSUPPORTED_SETTINGS[k]}`));
  });
  assert.equal(lines.length, keys.length);
  assert.deepEqual(r.problems, []);
});

test('unknown settings, settings outside a section and unknown sections are reported', () => {
  const r = run(`stray = 1\n${DB}[pgbouncer]\nauth_type = trust\nfrobnicate = 1\n[mystery]\nx = 1\n`);
  assert.deepEqual(dropped(r), [
    '1: stray: not carried over: outside any [section] (PgBouncer refuses this too)',
    '6: frobnicate: not carried over: not a PgBouncer setting pgmoat knows',
    '8: x: not carried over: in [mystery], a section PgBouncer does not have',
  ]);
});

test('auth_type: each method, and a safe refusal for the ones pgmoat lacks', () => {
  const rules = (type: string, extra = ''): unknown => run(`${DB}[pgbouncer]\nauth_type = ${type}\nauth_file = /u.txt\n${extra}`, { '/u.txt': '"a" "b"\n' }).out.rules;
  assert.deepEqual(rules('md5'), [{ method: 'md5' }]);
  assert.deepEqual(rules('scram-sha-256'), [{ method: 'scram-sha-256' }]);
  assert.deepEqual(rules('plain'), [{ method: 'password' }]);
  assert.deepEqual(rules('trust'), [{ method: 'trust' }]);
  assert.deepEqual(rules('any'), [{ method: 'trust' }]);
  assert.deepEqual(rules('pam'), [{ method: 'reject' }]);
  assert.deepEqual(rules('ldap'), [{ method: 'reject' }]);
  assert.deepEqual(rules('hba'), [{ method: 'reject' }]);
  assert.equal(rules('cert', 'client_tls_sslmode = verify-ca\nclient_tls_ca_file = /ca\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\n'), undefined);

  const pam = run(`${DB}[pgbouncer]\nauth_type = pam\n`);
  assert.ok(dropped(pam).includes('4: auth_type: not carried over: pgmoat has no pam authentication; written as a rule that refuses every client: replace it with cert, scram-sha-256 or md5'));
  const trust = run(`${DB}[pgbouncer]\nauth_type = trust\nauth_file = /u.txt\n`, { '/u.txt': '' });
  assert.equal(trust.out.auth_file, undefined);
  assert.ok(dropped(trust).some((l) => l.startsWith('5: auth_file: not carried over: pgmoat reads auth_file only to check client passwords')));
  const unset = run(`${DB}[pgbouncer]\nauth_file = /u.txt\n`, { '/u.txt': '"a" "b"\n' });
  assert.deepEqual(unset.out.rules, [{ method: 'md5' }]);
  assert.ok(noteFor(unset, "auth_type: not set: PgBouncer's default, md5, is carried over"));
  const noUsers = run(`${DB}[pgbouncer]\nauth_type = md5\n`);
  assert.ok(noteFor(noUsers, 'auth_file: not set, and no auth_user'));
  assert.deepEqual(noUsers.problems, ['pgmoat.yaml: rules[0].method: method md5 needs client secrets: set auth_file (a PgBouncer userlist.txt) or auth_user (auth_query)']);
});

test('client TLS modes: verify-full is verify-ca unless auth_type = cert; cert forces verify-full', () => {
  const files = 'client_tls_ca_file = /ca\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\n';
  const mode = (m: string, auth = 'trust'): { r: ImportResult; mode: unknown } => {
    const r = run(`${DB}[pgbouncer]\nauth_type = ${auth}\nclient_tls_sslmode = ${m}\n${files}`);
    return { r, mode: (r.out.tls as Record<string, unknown>).mode };
  };
  for (const m of ['disable', 'allow', 'prefer', 'require', 'verify-ca']) assert.equal(mode(m).mode, m);
  const vf = mode('verify-full');
  assert.equal(vf.mode, 'verify-ca');
  assert.ok(noteFor(vf.r, "written as verify-ca: PgBouncer's client-side verify-full checks the certificate chain only"));
  const cert = mode('require', 'cert');
  assert.equal(cert.mode, 'verify-full');
  assert.ok(noteFor(cert.r, 'auth_type = cert needs a verified client certificate: tls.mode verify-full (PgBouncer had require)'));
  // A hand-made CA in client_tls_ca_file: the import offers to adopt it (inventory, CRL).
  assert.ok(noteFor(cert.r, 'client_tls_ca_file: carried as tls.ca; to issue, renew and revoke with this CA through pgmoat (and have tls.crl), adopt it: pgmoat ca adopt --dir DIR --cert /ca --key'));
  assert.equal(noteFor(mode('require').r, 'pgmoat ca adopt'), false, 'offered only when client certificates are verified');
  const bogus = mode('sometimes');
  assert.equal(bogus.mode, undefined);
  assert.ok(dropped(bogus.r).some((l) => l.includes('client_tls_sslmode: not carried over: unknown TLS mode "sometimes"')));
  const noCa = run(`${DB}[pgbouncer]\nauth_type = trust\nclient_tls_sslmode = verify-ca\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\n`);
  assert.ok(noteFor(noCa, "client_tls_ca_file: not set: PgBouncer then trusted the system's CA store"));
  assert.deepEqual(noCa.problems, ['pgmoat.yaml: tls.ca: required when mode is verify-ca: the CA bundle client certificates must chain to']);
});

test('TLS protocols, ciphers and curves', () => {
  const tls = (lines: string): { r: ImportResult; tls: Record<string, unknown>; db: Record<string, unknown> } => {
    const r = run(`${DB}[pgbouncer]\nauth_type = trust\nclient_tls_sslmode = require\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\n${lines}`);
    const dbs = r.out.databases as Record<string, Record<string, unknown>>;
    return { r, tls: r.out.tls as Record<string, unknown>, db: (dbs.app!.tls ?? {}) as Record<string, unknown> };
  };
  assert.equal(tls('client_tls_protocols = secure').tls.min_version, undefined);
  assert.equal(tls('client_tls_protocols = tlsv1.3').tls.min_version, 'TLSv1.3');
  assert.equal(tls('client_tls_protocols = tlsv1.2').tls.max_version, 'TLSv1.2');
  const legacy = tls('client_tls_protocols = all, !tlsv1.0');
  assert.equal(legacy.tls.min_version, undefined);
  assert.ok(noteFor(legacy.r, 'client_tls_protocols: TLS 1.0 and 1.1 dropped'));
  assert.ok(dropped(tls('client_tls_protocols = tlsv1.0').r).some((l) => l.includes("pgmoat speaks TLS 1.2 and 1.3 only")));
  assert.ok(dropped(tls('client_tls_protocols = sslv3').r).some((l) => l.includes('unknown protocol "sslv3"')));
  assert.equal(tls('server_tls_protocols = tlsv1.3').db.min_version, 'TLSv1.3');
  assert.ok(dropped(tls('server_tls_protocols = tlsv1.2').r).some((l) => l.includes('cannot cap the TLS version towards PostgreSQL')));

  const fast = tls('client_tls_ciphers = fast');
  assert.equal(fast.tls.ciphers, undefined);
  assert.equal(fast.r.notes.filter((n) => n.includes('client_tls_ciphers')).length, 0);
  assert.ok(noteFor(tls('client_tls_ciphers = secure').r, `PgBouncer's "secure" list is not copied`));
  assert.ok(dropped(tls('client_tls_ciphers = compat').r).some((l) => l.includes('legacy cipher list "compat"')));
  assert.ok(dropped(tls('client_tls_ciphers = NOPE-NOT-A-CIPHER').r).some((l) => l.includes('OpenSSL matches no cipher')));
  assert.equal(tls('client_tls_ciphers = ECDHE-RSA-AES128-GCM-SHA256').tls.ciphers, 'ECDHE-RSA-AES128-GCM-SHA256');
  assert.equal(tls('client_tls13_ciphers = TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256').tls.ciphersuites, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256');
  assert.equal(tls('client_tls_ecdhcurve = X25519').tls.groups, 'X25519');
  assert.equal(tls('client_tls_ecdhcurve = auto').tls.groups, undefined);
  assert.ok(dropped(tls('client_tls_ecdhcurve = none').r).some((l) => l.includes('always offers ECDHE')));
  assert.ok(dropped(tls('client_tls_ecdhcurve = notacurve').r).some((l) => l.includes('does not know the curve "notacurve"')));
  assert.equal(tls('client_tls_dheparams = none').r.notes.filter((n) => n.includes('dheparams')).length, 0);
  assert.ok(dropped(tls('server_tls_ciphers = compat').r).some((l) => l.includes('server_tls_ciphers')));
  assert.equal(dropped(tls('server_tls_ciphers = fast').r).length, 0);
  assert.deepEqual(tls('client_tls_protocols = tlsv1.3\nclient_tls_ecdhcurve = X25519\nserver_tls_protocols = tlsv1.3').r.problems, []);
});

test('values: PgBouncer semantics that differ (server_lifetime 0, reserve_pool_timeout 0) and limits', () => {
  const g = (lines: string): ImportResult & { out: Record<string, unknown> } => run(`[databases]\napp = host=db reserve_pool=2 pool_size=3\n[pgbouncer]\nauth_type = trust\n${lines}`);
  const life = g('server_lifetime = 0');
  assert.equal(life.out.server_lifetime, undefined);
  assert.ok(dropped(life).some((l) => l.includes("server_lifetime: not carried over: 0 means 'use each server connection once'")));
  const reserve = g('reserve_pool_size = 4\nreserve_pool_timeout = 0');
  assert.equal(reserve.out.reserve_pool_size, 0);
  assert.equal(reserve.out.reserve_pool_timeout, undefined);
  assert.equal((reserve.out.databases as Record<string, Record<string, unknown>>).app!.reserve_pool_size, undefined);
  assert.ok(dropped(reserve).some((l) => l.includes("reserve_pool (database app): not carried over: reserve_pool_timeout = 0 switched PgBouncer's reserve pool off")));
  assert.equal(g('server_check_delay = 0.5').out.server_check_delay, 0.5);
  assert.ok(dropped(g('query_wait_timeout = 0.0001')).some((l) => l.includes("below pgmoat's 1 ms resolution")));
  assert.ok(dropped(g('query_wait_timeout = 30s')).some((l) => l.includes('expected a number of seconds, got "30s"')));
  assert.ok(dropped(g('client_idle_timeout = 99999999')).some((l) => l.includes("over pgmoat's limit")));
  assert.ok(dropped(g('default_pool_size = 0')).some((l) => l.includes('default_pool_size: not carried over: pgmoat needs at least 1, got 0')));
  assert.ok(dropped(g('pool_mode = transactional')).some((l) => l.includes('expected session, transaction or statement')));
  assert.equal(g('pool_mode = Transaction').out.pool_mode, 'transaction');
  assert.equal(g('tcp_keepalive = 0').out.tcp_keepalive, false);
  // Empty means "none" in both: no reset, no check.
  assert.equal(g('server_reset_query =').out.server_reset_query, '');
  assert.equal(g('server_check_query = ').out.server_check_query, '');
  assert.equal((g('verbose = 3').out.log as Record<string, unknown>).level, 'trace');
  assert.equal(g('max_packet_size = 2048').out.max_packet_size, 2048);
  assert.ok(dropped(g('max_packet_size = 100')).some((l) => l.includes("below pgmoat's smallest, 1kB")));
  assert.deepEqual(g('listen_addr = 10.0.0.1').out.listen, { host: '10.0.0.1' });
  assert.ok(noteFor(g('listen_addr ='), 'PgBouncer listened on its Unix socket only'));
  assert.ok(dropped(g('listen_port = 70000')).some((l) => l.includes('pgmoat needs 0 to 65535, got 70000')));

  // min_pool_size above the pool size: PgBouncer caps it, pgmoat would refuse the file.
  const min = g('min_pool_size = 8\ndefault_pool_size = 5');
  assert.equal(min.out.min_pool_size, 5);
  assert.equal((min.out.databases as Record<string, Record<string, unknown>>).app!.min_pool_size, 3);
  assert.deepEqual(min.problems, []);
  for (const r of [life, reserve, min]) assert.deepEqual(r.problems, []);
});

test('[databases]: names, hosts, parameters, passwords', () => {
  const r = run(
    [
      '[databases]',
      '"my db" = host=a.example password=p1',
      'my-db = host=b.example password=p2',
      'MY_DB = host=c.example password=p3',
      'pgbouncer = host=x',
      'pgmoat = host=x',
      'sock = host=/var/run/postgresql dbname=x',
      'abstract = host=@pg',
      'multi = host=h1.example,h2.example port=6000 client_encoding=UTF8 load_balance_hosts=disable auth_user=someone',
      "broken = host=x password='never-printed",
      'global_auth = host=g.example auth_user=authy',
      '[pgbouncer]',
      'auth_type = trust',
      'auth_user = authy',
    ].join('\n'),
  );
  const dbs = r.out.databases as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(dbs), ['my db', 'my-db', 'MY_DB', 'multi', 'global_auth']);
  assert.deepEqual(
    ['my db', 'my-db', 'MY_DB'].map((n) => dbs[n]!.password_env),
    ['PGMOAT_MY_DB_PASSWORD', 'PGMOAT_MY_DB_2_PASSWORD', 'PGMOAT_MY_DB_3_PASSWORD'],
  );
  assert.deepEqual(dbs.multi, { host: 'h1.example', port: 6000 });
  assert.deepEqual(dropped(r), [
    '5: database pgbouncer: not carried over: PgBouncer\'s admin console; pgmoat\'s is the virtual database pgmoat (admin.identities)',
    "6: database pgmoat: not carried over: the name is reserved for pgmoat's admin console: rename the database clients use",
    '7: database sock: not carried over: host=/var/run/postgresql is a Unix socket; pgmoat connects to PostgreSQL over TCP only (a TCP version is written as a comment)',
    '8: database abstract: not carried over: host=@pg is a Unix socket; pgmoat connects to PostgreSQL over TCP only (a TCP version is written as a comment)',
    '9: host (database multi): not carried over: pgmoat connects to one host per database; h2.example dropped (put a TCP load balancer or DNS name in front of the servers)',
    '9: client_encoding (database multi): not carried over: pgmoat passes on what each client asks for; for a default, run ALTER DATABASE ... SET client_encoding = ... on the server',
    '9: load_balance_hosts (database multi): not carried over: pgmoat has no such database setting',
    '9: auth_user (database multi): not carried over: pgmoat has one auth_user for all databases (authy)',
    '10: database broken: not carried over: unterminated quoted value for "password" in its connection string',
  ]);
  assert.ok(!r.yaml.includes('never-printed') && !r.notes.join('\n').includes('never-printed'));
  for (const p of ['p1', 'p2', 'p3']) assert.ok(!new RegExp(`\\b${p}\\b`).test(r.yaml));
  assert.match(r.yaml, /^ {2}# sock:\n {2}# {3}host: 127\.0\.0\.1\n {2}# {3}dbname: x$/m);
  assert.deepEqual(r.problems, []);
});

test('forced users: the upstream password comes from the userlist when PgBouncer took it there', () => {
  const userlist = '"app_owner" "cleartext pw"\n"hashed" "md5c8a0c1bd1f8e6d3e05e5f1e55a4c2a70"\n';
  const text = '[databases]\na = host=h user=app_owner\nb = host=h user=hashed\nc = host=h user=unknown\nd = host=h\n[pgbouncer]\nauth_type = md5\nauth_file = /etc/pgbouncer/userlist.txt\n';
  const r = run(text, { '/work/userlist.txt': userlist }, { userlistPath: '/work/userlist.txt' });
  const dbs = r.out.databases as Record<string, Record<string, unknown>>;
  assert.equal(dbs.a!.password_env, 'PGMOAT_A_PASSWORD');
  assert.equal(dbs.b!.password_env, undefined);
  assert.deepEqual(r.passwords.map((p) => [p.name, p.source]), [['PGMOAT_A_PASSWORD', 'the password of "app_owner" in the userlist']]);
  assert.ok(noteFor(r, 'database b: the userlist holds only a md5 hash for "hashed"'));
  assert.ok(noteFor(r, 'database c: no password= for user unknown'));
  assert.ok(noteFor(r, "database d: no user=: pgmoat logs in upstream as each client's role"));
  assert.equal(r.out.auth_file, '/work/userlist.txt', '--userlist replaces the path of auth_file');
  assert.ok(!r.notes.join('\n').includes('cleartext pw'));

  const broken = run(text, { '/work/userlist.txt': '"app_owner" "unterminated\n' }, { userlistPath: '/work/userlist.txt' });
  assert.equal(broken.blockerCount, 1);
  assert.ok(noteFor(broken, '--userlist: pgmoat will refuse this userlist: /work/userlist.txt line 1: the secret has no closing double quote'));
  const missing = run(text, {}, { userlistPath: '/work/none.txt' });
  assert.ok(noteFor(missing, '--userlist: cannot read /work/none.txt (ENOENT): its entries were not checked'));
});

test('--fallback-database without a "*" line is reported; a shared password variable for fallback copies', () => {
  assert.ok(noteFor(run(`${DB}[pgbouncer]\nauth_type = trust\n`, {}, { fallbackDatabases: ['x'] }), '--fallback-database: pgbouncer.ini has no "*" entry to copy: ignored'));
  const r = run('[databases]\n* = host=h user=u password=pw\n[pgbouncer]\nauth_type = trust\n', {}, { fallbackDatabases: ['one', 'two'] });
  const dbs = r.out.databases as Record<string, Record<string, unknown>>;
  assert.deepEqual(dbs.one, { host: 'h', user: 'u', password_env: 'PGMOAT_FALLBACK_PASSWORD' });
  assert.deepEqual(dbs.two, dbs.one);
  assert.equal(r.passwords.length, 1);
  const sock = run('[databases]\n* =\n[pgbouncer]\nauth_type = trust\n', {}, { fallbackDatabases: ['one'] });
  assert.ok(dropped(sock).some((l) => l.startsWith('2: database *: not carried over: no host=')));
});

test('access keys this pgmoat does not read yet are written as comments, and the rest still validates', () => {
  const supported = new Set(['listen', 'tls', 'databases', 'users', 'admin', 'pool_mode']);
  const r = run(`${DB}[pgbouncer]\nauth_type = md5\nauth_file = /u.txt\nauth_user = au\n`, { '/u.txt': '"a" "b"\n' }, { supportedKeys: supported });
  assert.equal(r.out.rules, undefined);
  assert.match(r.yaml, /^# rules:\n# {3}- method: md5$/m);
  assert.match(r.yaml, /^# auth_file: \/u\.txt$/m);
  assert.match(r.yaml, /^# auth_user: au$/m);
  assert.deepEqual(dropped(r), [
    '4: rules: not carried over: this pgmoat does not read "rules:" yet; written as a comment in the output',
    '5: auth_file: not carried over: this pgmoat does not read "auth_file:" yet; written as a comment in the output',
    '6: auth_user: not carried over: this pgmoat does not read "auth_user:" yet; written as a comment in the output',
  ]);
  assert.deepEqual(r.problems, []);
});

test('admin_users become admin.identities under auth_type = cert only', () => {
  const cert = run(`${DB}[pgbouncer]\nauth_type = cert\nclient_tls_ca_file = /ca\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\nadmin_users = ops, dba\n`);
  assert.deepEqual((cert.out.admin as Record<string, unknown>).identities, ['ops', 'dba']);
  assert.deepEqual(cert.problems, []);
  const md5 = run(`${DB}[pgbouncer]\nauth_type = trust\nadmin_users = ops\n`);
  assert.equal(md5.out.admin, undefined);
  assert.match(md5.yaml, /^# admin:$/m);
});

test('files: ~/ expanded, relative paths kept with a note, missing and loose ones reported', () => {
  const ini = `${DB}[pgbouncer]\nauth_type = trust\nclient_tls_sslmode = require\nclient_tls_cert_file = ~/tls/server.crt\nclient_tls_key_file = tls/server.key\n`;
  const loose = importPgbouncer(INI, { read: () => ini, fileMode: (p) => (p.endsWith('.key') ? { mode: 0o644, isFile: true } : 'missing') });
  const out = parse(loose.yaml) as { tls: Record<string, unknown> };
  assert.match(String(out.tls.cert), /^\/.*\/tls\/server\.crt$/);
  assert.equal(out.tls.key, 'tls/server.key');
  assert.ok(loose.notes.some((n) => n.includes('client_tls_cert_file: "~/" expanded to')));
  assert.ok(loose.notes.some((n) => n.includes('client_tls_cert_file: ') && n.includes('does not exist on this machine')));
  assert.ok(loose.notes.some((n) => n.includes('client_tls_key_file: relative path tls/server.key kept as written')));
  assert.ok(loose.notes.some((n) => n.includes('client_tls_key_file: /virt/tls/server.key is readable by group or others (mode 0644)')));
  assert.equal(loose.blockerCount, 2);
});

test('a later line replaces an earlier one, as in PgBouncer', () => {
  const r = run('[databases]\napp = host=a\napp = host=b\n[pgbouncer]\nauth_type = trust\npool_mode = session\npool_mode = transaction\n');
  assert.equal((r.out.databases as Record<string, Record<string, unknown>>).app!.host, 'b');
  assert.equal(r.out.pool_mode, 'transaction');
});

test('a password written in a database line never appears in the output or the notes', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9!@#%^&*()_+={}\[\]:;"<>,.?\/|~ '\\-]{8,40}$/), fc.constantFrom('host=h', 'host=/sock', 'host=h,h2', 'bogus=1 host=h'), (pw, rest) => {
      const quoted = `'${pw.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
      const r = run(`[databases]\napp = ${rest} password=${quoted}\n[pgbouncer]\nauth_type = trust\n`);
      assert.ok(!r.yaml.includes(pw));
      assert.ok(!r.notes.some((n) => n.includes(pw)));
      assert.ok(!r.passwords.some((p) => JSON.stringify(p).includes(pw)));
    }),
    { numRuns: 200 },
  );
});

test('the self-check reports schema problems of a text as pgmoat would', () => {
  assert.deepEqual(selfCheck('tls: { mode: disable }\ndatabases:\n  app: { host: h, prot: 1 }\n'), ['pgmoat.yaml: databases.app.prot: unknown key (did you mean "port"?)']);
  assert.deepEqual(selfCheck('{'), [selfCheck('{')[0]!]);
  assert.match(selfCheck('{')[0]!, /^pgmoat\.yaml: YAML error: /);
});

test('auth_type = hba: what pgmoat will refuse in the file, and lines that need a client certificate', () => {
  const hba = [
    'local all all peer',
    'local all all trust',
    'hostssl samerole all 10.0.0.0/8 md5',
    'hostssl all +admins 10.0.0.0/8 md5',
    'hostssl all all 0.0.0.0/0 cert',
  ].join('\n');
  const r = run(`${DB}[pgbouncer]\nauth_type = hba\nauth_hba_file = /hba.conf\nauth_file = /u.txt\nclient_tls_sslmode = require\nclient_tls_cert_file = /c\nclient_tls_key_file = /k\n`, {
    '/hba.conf': hba,
    '/u.txt': '"a" "b"\n',
  });
  const about = r.notes.filter((n) => n.includes('auth_hba_file: ')).map((n) => n.slice(n.indexOf('auth_hba_file: ') + 15));
  assert.deepEqual(about, [
    'pgmoat will refuse this file: /hba.conf line 1: authentication method "peer" is not supported by pgmoat (supported: trust, reject, md5, password, scram-sha-256, cert); "local" lines never match in pgmoat (TCP only): delete it',
    '/hba.conf line 3: pgmoat will refuse "samerole" (it does not know role membership): list the databases',
    '/hba.conf line 4: pgmoat will refuse "+group" (it does not know role membership): list the roles',
    'has lines that need a client certificate (cert, clientcert=...), which pgmoat asks for only with tls.mode verify-ca or verify-full (here: require)',
  ]);
  assert.equal(r.blockerCount, 3);
  assert.equal(r.out.hba_file, '/hba.conf');
  assert.equal(r.out.auth_file, '/u.txt');
  const unused = run(`${DB}[pgbouncer]\nauth_type = md5\nauth_hba_file = /hba.conf\n`);
  assert.ok(dropped(unused).some((l) => l.includes('auth_hba_file: not carried over: used only with auth_type = hba (here: md5)')));
});
