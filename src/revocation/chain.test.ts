import { test } from 'node:test';
import assert from 'node:assert/strict';
import { revokedInChain } from './chain.js';
import { assertNotRevoked } from './session-enforcer.js';
import type { Revocation, RevocationCheck } from './source.js';

function check(...serials: string[]): RevocationCheck {
  const m = new Map<string, Revocation>(serials.map((s) => [s, { serial: s, revokedAt: undefined, reason: 'cACompromise' }]));
  return { lookup: (s) => m.get(s) };
}

test('a certificate is revoked through any CA above it, and only through its own chain', () => {
  const leaf = { serial: '0a', issuerSerials: ['1b', '2c'] };
  assert.equal(revokedInChain(check(), leaf), undefined);
  assert.equal(revokedInChain(check('0a'), leaf)?.serial, '0a');
  assert.equal(revokedInChain(check('1b'), leaf)?.serial, '1b', 'a revoked intermediate');
  assert.equal(revokedInChain(check('1b'), { serial: '0a', issuerSerials: ['3d', '2c'] }), undefined, 'another intermediate');
  assert.equal(revokedInChain(check('1b'), { serial: '0a' }), undefined, 'no chain read: the leaf alone');
  assert.throws(() => assertNotRevoked(check('2c'), leaf), { code: 'CLIENT_CERT_REVOKED' });
});
