/**
 * Access rules end to end: `rules:` in pgmoat.yaml and a pg_hba.conf-format hba_file, identity
 * maps (inline and pg_ident.conf), environment separation over a permissive rule. Every refusal
 * is checked with node-postgres (SQLSTATE and message) and psql (the FATAL line).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { assertLoggedIn, assertNoSecrets, assertRefused, events, pgLogin, secretsOf, tlsSection, upstreamDb } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
const c = {} as Record<'app' | 'apiCi' | 'other' | 'blocked' | 'staging', ClientFiles>;

function config(access: Record<string, unknown>, mode = 'verify-ca'): Record<string, unknown> {
  return { tls: tlsSection(pki, { mode }), databases: { appdb: upstreamDb(upstream, 'appdb') }, ...access };
}

const YAML_RULES = {
  ident_maps: { ci: [{ cn: '/^(.*)-ci$/', role: '\\1' }] },
  rules: [
    { roles: ['blocked'], method: 'reject' },
    { cn: ['*-ci'], method: 'cert', map: 'ci' },
    { address: ['10.0.0.0/8', 'fd00::/8'], method: 'trust' },
    { cn: 'app', databases: ['appdb'], method: 'cert' },
  ],
};

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({
    setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE api LOGIN; CREATE ROLE other LOGIN; CREATE ROLE blocked LOGIN; CREATE DATABASE appdb OWNER app;',
  });
  c.app = await pki.client('app');
  c.apiCi = await pki.client('api-ci');
  c.other = await pki.client('other');
  c.blocked = await pki.client('blocked');
  c.staging = await pki.client('app', { environment: 'staging' });
  gw = await startGateway(config(YAML_RULES));
});
after(async () => {
  if (gw) assertNoSecrets(gw.logs(), secretsOf(pki, Object.values(c), []));
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

const login = (user: string, cert: ClientFiles) => pgLogin(gw.port, { user, database: 'appdb', cert });
const psqlAs = (user: string, cert: ClientFiles) => psql(conninfo(gw.port, { user, dbname: 'appdb', cert }), 'SELECT current_user');

test('yaml rules: a cert rule lets the CN in as itself', async () => {
  assertLoggedIn(await login('app', c.app), 'app');
  const r = await psqlAs('app', c.app);
  assert.equal(r.stdout, 'app');
  const line = events(gw, 'login').at(-1)!;
  assert.equal(line.rule, 'rules[3]');
  assert.equal(line.cn, 'app');
});

test('yaml rules: an identity map with a regex capture lets "api-ci" in as "api", and only as "api"', async () => {
  assertLoggedIn(await login('api', c.apiCi), 'api');
  const msg = 'certificate authentication failed for user "app": identity map "ci" does not let certificate "api-ci" use this role';
  assertRefused(await login('app', c.apiCi), '28000', msg);
  const r = await psqlAs('app', c.apiCi);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
});

test('yaml rules: no matching rule is refused with a pg_hba-like FATAL naming pgmoat rules', async () => {
  const msg = 'no pgmoat access rule for host "127.0.0.1", user "other", database "appdb", SSL encryption';
  assertRefused(await login('other', c.other), '28000', msg);
  const r = await psqlAs('other', c.other);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  assert.ok(r.stderr.includes('HINT:  No entry of rules: in'), r.stderr);
  const refused = events(gw, 'login_refused').at(-1)!;
  assert.equal(refused.reason, 'no rule');
  assert.equal(refused.auth_failure, true);
  assert.equal(refused.cn, 'other');
});

test('yaml rules: a reject rule refuses', async () => {
  const msg = 'pgmoat access rules reject connection for host "127.0.0.1", user "blocked", database "appdb", SSL encryption';
  assertRefused(await login('blocked', c.blocked), '28000', msg);
  const r = await psqlAs('blocked', c.blocked);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
});

test('a staging certificate never reaches a production database, even with a rule that trusts everyone', async () => {
  await gw.reload(config({ rules: [{ method: 'trust' }] }));
  const msg = 'certificate for environment "staging" may not connect to database "appdb", which requires environment "production"';
  assertRefused(await login('app', c.staging), '28000', msg);
  const r = await psqlAs('app', c.staging);
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  assert.equal(events(gw, 'login_refused').at(-1)!.reason, 'environment mismatch');
  // The same rule lets a production certificate in as any role (verify-ca, trust).
  assertLoggedIn(await login('other', c.app), 'other');
});

test('verify-full makes every rule check the identity, whatever its method', async () => {
  await gw.reload(config({ rules: [{ method: 'trust' }] }, 'verify-full'));
  assertRefused(await login('other', c.app), '28000', 'certificate authentication failed for user "other": the certificate was issued for "app"');
  assertLoggedIn(await login('app', c.app), 'app');
});

test('hba_file and ident_file in PostgreSQL formats', async () => {
  const hba = join(gw.dir, 'pg_hba.conf');
  const ident = join(gw.dir, 'pg_ident.conf');
  writeFileSync(
    hba,
    ['# TYPE  DATABASE USER ADDRESS METHOD', 'hostnossl all all 0.0.0.0/0 reject', 'hostssl all blocked 0.0.0.0/0 reject', 'hostssl appdb all 127.0.0.1/32 cert map=m', 'hostssl all all ::1/128 trust', ''].join('\n'),
  );
  writeFileSync(ident, ['# MAPNAME SYSTEM-USERNAME PG-USERNAME', 'm /^(.*)-ci$ \\1', 'm app app', ''].join('\n'));
  await gw.reload(config({ hba_file: hba, ident_file: ident }));
  assertLoggedIn(await login('api', c.apiCi), 'api');
  assertLoggedIn(await login('app', c.app), 'app');
  assertRefused(await login('app', c.apiCi), '28000', 'certificate authentication failed for user "app": identity map "m" does not let certificate "api-ci" use this role');
  assertRefused(await login('blocked', c.blocked), '28000', 'pgmoat access rules reject connection for host "127.0.0.1", user "blocked", database "appdb", SSL encryption');
  // "other" is not in the map: the cert line refuses it (no fall-through, as PostgreSQL).
  assertRefused(await login('other', c.other), '28000', 'certificate authentication failed for user "other": identity map "m" does not let certificate "other" use this role');
  writeFileSync(hba, 'hostssl all all ::1/128 trust\n');
  await gw.reload(config({ hba_file: hba }));
  const r = await psqlAs('app', c.app);
  assert.ok(r.stderr.includes('FATAL:  no pgmoat access rule for host "127.0.0.1", user "app", database "appdb", SSL encryption'), r.stderr);
  assert.ok(r.stderr.includes(`HINT:  No entry of hba_file ${hba} matches this connection.`), r.stderr);
});

test('a reload with a broken hba_file is refused and the running rules stay', async () => {
  const hba = join(gw.dir, 'pg_hba.conf');
  writeFileSync(hba, 'hostssl all +admins 0.0.0.0/0 cert\n');
  await assert.rejects(gw.reload(config({ hba_file: hba })), /pg_hba\.conf line 1: "\+admins" needs role membership/);
  const r = await psqlAs('app', c.app);
  assert.ok(r.stderr.includes('no pgmoat access rule'), 'the previous rules (only ::1) still apply');
});
