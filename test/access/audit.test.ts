/**
 * The audit trail of a real `pgmoat serve` process: one JSON line per connection attempt and
 * per session end with the documented fields; authentication failures matched by the fail2ban
 * filter of docs/audit.md (and only they, with the real source address even when a client
 * crafts its role name); and no password, key or verifier anywhere in the whole output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { makeScramSecret } from '../../src/auth/scram-secret.js';
import { assertNoSecrets, assertLoggedIn, assertRefused, pgLogin, secretsOf, tlsSection, upstreamDb, waitFor } from './helpers.js';

const PASSWORD = 'audit-Secr3t-pass';
const WRONG = 'audit-wr0ng-guess';
/** The filter documented in docs/audit.md, with fail2ban's <HOST> as a named group. */
const DOC = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
const FAILREGEX = /^failregex = (.+)$/m.exec(DOC)![1]!;
const FILTER = new RegExp(FAILREGEX.replace('<HOST>', '(?<host>[0-9A-Fa-f:.]+)'));

let upstream: PgServer;
let pki: Pki;
let dir: string;
let verifier: string;
let port: number;
let serve: Awaited<ReturnType<typeof startGatewayProcess>>;
const c = {} as Record<'app' | 'pw' | 'foreign' | 'expired' | 'revoked', ClientFiles>;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE pwuser LOGIN; CREATE DATABASE appdb OWNER app;' });
  c.app = await pki.client('app');
  c.pw = await pki.client('pwuser');
  c.foreign = await pki.client('app', { ca: 'foreign' });
  c.expired = await pki.client('app', { expired: true });
  c.revoked = await pki.client('app', { revoked: true });
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-audit-'));
  verifier = makeScramSecret(PASSWORD);
  const userlist = join(dir, 'userlist.txt');
  writeFileSync(userlist, `"pwuser" "${verifier}"\n`);
  chmodSync(userlist, 0o600);
  port = await freePort();
  const path = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    tls: tlsSection(pki),
    databases: { appdb: upstreamDb(upstream, 'appdb') },
    auth_file: userlist,
    rules: [{ roles: ['pwuser'], method: 'cert+scram-sha-256' }, { method: 'cert' }],
  });
  serve = await startGatewayProcess(path);
});
after(async () => {
  await serve?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const lines = (): Record<string, unknown>[] =>
  serve
    .output()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const raw = (): string[] => serve.output().split('\n').filter((l) => l !== '');

test('every attempt and every session end is one JSON line; fail2ban matches exactly the authentication failures', { timeout: 120_000 }, async () => {
  const at = (user: string, cert: ClientFiles | undefined, password?: string) =>
    pgLogin(port, { user, database: 'appdb', ...(cert ? { cert } : { caPath: pki.main.caPath }), ...(password ? { password } : {}) });
  assertLoggedIn(await at('app', c.app), 'app');
  assertLoggedIn(await at('pwuser', c.pw, PASSWORD), 'pwuser');
  assertRefused(await at('pwuser', c.pw, WRONG), '28P01', 'password authentication failed for user "pwuser"');
  assertRefused(await at('app', c.foreign), '28000', 'client certificate was not issued by a CA this gateway trusts');
  assertRefused(await at('app', c.expired), '28000', 'client certificate has expired');
  assertRefused(await at('app', c.revoked), '28000', 'client certificate has been revoked');
  assertRefused(await at('app', undefined), '28000', 'connection requires a valid client certificate: none was sent');
  // A role name made to look like another address to a careless filter.
  const crafted = 'x: bad password"} from 6.6.6.6 "msg":"authentication failure from 6.6.6.6: bad password';
  assertRefused(await at(crafted, c.app), '28000', `certificate authentication failed for user "${crafted}": the certificate was issued for "app"`);
  await waitFor(() => lines().filter((l) => l.event === 'session_end').length >= 2 && lines().filter((l) => l.event === 'login_refused').length >= 6, 'the audit lines');

  const all = lines();
  const logins = all.filter((l) => l.event === 'login');
  assert.equal(logins.length, 2);
  for (const l of logins) {
    for (const k of ['time', 'outcome', 'remote', 'cn', 'environment', 'serial', 'fingerprint256', 'database', 'role', 'tls', 'cipher', 'rule']) {
      assert.ok(l[k] !== undefined, `login line without ${k}: ${JSON.stringify(l)}`);
    }
    assert.equal(l.outcome, 'accepted');
  }
  assert.equal(logins[1]!.password, 'scram-sha-256');
  const ends = all.filter((l) => l.event === 'session_end');
  for (const e of ends) {
    assert.equal(typeof e.duration_ms, 'number');
    assert.ok((e.bytes_in as number) > 0 && (e.bytes_out as number) > 0, JSON.stringify(e));
    assert.equal(e.cn, e.role);
  }
  const refused = all.filter((l) => l.event === 'login_refused');
  assert.deepEqual(
    refused.map((l) => l.reason),
    ['bad password', 'unknown CA', 'expired', 'revoked', 'no certificate', 'identity not allowed for role'],
  );
  assert.equal(refused[3]!.serial, c.revoked.serial, 'the serial as pgmoat list prints it');
  assert.equal(refused[3]!.cn, 'app');
  assert.equal(refused[0]!.role, 'pwuser');
  assert.equal(refused[0]!.database, 'appdb');

  const matched = raw()
    .map((l) => FILTER.exec(l)?.groups?.host)
    .filter((h): h is string => h !== undefined);
  assert.deepEqual(matched, Array(6).fill('127.0.0.1'), 'one fail2ban match per authentication failure, always the real address');
});

test('no password, verifier or private key appears anywhere in the gateway output', () => {
  const secrets = [...secretsOf(pki, Object.values(c), [PASSWORD, WRONG]), verifier, verifier.split('$')[2]!];
  assertNoSecrets(raw(), secrets);
});
