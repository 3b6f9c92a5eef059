import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTransientUpstreamFailure } from './failure.js';
import { UpstreamError } from './connect.js';
import { PgmoatError } from '../util/errors.js';

function refused(sqlstate: string): UpstreamError {
  return new UpstreamError('UPSTREAM_LOGIN_REFUSED', 'refused', { sqlstate, fields: { severity: 'FATAL', code: sqlstate, message: 'refused' } });
}

test('a restarting, recovering or full server is retried; a wrong password or database is not', () => {
  for (const state of ['57P03', '57P01', '57P02', '53300', '53200', '08006', '08001']) assert.equal(isTransientUpstreamFailure(refused(state)), true, state);
  for (const state of ['28P01', '28000', '3D000', '42501', '08P01', '08004', '0A000']) assert.equal(isTransientUpstreamFailure(refused(state)), false, state);
});

test('socket failures are retried; an exchange that does not verify, a protocol error or bad TLS is not', () => {
  const sock = (code: string): Error => Object.assign(new Error(code), { code });
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_CONNECT', 'refused', { sqlstate: '08001', cause: sock('ECONNREFUSED') })), true);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_TIMEOUT', 'timeout', { sqlstate: '08001' })), true);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_LOGIN', 'closed', { sqlstate: '08006' })), true);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_TLS', 'reset', { sqlstate: '08001', cause: sock('ECONNRESET') })), true);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_TLS', 'bad cert', { sqlstate: '08001', cause: Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }) })), false);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_AUTH', 'incorrect server signature', { sqlstate: '08P01' })), false);
  assert.equal(isTransientUpstreamFailure(new UpstreamError('UPSTREAM_PROTOCOL', 'bad answer', { sqlstate: '08P01' })), false);
  assert.equal(isTransientUpstreamFailure(new PgmoatError('PASSWORD_MISSING', 'missing')), false);
  assert.equal(isTransientUpstreamFailure(new Error('plain')), false);
});
