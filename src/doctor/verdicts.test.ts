import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginResult, queryResult, type LoginContext } from './verdicts.js';

const ctx: LoginContext = { user: 'api', database: 'appdb', timeoutMs: 1000, fix: { name: 'api', environment: 'staging', certPath: undefined, keyPath: undefined } };

function refused(message: string, routine?: string, hint?: string) {
  return loginResult(
    { kind: 'error-response', replied: false, method: undefined, fields: { severity: 'FATAL', code: '28000', message, ...(routine ? { routine } : {}), ...(hint ? { hint } : {}) } },
    ctx,
  );
}

test("pgmoat's login refusals are told apart by their code, not their words", () => {
  assert.equal(refused('anything', 'CERT_ROLE_MISMATCH').code, 'ROLE_MISMATCH');
  assert.equal(refused('anything', 'CERT_SAN_UNMAPPED').code, 'SAN_NOT_MAPPED');
  assert.equal(refused('anything', 'CERT_SAN_ROLE_MISMATCH').code, 'SAN_NOT_MAPPED');
  const env = refused('certificate for environment "staging" may not connect to database "appdb", which requires environment "production"', 'ENVIRONMENT_MISMATCH', 'Use a production certificate.');
  assert.equal(env.code, 'ENVIRONMENT_MISMATCH');
  assert.match(env.fix ?? '', /the environment of database "appdb": no access rule can override the environment check/);
  assert.match(env.fix ?? '', /pgmoat issue api --env production --dir CA_DIR --out NEW_DIR \(Use a production certificate\.\)$/);
  // Without pgmoat's code, its wording decides nothing: a plain access refusal.
  assert.equal(refused('certificate for environment "staging" may not connect').code, 'ACCESS_DENIED');
  // PostgreSQL's own clientcert=verify-full refusal is known by its wording.
  assert.equal(refused('certificate authentication failed for user "api"').code, 'ROLE_MISMATCH');
});

test('the query step reads upstream failures by pgmoat code and SQLSTATE', () => {
  const q = (fields: { code: string; message: string; routine?: string; severity?: string }) =>
    queryResult({ kind: 'error', fields: { severity: 'ERROR', ...fields } }, ctx);
  assert.equal(q({ code: '08001', message: 'x', routine: 'UPSTREAM_CONNECT' }).code, 'UPSTREAM_UNREACHABLE');
  assert.equal(q({ code: '57014', message: 'x', routine: 'QUERY_WAIT_TIMEOUT' }).code, 'UPSTREAM_UNREACHABLE');
  assert.equal(q({ code: '08001', message: 'x', routine: 'UPSTREAM_NO_TLS' }).code, 'UPSTREAM_NO_TLS');
  assert.equal(q({ code: '08001', message: 'TLS to upstream "a" (h:1) failed: ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match', routine: 'UPSTREAM_TLS' }).code, 'UPSTREAM_TLS_HOSTNAME');
  assert.equal(q({ code: '08001', message: 'TLS to upstream "a" (h:1) failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE: x', routine: 'UPSTREAM_TLS' }).code, 'UPSTREAM_TLS_UNTRUSTED');
  assert.equal(q({ code: '08001', message: 'TLS to upstream "a" (h:1) failed: CERT_HAS_EXPIRED: x', routine: 'UPSTREAM_TLS' }).code, 'UPSTREAM_TLS_CERT_EXPIRED');
  assert.equal(q({ code: '28P01', message: 'x', routine: 'UPSTREAM_LOGIN_REFUSED' }).code, 'UPSTREAM_AUTH_FAILED');
  assert.equal(q({ code: '28000', message: 'no pg_hba.conf entry for host "1.2.3.4", user "a", database "b", no encryption', routine: 'UPSTREAM_LOGIN_REFUSED' }).code, 'UPSTREAM_REQUIRES_TLS');
  // An older gateway passes PostgreSQL's routine on: SELECT 1 cannot fail with a login's SQLSTATE.
  assert.equal(q({ code: '3D000', message: 'x', routine: 'InitPostgres' }).code, 'UPSTREAM_NO_DATABASE');
  assert.equal(q({ code: '42601', message: 'syntax error' }).code, 'SQLSTATE_42601');
  assert.equal(queryResult({ kind: 'rows', value: '1' }, ctx).status, 'ok');
  assert.equal(queryResult({ kind: 'timeout' }, ctx).code, 'QUERY_TIMEOUT');
  // At login, the same SQLSTATE without pgmoat's code is the server's own refusal, not the upstream's.
  assert.equal(loginResult({ kind: 'error-response', replied: true, method: 'none', fields: { severity: 'FATAL', code: '28P01', message: 'x', routine: 'UPSTREAM_LOGIN_REFUSED' } }, ctx).code, 'UPSTREAM_AUTH_FAILED');
  assert.equal(loginResult({ kind: 'error-response', replied: true, method: 'none', fields: { severity: 'FATAL', code: '28P01', message: 'x', routine: 'auth_failed' } }, ctx).code, 'WRONG_PASSWORD');
});
