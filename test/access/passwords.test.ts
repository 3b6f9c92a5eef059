/**
 * Client passwords: SCRAM-SHA-256 and md5 (and cleartext) exchanges run by pgmoat with real
 * clients, with secrets from a userlist.txt made the way PgBouncer's docs say (pg_shadow of a
 * real PostgreSQL, used as is, comments and all), and cert+scram-sha-256 as a second factor.
 * An unknown role and a wrong password end in the same FATAL 28P01.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startupMessage } from '../../src/protocol/messages.js';
import { parseErrorFields } from '../../src/protocol/error-response.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { assertLoggedIn, assertNoSecrets, assertRefused, events, pgLogin, secretsOf, tlsSection, upstreamDb } from './helpers.js';

const PW = { app: 'scram-Pa55-word!', legacy: 'md5-l3gacy-pass', plain: 'pl41n-t3xt-secret', wrong: 'not-the-right-one', authUser: 'auth-us3r-pass' };

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let userlist: string;
let userlistText: string;
let appCert: ClientFiles;
let otherCert: ClientFiles;

function config(access: Record<string, unknown>, mode = 'require'): Record<string, unknown> {
  return { tls: tlsSection(pki, { mode }), databases: { appdb: upstreamDb(upstream, 'appdb') }, auth_file: userlist, ...access };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({
    setupSql: [
      `CREATE ROLE app LOGIN PASSWORD '${PW.app}';`,
      `SET password_encryption = 'md5'; CREATE ROLE legacy LOGIN PASSWORD '${PW.legacy}';`,
      'CREATE ROLE plainuser LOGIN; CREATE ROLE ghost LOGIN;',
      'CREATE DATABASE appdb OWNER app;',
    ].join('\n'),
  });
  // PgBouncer's recipe: one line per role from pg_shadow.
  const fromShadow = upstream.sql(`SELECT concat('"', usename, '" "', passwd, '"') FROM pg_shadow WHERE usename IN ('app', 'legacy') ORDER BY 1`);
  userlistText = ['; generated from pg_shadow for pgbouncer', fromShadow, `"plainuser" "${PW.plain}"    trailing text PgBouncer ignores`, ''].join('\n');
  appCert = await pki.client('app');
  otherCert = await pki.client('other');
  gw = await startGateway({ tls: tlsSection(pki, { mode: 'require' }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
  userlist = join(gw.dir, 'userlist.txt');
  writeFileSync(userlist, userlistText);
  chmodSync(userlist, 0o600);
  await gw.reload(
    config({
      rules: [
        { roles: ['legacy'], method: 'md5' },
        { roles: ['plainuser'], databases: ['appdb'], method: 'scram-sha-256' },
        { type: 'tls', method: 'scram-sha-256' },
      ],
    }),
  );
});
after(async () => {
  if (gw) {
    const verifiers = userlistText.split('\n').flatMap((l) => l.match(/SCRAM-SHA-256\$[^"]+|md5[0-9a-f]{32}/g) ?? []);
    assertNoSecrets(gw.logs(), [...secretsOf(pki, [appCert, otherCert], Object.values(PW)), ...verifiers]);
  }
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

const ca = () => pki.main.caPath;
const pgAs = (user: string, password: string | undefined, cert?: ClientFiles) =>
  pgLogin(gw.port, { user, database: 'appdb', password, caPath: ca(), ...(cert ? { cert } : {}) });
const psqlAs = (user: string, password: string, extra = '') =>
  psql(conninfo(gw.port, { user, dbname: 'appdb', sslmode: 'verify-full', extra: `sslrootcert=${ca()} ${extra}` }), 'SELECT current_user', { env: { PGPASSWORD: password } });

test('SCRAM-SHA-256 with the verifier PostgreSQL stored: node-postgres and psql log in', async () => {
  assertLoggedIn(await pgAs('app', PW.app), 'app');
  const r = await psqlAs('app', PW.app);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'app');
  const line = events(gw, 'login').at(-1)!;
  assert.equal(line.password, 'scram-sha-256');
  assert.equal(line.role, 'app');
});

test('a wrong password: FATAL 28P01 password authentication failed', async () => {
  const msg = 'password authentication failed for user "app"';
  assertRefused(await pgAs('app', PW.wrong), '28P01', msg);
  const r = await psqlAs('app', PW.wrong);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  const refused = events(gw, 'login_refused').at(-1)!;
  assert.equal(refused.reason, 'bad password');
  assert.equal(refused.auth_failure, true);
  assert.equal(refused.remote, '127.0.0.1');
  assert.equal(refused.msg, 'authentication failure from 127.0.0.1: bad password');
});

test('an unknown role gets the same exchange and the same error as a wrong password', async () => {
  assertRefused(await pgAs('ghost', PW.app), '28P01', 'password authentication failed for user "ghost"');
  assertRefused(await pgAs('nosuchrole', PW.app), '28P01', 'password authentication failed for user "nosuchrole"');
  const r = await psqlAs('nosuchrole', PW.app);
  assert.ok(r.stderr.includes('FATAL:  password authentication failed for user "nosuchrole"'), r.stderr);
});

test('md5 with the md5 hash PostgreSQL stored', async () => {
  assertLoggedIn(await pgAs('legacy', PW.legacy), 'legacy');
  assertRefused(await pgAs('legacy', PW.wrong), '28P01', 'password authentication failed for user "legacy"');
  const r = await psqlAs('legacy', PW.legacy);
  assert.equal(r.stdout, 'legacy', r.stderr);
});

test('a cleartext userlist entry serves SCRAM, md5 and password exchanges', async () => {
  assertLoggedIn(await pgAs('plainuser', PW.plain), 'plainuser');
  assertRefused(await pgAs('plainuser', PW.wrong), '28P01', 'password authentication failed for user "plainuser"');
  for (const method of ['md5', 'password']) {
    await gw.reload(config({ rules: [{ method }] }));
    assertLoggedIn(await pgAs('plainuser', PW.plain), 'plainuser');
    assertRefused(await pgAs('plainuser', PW.wrong), '28P01', 'password authentication failed for user "plainuser"');
    assertRefused(await pgAs('nosuchrole', PW.plain), '28P01', 'password authentication failed for user "nosuchrole"');
  }
  // md5 for a role whose only secret is a SCRAM verifier: SCRAM is used, as PostgreSQL does.
  assertLoggedIn(await pgAs('app', PW.app), 'app');
});

test('cert+scram-sha-256: both factors are needed', async () => {
  await gw.reload(config({ rules: [{ method: 'cert+scram-sha-256' }] }, 'verify-ca'));
  assertLoggedIn(await pgAs('app', PW.app, appCert), 'app');
  assertRefused(await pgAs('app', PW.wrong, appCert), '28P01', 'password authentication failed for user "app"');
  assertRefused(await pgAs('app', PW.app, otherCert), '28000', 'certificate authentication failed for user "app": the certificate was issued for "other"');
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: appCert }), 'SELECT current_user', { env: { PGPASSWORD: PW.wrong } });
  assert.ok(r.stderr.includes('FATAL:  password authentication failed for user "app"'), r.stderr);
  const ok = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: appCert }), 'SELECT current_user', { env: { PGPASSWORD: PW.app } });
  assert.equal(ok.stdout, 'app', ok.stderr);
});

test('auth_query: secrets of roles not in auth_file are looked up upstream, as PgBouncer does', async () => {
  // PgBouncer's recommended setup: a SECURITY DEFINER function, callable by a role without other rights.
  upstream.sql(
    [
      `CREATE ROLE pgmoat_auth LOGIN PASSWORD '${PW.authUser}';`,
      `CREATE ROLE dyn LOGIN PASSWORD '${PW.app}-dyn';`,
      'CREATE FUNCTION public.pgmoat_lookup(p_user name, OUT usename name, OUT passwd text) RETURNS record LANGUAGE sql SECURITY DEFINER AS $$ SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = p_user $$;',
      'REVOKE ALL ON FUNCTION public.pgmoat_lookup(name) FROM public; GRANT EXECUTE ON FUNCTION public.pgmoat_lookup(name) TO pgmoat_auth;',
    ].join('\n'),
    'appdb',
  );
  // auth_user must really log in with its password from auth_file.
  upstream.setHba(['local all all trust', 'host all pgmoat_auth 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''].join('\n'));
  writeFileSync(userlist, `${userlistText}"pgmoat_auth" "${PW.authUser}"\n`);
  await gw.reload(config({ auth_user: 'pgmoat_auth', auth_query: 'SELECT usename, passwd FROM public.pgmoat_lookup($1)', rules: [{ method: 'scram-sha-256' }] }));
  assertLoggedIn(await pgAs('dyn', `${PW.app}-dyn`), 'dyn');
  assertRefused(await pgAs('dyn', PW.wrong), '28P01', 'password authentication failed for user "dyn"');
  assertRefused(await pgAs('ghost', PW.app), '28P01', 'password authentication failed for user "ghost"'); // no password upstream
  assertRefused(await pgAs('nosuchrole', PW.app), '28P01', 'password authentication failed for user "nosuchrole"');
  assertLoggedIn(await pgAs('app', PW.app), 'app'); // auth_file first
  // Looked up at each login: a password changed upstream applies at once.
  upstream.sql(`ALTER ROLE dyn PASSWORD '${PW.plain}-dyn'`);
  assertLoggedIn(await pgAs('dyn', `${PW.plain}-dyn`), 'dyn');
  // A broken auth_query refuses the login with a clear error, not a crash.
  await gw.reload(config({ auth_user: 'pgmoat_auth', auth_query: 'SELECT usename, passwd FROM no_such_table WHERE usename = $1', rules: [{ method: 'scram-sha-256' }] }));
  assertRefused(await pgAs('dyn', PW.app), '28000', 'could not look up the password (auth_query failed; see the pgmoat log)');
  assert.equal(events(gw, 'auth_query_failed').at(-1)!.reason, 'auth_query failed upstream: relation "no_such_table" does not exist');
  assertLoggedIn(await pgAs('app', PW.app), 'app');
  // With a wrong auth_user password upstream refuses pgmoat, and the client is told so (proves the password is used).
  writeFileSync(userlist, `${userlistText}"pgmoat_auth" "${PW.wrong}"\n`);
  await gw.reload(config({ auth_user: 'pgmoat_auth', rules: [{ method: 'scram-sha-256' }] }));
  assertRefused(await pgAs('dyn', PW.app), '28000', 'could not look up the password (auth_query failed; see the pgmoat log)');
  assert.match(String(events(gw, 'auth_query_failed').at(-1)!.reason), /^auth_user "pgmoat_auth" could not log in upstream \(.*password authentication failed for user "pgmoat_auth"\)$/);
});

/** Direct TLS to the gateway, a StartupMessage, then whatever `steps` sends; collects the gateway's messages until it closes. */
function rawExchange(user: string, steps: (send: (b: Buffer) => void, got: { type: string; body: Buffer }[]) => void): Promise<{ type: string; body: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const got: { type: string; body: Buffer }[] = [];
    let buf = Buffer.alloc(0);
    const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ALPNProtocols: ['postgresql'], ca: pki.main.caPem });
    socket.on('secureConnect', () => socket.write(startupMessage({ user, database: 'appdb' })));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= buf.readUInt32BE(1) + 1) {
        const len = buf.readUInt32BE(1);
        got.push({ type: String.fromCharCode(buf[0]!), body: buf.subarray(5, len + 1) });
        buf = buf.subarray(len + 1);
        steps((b) => socket.write(b), got);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    setTimeout(() => reject(new Error('the gateway did not close the connection')), 20_000).unref();
  });
}

