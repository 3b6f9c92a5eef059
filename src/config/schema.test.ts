import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFixture, MINIMAL } from './fixture.test-helper.js';
import { configSchema, type Config, type DatabaseConfig, type PoolMode, type TlsMode } from './schema.js';

const fx = makeFixture();
after(() => fx.cleanup());

/** MINIMAL with extra YAML appended at the top level. */
const withTop = (extra: string): string => `${MINIMAL}\n${extra}\n`;
/** MINIMAL's database `app` with extra keys (flow style inside its mapping). */
const withDb = (extra: string): string => `
tls: { cert: server.crt, key: server.key, ca: ca.crt }
databases:
  app: { host: 127.0.0.1, ${extra} }
`;
const withTls = (tls: string): string => `
tls: { ${tls} }
databases:
  app: { host: 127.0.0.1 }
`;

function assertProblem(yaml: string, line: string, env: Record<string, string> = {}): void {
  const problems = fx.problems(yaml, env);
  assert.ok(problems.includes(line), `expected the line\n  ${line}\namong\n  ${problems.join('\n  ')}`);
}

describe('config defaults', () => {
  it('fills every default around the minimal config', () => {
    const { config } = fx.parse(MINIMAL);
    const expected: Config = {
      listen: { host: '127.0.0.1', port: 6432, reuse_port: false },
      max_client_conn: 1000,
      client_login_timeout: 15_000,
      shutdown_timeout: 30_000,
      shutdown_drain_delay: 0,
      max_packet_size: 1024 ** 3,
      pool_mode: 'session',
      default_pool_size: 20,
      min_pool_size: 0,
      reserve_pool_size: 0,
      reserve_pool_timeout: 5_000,
      max_db_connections: 0,
      max_user_connections: 0,
      max_prepared_statements: 200,
      server_reset_query: 'DISCARD ALL',
      server_reset_query_always: false,
      server_check_query: 'SELECT 1',
      server_check_delay: 30_000,
      query_wait_timeout: 120_000,
      query_timeout: 0,
      client_idle_timeout: 0,
      idle_transaction_timeout: 0,
      server_connect_timeout: 15_000,
      server_login_retry: 2_000,
      internal_query_timeout: 10_000,
      server_idle_timeout: 600_000,
      server_lifetime: 3_600_000,
      tcp_keepalive: true,
      peers: {},
      log: { level: 'info', format: 'json' },
      tls: {
        mode: 'verify-full',
        cert: join(fx.dir, 'server.crt'),
        key: join(fx.dir, 'server.key'),
        ca: join(fx.dir, 'ca.crt'),
        min_version: 'TLSv1.2',
        session_tickets: true,
        allow_client_certs_without_eku: false,
        end_sessions_on_expiry: false,
        expiry_warning: 3_600_000,
        reload_on_change: true,
      },
      databases: {
        app: { name: 'app', host: '127.0.0.1', port: 5432, dbname: 'app', tls: { mode: 'prefer', min_version: 'TLSv1.2', reload_on_change: true } },
      },
      users: {},
      admin: { identities: [] },
      ident_maps: {},
      auth_query: 'SELECT usename, passwd FROM pg_shadow WHERE usename=$1',
      limits: { handshakes_per_second: 0, handshakes_per_second_per_address: 0, connections_per_identity: 0, connections_per_address: 0 },
    };
    assert.deepEqual(config, expected);
  });

  it('parses the starter config of the gateway issue', () => {
    const { config } = fx.parse(`
listen: { host: 127.0.0.1, port: 6432 }
tls:                         # client side: clients -> pgmoat
  mode: verify-full          # disable | allow | prefer | require | verify-ca | verify-full
  cert: server.crt
  key: server.key
  ca: ca.crt                 # CA bundle that client certificates must chain to
  crl: crl.pem
databases:
  app:                       # the database name clients ask for
    host: 127.0.0.1
    port: 5432
    dbname: app
    user: app_owner          # role pgmoat logs in as upstream (default: the client's role)
    password_file: app.password
    environment: production
    pool_size: 20
    tls: { mode: prefer }    # server side: pgmoat -> PostgreSQL
`);
    const app: DatabaseConfig | undefined = config.databases.app;
    assert.ok(app);
    assert.equal(app.user, 'app_owner');
    assert.equal(app.password_file, join(fx.dir, 'app.password'));
    assert.equal(app.environment, 'production');
    assert.equal(app.pool_size, 20);
    assert.equal(config.tls.crl, join(fx.dir, 'crl.pem'));
  });

  it('accepts every documented key', () => {
    const { config } = fx.parse(`
listen: { host: "::", port: 7432 }
max_client_conn: 50
client_login_timeout: 2.5
shutdown_timeout: 1m
max_packet_size: 16MB
pool_mode: transaction
default_pool_size: 10
min_pool_size: 2
reserve_pool_size: 3
reserve_pool_timeout: 500ms
max_db_connections: 40
max_user_connections: 30
max_prepared_statements: 0
server_reset_query: ""
server_reset_query_always: true
server_check_query: "SELECT 2"
server_check_delay: 0
query_wait_timeout: 1h
client_idle_timeout: 1d
idle_transaction_timeout: 90s
server_connect_timeout: 3s
server_idle_timeout: 10m
server_lifetime: 2h
tcp_keepalive: false
log: { level: debug, format: pretty }
tls:
  mode: verify-ca
  cert: server.crt
  key: server.key
  key_passphrase_file: key.pass
  ca: ca.crt
  crl: crl.pem
  crl_state_file: crl-state.json
  allow_client_certs_without_eku: true
  min_version: TLSv1.2
  max_version: TLSv1.3
  ciphers: ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384
  ciphersuites: TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
  groups: X25519:P-256
  session_tickets: false
databases:
  app:
    host: db.internal
    port: 5433
    dbname: app_prod
    user: app_owner
    password_env: APP_PASSWORD
    environment: production
    pool_size: 5
    pool_mode: statement
    min_pool_size: 1
    reserve_pool_size: 2
    reserve_pool_timeout: 1
    max_db_connections: 10
    server_connect_timeout: 250ms
    tls:
      mode: verify-full
      ca: upstream-ca.crt
      cert: client.crt
      key: client.key
      key_passphrase_file: key.pass
      servername: pg.internal
      min_version: TLSv1.3
users:
  reporting: { pool_mode: session, max_user_connections: 3, pool_size: 2 }
admin:
  identities: [ops-alice, ops-bob]
  http:
    host: 0.0.0.0
    port: 9187
    tls: { cert: server.crt, key: server.key, ca: ca.crt, allow_client_certs_without_eku: true }
`, { APP_PASSWORD: 'not-shown' });
    assert.equal(config.listen.host, '::');
    assert.equal(config.client_login_timeout, 2_500);
    assert.equal(config.max_packet_size, 16 * 1024 ** 2);
    assert.equal(config.server_reset_query, '');
    assert.equal(config.server_check_delay, 0);
    assert.equal(config.client_idle_timeout, 86_400_000);
    const mode: TlsMode = config.tls.mode;
    assert.equal(mode, 'verify-ca');
    assert.equal(config.tls.key_passphrase_file, join(fx.dir, 'key.pass'));
    assert.equal(config.tls.crl_state_file, join(fx.dir, 'crl-state.json'), 'resolved; it need not exist yet');
    assert.equal(config.tls.allow_client_certs_without_eku, true);
    const app = config.databases.app!;
    assert.equal(app.dbname, 'app_prod');
    assert.equal(app.reserve_pool_timeout, 1_000);
    assert.equal(app.tls.servername, 'pg.internal');
    assert.equal(app.tls.key, join(fx.dir, 'client.key'));
    const poolMode: PoolMode | undefined = config.users.reporting?.pool_mode;
    assert.equal(poolMode, 'session');
    assert.deepEqual(config.admin.identities, ['ops-alice', 'ops-bob']);
    assert.equal(config.admin.http?.tls?.ca, join(fx.dir, 'ca.crt'));
    assert.equal(config.admin.http?.tls?.allow_client_certs_without_eku, true);
  });

  it('needs no certificate when client TLS is disabled', () => {
    const { config } = fx.parse('tls: { mode: disable }\ndatabases: { app: { host: localhost } }');
    assert.equal(config.tls.mode, 'disable');
    assert.equal(config.tls.cert, undefined);
  });

  it('reads `key:` with no value as not set', () => {
    const { config } = fx.parse(`${MINIMAL}\nusers:\nadmin:\n`);
    assert.deepEqual(config.users, {});
  });

  it('has a static schema that leaves paths as written', () => {
    const r = configSchema.safeParse({ tls: { cert: 'a.crt', key: 'a.key', ca: 'nope.crt' }, databases: { app: { host: 'h' } } });
    assert.ok(r.success);
    assert.equal(r.data.tls.ca, 'nope.crt');
  });
});

