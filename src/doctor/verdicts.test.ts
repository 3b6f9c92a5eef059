import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginResult, type LoginContext } from './verdicts.js';

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
  const env = refused('certificate for environment "staging" may not connect', 'ENVIRONMENT_MISMATCH', 'Use a production certificate.');
  assert.equal(env.code, 'ENVIRONMENT_MISMATCH');
  assert.match(env.fix ?? '', /environment of database "appdb" \(Use a production certificate\.\)/);
  // Without pgmoat's code, its wording decides nothing: a plain access refusal.
  assert.equal(refused('certificate for environment "staging" may not connect').code, 'ACCESS_DENIED');
  // PostgreSQL's own clientcert=verify-full refusal is known by its wording.
  assert.equal(refused('certificate authentication failed for user "api"').code, 'ROLE_MISMATCH');
});