test('a client that breaks the exchange gets one FATAL and a closed connection', { timeout: 60_000 }, async () => {
  await gw.reload(config({ rules: [{ method: 'scram-sha-256' }] }));
  const cases: [string, Buffer, string, string][] = [
    ['not a password message', Buffer.from([0x51, 0, 0, 0, 8, 0x53, 0x45, 0x4c, 0])], // a Query
    ['a length over the limit', Buffer.from([0x70, 0x7f, 0xff, 0xff, 0xff])],
    ['an unknown mechanism', saslInitial('SCRAM-SHA-1', 'n,,n=,r=abc')],
    ['a malformed client-first-message', saslInitial('SCRAM-SHA-256', 'garbage')],
  ].map(([what, bytes]) => [what as string, bytes as Buffer, '08P01', '']);
  for (const [what, bytes, code] of cases) {
    const got = await rawExchange('app', (send, msgs) => {
      if (msgs.length === 1 && msgs[0]!.type === 'R') send(bytes);
    });
    assert.equal(got[0]?.type, 'R', `${what}: AuthenticationSASL first`);
    const last = got.at(-1)!;
    assert.equal(last.type, 'E', `${what}: ends with an ErrorResponse`);
    const f = parseErrorFields(last.body);
    assert.equal(f.code, code, `${what}: ${f.message}`);
    assert.equal(f.severity, 'FATAL');
  }
  assertLoggedIn(await pgAs('app', PW.app), 'app');
});

test('a client that stops answering during the exchange is dropped at client_login_timeout', { timeout: 60_000 }, async () => {
  await gw.reload({ ...config({ rules: [{ method: 'scram-sha-256' }] }), client_login_timeout: 1 });
  const got = await rawExchange('app', () => undefined);
  assert.equal(got[0]?.type, 'R');
  const f = parseErrorFields(got.at(-1)!.body);
  assert.equal(f.message, 'the client did not complete authentication within client_login_timeout');
  assert.equal(events(gw, 'login_refused').at(-1)!.reason, 'login timeout');
});

function saslInitial(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data);
  const m = Buffer.from(`${mechanism}\0`);
  const out = Buffer.alloc(1 + 4 + m.length + 4 + d.length);
  out[0] = 0x70;
  out.writeUInt32BE(out.length - 1, 1);
  m.copy(out, 5);
  out.writeInt32BE(d.length, 5 + m.length);
  d.copy(out, 9 + m.length);
  return out;
}