describe('config problems name the key path and what is wrong', () => {
  const cases: Array<[string, string, string]> = [
    ['database port not a number', withDb('port: abc'), 'pgmoat.yaml: databases.app.port: expected an integer from 1 to 65535, got "abc"'],
    ['database port out of range', withDb('port: 70000'), 'pgmoat.yaml: databases.app.port: expected an integer from 1 to 65535, got 70000'],
    ['listen port fractional', withTop('listen: { port: 6432.5 }'), 'pgmoat.yaml: listen.port: expected an integer from 0 to 65535, got 6432.5'],
    ['listen host', withTop('listen: { host: "[::1]" }'), 'pgmoat.yaml: listen.host: expected a host name or IP address (IPv6 without brackets), got "[::1]"'],
    ['listen not a mapping', withTop('listen: 6432'), 'pgmoat.yaml: listen: expected a mapping (key: value), got 6432'],
    ['max_client_conn', withTop('max_client_conn: 0'), 'pgmoat.yaml: max_client_conn: expected an integer of at least 1, got 0'],
    ['negative count', withTop('max_db_connections: -1'), 'pgmoat.yaml: max_db_connections: expected an integer of at least 0, got -1'],
    ['duration', withTop('server_lifetime: 5x'), 'pgmoat.yaml: server_lifetime: expected a duration: seconds, or a string like "500ms", "30s", "5m", "2h", "1d", got "5x"'],
    ['duration type', withTop('query_wait_timeout: [1]'), 'pgmoat.yaml: query_wait_timeout: expected a duration: seconds, or a string like "500ms", "30s", "5m", "2h", "1d", got a list'],
    ['negative duration', withTop('client_idle_timeout: -5'), 'pgmoat.yaml: client_idle_timeout: expected a duration of 0 or more, got -5'],
    ['size too small', withTop('max_packet_size: 512'), 'pgmoat.yaml: max_packet_size: expected a size from 1kB to 1GB, got 512'],
    ['size too large', withTop('max_packet_size: 2GB'), 'pgmoat.yaml: max_packet_size: expected a size from 1kB to 1GB, got "2GB"'],
    ['size garbage', withTop('max_packet_size: lots'), 'pgmoat.yaml: max_packet_size: expected a size: bytes, or a string like "64kB", "16MB", "1GB", got "lots"'],
    ['pool mode typo', withTop('pool_mode: transacton'), 'pgmoat.yaml: pool_mode: expected one of session, transaction, statement, got "transacton" (did you mean "transaction"?)'],
    ['boolean', withTop('tcp_keepalive: "yes"'), 'pgmoat.yaml: tcp_keepalive: expected true or false, got "yes"'],
    ['string', withTop('server_reset_query: 5'), 'pgmoat.yaml: server_reset_query: expected a string, got 5'],
    ['log level', withTop('log: { level: verbose }'), 'pgmoat.yaml: log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"'],
    ['log format', withTop('log: { format: text }'), 'pgmoat.yaml: log.format: expected one of json, pretty, got "text"'],
    ['min above pool size', withTop('min_pool_size: 30'), 'pgmoat.yaml: min_pool_size: must not exceed default_pool_size (20)'],
    ['db min above db pool', withDb('pool_size: 5, min_pool_size: 6'), 'pgmoat.yaml: databases.app.min_pool_size: must not exceed the pool size (5)'],
    ['db pool below global min', `${withDb('pool_size: 2')}\nmin_pool_size: 3`, 'pgmoat.yaml: databases.app.pool_size: must not be below the top-level min_pool_size (3)'],
    ['tls mode', withTls('mode: strict, cert: server.crt, key: server.key, ca: ca.crt'), 'pgmoat.yaml: tls.mode: expected one of disable, allow, prefer, require, verify-ca, verify-full, got "strict"'],
    ['tls cert missing', withTls('key: server.key, ca: ca.crt'), 'pgmoat.yaml: tls.cert: required unless mode is disable (mode is verify-full)'],
    ['tls key missing', withTls('mode: require, cert: server.crt'), 'pgmoat.yaml: tls.key: required unless mode is disable (mode is require)'],
    ['tls ca missing', withTls('mode: verify-ca, cert: server.crt, key: server.key'), 'pgmoat.yaml: tls.ca: required when mode is verify-ca: the CA bundle client certificates must chain to'],
    ['tls versions', withTls('cert: server.crt, key: server.key, ca: ca.crt, min_version: TLSv1.3, max_version: TLSv1.2'), 'pgmoat.yaml: tls.max_version: must not be lower than min_version (TLSv1.3)'],
    ['tls version name', withTls('cert: server.crt, key: server.key, ca: ca.crt, min_version: "1.2"'), 'pgmoat.yaml: tls.min_version: expected one of TLSv1.2, TLSv1.3, got "1.2"'],
    ['ciphers', withTls('cert: server.crt, key: server.key, ca: ca.crt, ciphers: NOPE'), 'pgmoat.yaml: tls.ciphers: OpenSSL matches no cipher in this list, got "NOPE"'],
    ['ciphersuites', withTls('cert: server.crt, key: server.key, ca: ca.crt, ciphersuites: AES256'), 'pgmoat.yaml: tls.ciphersuites: expected TLS 1.3 suite names separated by ":" (e.g. "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"), got "AES256"'],
    ['groups', withTls('cert: server.crt, key: server.key, ca: ca.crt, groups: "X25519:nope"'), 'pgmoat.yaml: tls.groups: OpenSSL does not know one of these groups (e.g. "X25519:P-256"), got "X25519:nope"'],
    ['tls empty path', withTls('cert: "", key: server.key, ca: ca.crt'), 'pgmoat.yaml: tls.cert: expected a non-empty string, got ""'],
    ['crl state without crl', withTls('cert: server.crt, key: server.key, ca: ca.crt, crl_state_file: crl-state.json'), 'pgmoat.yaml: tls.crl_state_file: set without crl'],
    ['allow without eku', withTls('cert: server.crt, key: server.key, ca: ca.crt, allow_client_certs_without_eku: 1'), 'pgmoat.yaml: tls.allow_client_certs_without_eku: expected true or false, got 1'],
    ['databases missing', 'tls: { mode: disable }', 'pgmoat.yaml: databases: is required'],
    ['databases empty', 'tls: { mode: disable }\ndatabases: {}', 'pgmoat.yaml: databases: at least one database is required'],
    ['databases a list', 'tls: { mode: disable }\ndatabases: [app]', 'pgmoat.yaml: databases: expected a mapping of database names to settings, got a list'],
    ['database not a mapping', 'tls: { mode: disable }\ndatabases: { app: 5 }', 'pgmoat.yaml: databases.app: expected a mapping (key: value), got 5'],
    ['database without settings', 'tls: { mode: disable }\ndatabases:\n  app:\n', 'pgmoat.yaml: databases.app.host: is required'],
    ['reserved name', `${MINIMAL}  pgmoat: { host: h }\n`, 'pgmoat.yaml: databases.pgmoat: the name "pgmoat" is reserved for the admin console'],
    ['long name', `${MINIMAL}  ${'d'.repeat(64)}: { host: h }\n`, `pgmoat.yaml: databases.${'d'.repeat(64)}: database name must be 1 to 63 bytes, got 64`],
    ['odd name quoted in path', `${MINIMAL}  "my.db": { port: 1 }\n`, 'pgmoat.yaml: databases["my.db"].host: is required'],
    ['dbname too long', withDb(`dbname: ${'x'.repeat(64)}`), 'pgmoat.yaml: databases.app.dbname: expected at most 63 bytes, got 64'],
    ['db host', 'tls: { mode: disable }\ndatabases: { app: { host: "bad host" } }', 'pgmoat.yaml: databases.app.host: expected a host name or IP address (IPv6 without brackets), got "bad host"'],
    ['db pool size', withDb('pool_size: 0'), 'pgmoat.yaml: databases.app.pool_size: expected an integer of at least 1, got 0'],
    ['db pool mode', withDb('pool_mode: txn'), 'pgmoat.yaml: databases.app.pool_mode: expected one of session, transaction, statement, got "txn"'],
    ['db environment', withDb('environment: ""'), 'pgmoat.yaml: databases.app.environment: expected a non-empty string, got ""'],
    ['password both ways', withDb('password_file: app.password, password_env: PW'), 'pgmoat.yaml: databases.app.password_env: password_file and password_env are mutually exclusive: keep one'],
    ['password env unset', withDb('password_env: APP_PW'), 'pgmoat.yaml: databases.app.password_env: environment variable APP_PW is not set'],
    ['password env name', withDb('password_env: "APP PW"'), 'pgmoat.yaml: databases.app.password_env: expected an environment variable name, got a string'],
    ['password value never echoed', withDb('password_file: 12345'), 'pgmoat.yaml: databases.app.password_file: expected a non-empty string, got a number'],
    ['upstream verify without ca', withDb('tls: { mode: verify-full }'), 'pgmoat.yaml: databases.app.tls.ca: required when mode is verify-full: the CA bundle the server certificate must chain to'],
    ['upstream cert without key', withDb('tls: { cert: client.crt }'), 'pgmoat.yaml: databases.app.tls.key: required when cert is set'],
    ['upstream key without cert', withDb('tls: { key: client.key }'), 'pgmoat.yaml: databases.app.tls.cert: required when key is set'],
    ['upstream passphrase without key', withDb('tls: { key_passphrase_file: key.pass }'), 'pgmoat.yaml: databases.app.tls.key_passphrase_file: set without key'],
    ['upstream servername', withDb('tls: { servername: "a b" }'), 'pgmoat.yaml: databases.app.tls.servername: expected a host name or IP address (IPv6 without brackets), got "a b"'],
    ['user pool mode', withTop('users: { reporting: { pool_mode: sesion } }'), 'pgmoat.yaml: users.reporting.pool_mode: expected one of session, transaction, statement, got "sesion" (did you mean "session"?)'],
    ['user limit', withTop('users: { reporting: { max_user_connections: x } }'), 'pgmoat.yaml: users.reporting.max_user_connections: expected an integer of at least 0, got "x"'],
    ['admin identities', withTop('admin: { identities: ops }'), 'pgmoat.yaml: admin.identities: expected a list of certificate CNs, got "ops"'],
    ['admin identity empty', withTop('admin: { identities: [ops, ""] }'), 'pgmoat.yaml: admin.identities[1]: expected a non-empty string, got ""'],
    ['admin http port', withTop('admin: { http: { host: 127.0.0.1 } }'), 'pgmoat.yaml: admin.http.port: is required'],
    ['admin http tls', withTop('admin: { http: { port: 9187, tls: { cert: server.crt } } }'), 'pgmoat.yaml: admin.http.tls.key: is required'],
    [
      'admin http eku without ca',
      withTop('admin: { http: { port: 9187, tls: { cert: server.crt, key: server.key, allow_client_certs_without_eku: true } } }'),
      'pgmoat.yaml: admin.http.tls.allow_client_certs_without_eku: set without ca: without ca the listener asks for no client certificate',
    ],
    [
      'admin http eku not a boolean',
      withTop('admin: { http: { port: 9187, tls: { cert: server.crt, key: server.key, ca: ca.crt, allow_client_certs_without_eku: yes please } } }'),
      'pgmoat.yaml: admin.http.tls.allow_client_certs_without_eku: expected true or false, got "yes please"',
    ],
    ['unknown top-level key, near miss', withTop('pool_mod: session'), 'pgmoat.yaml: pool_mod: unknown key (did you mean "pool_mode"?)'],
    ['unknown nested key, near miss', withDb('prot: 5432'), 'pgmoat.yaml: databases.app.prot: unknown key (did you mean "port"?)'],
    ['unknown key, nothing close', withTop('colour: blue'), 'pgmoat.yaml: colour: unknown key'],
    ['unknown key in tls', withTls('cert: server.crt, key: server.key, ca: ca.crt, sslmode: verify-full'), 'pgmoat.yaml: tls.sslmode: unknown key'],
    ['unknown key under users', withTop('users: { bob: { poolsize: 3 } }'), 'pgmoat.yaml: users.bob.poolsize: unknown key (did you mean "pool_size"?)'],
    ['a password in the wrong place is not echoed', withDb('password: hunter2'), 'pgmoat.yaml: databases.app.password: unknown key'],
  ];
  for (const [name, yaml, line] of cases) {
    it(name, () => assertProblem(yaml, line));
  }

  it('tls.crl_state_file: its directory must exist', () => {
    const problems = fx.problems(withTls('cert: server.crt, key: server.key, ca: ca.crt, crl: crl.pem, crl_state_file: nowhere/crl-state.json'));
    assert.deepEqual(problems, [`pgmoat.yaml: tls.crl_state_file: directory not found: ${join(fx.dir, 'nowhere')}`]);
  });

  it('never echoes a password written where a key is expected', () => {
    const problems = fx.problems(withDb('password: hunter2, password_file: "hunter2"'));
    assert.ok(problems.every((p) => !p.includes('hunter2 ') && !p.endsWith('"hunter2"')), problems.join('\n'));
  });

  it('collects every problem, one per line', () => {
    const problems = fx.problems(`
listen: { port: 99999 }
pool_mode: transacton
tls: { mode: verify-full, cert: server.crt }
databases:
  app: { host: 127.0.0.1, port: abc, prot: 1 }
  other: { port: 5432 }
`);
    assert.deepEqual(problems.sort(), [
      'pgmoat.yaml: databases.app.port: expected an integer from 1 to 65535, got "abc"',
      'pgmoat.yaml: databases.app.prot: unknown key (did you mean "port"?)',
      'pgmoat.yaml: databases.other.host: is required',
      'pgmoat.yaml: listen.port: expected an integer from 0 to 65535, got 99999',
      'pgmoat.yaml: pool_mode: expected one of session, transaction, statement, got "transacton" (did you mean "transaction"?)',
      'pgmoat.yaml: tls.ca: required when mode is verify-full: the CA bundle client certificates must chain to',
      'pgmoat.yaml: tls.key: required unless mode is disable (mode is verify-full)',
    ]);
  });
});
