import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { environmentUri, isValidIdentityPart, parseIdentityUri } from './identity-format.js';
import { parseDays, parseHost } from './inputs.js';

test('identity parts: what is accepted and refused', () => {
  for (const ok of ['alice', 'a', 'app_1', 'web.api-2', '_x', 'A'.repeat(63)]) assert.ok(isValidIdentityPart(ok), ok);
  for (const bad of ['', '.hidden', '-x', 'a/b', '..', 'a b', 'a\tb', 'a\nb', 'a\u0000b', 'é', 'A'.repeat(64), 'a\\b', 'a:b']) {
    assert.equal(isValidIdentityPart(bad), false, JSON.stringify(bad));
  }
});

test('environmentUri and parseIdentityUri round-trip', () => {
  assert.equal(environmentUri('production', 'alice'), 'pgmoat://production/alice');
  assert.deepEqual(parseIdentityUri('pgmoat://production/alice'), { environment: 'production', name: 'alice' });
  assert.equal(parseIdentityUri('https://production/alice'), undefined);
  assert.equal(parseIdentityUri('pgmoat://production'), undefined);
  assert.equal(parseIdentityUri('pgmoat://prod/a/b'), undefined);
  assert.equal(parseIdentityUri('pgmoat:///alice'), undefined);
  assert.throws(() => environmentUri('prod', 'a/b'), /invalid name/);
  const part = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$/);
  fc.assert(fc.property(part, part, (env, name) => {
    assert.deepEqual(parseIdentityUri(environmentUri(env, name)), { environment: env, name });
  }));
  fc.assert(fc.property(fc.string(), (s) => {
    const parsed = parseIdentityUri(s);
    if (parsed) assert.equal(environmentUri(parsed.environment, parsed.name), s);
  }));
});

test('days and hosts', () => {
  assert.equal(parseDays('30'), 30);
  assert.equal(parseDays(1), 1);
  for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3', '99999999']) assert.throws(() => parseDays(bad), /whole number of days/, bad);
  assert.deepEqual(parseHost('db.example.com'), { type: 'dns', value: 'db.example.com' });
  assert.deepEqual(parseHost('::1'), { type: 'ip', value: '::1' });
  assert.deepEqual(parseHost('*.example.com'), { type: 'dns', value: '*.example.com' });
  for (const bad of ['', 'a b', 'a/b', '-x.com', 'x..y', 'a'.repeat(64)]) assert.throws(() => parseHost(bad), /invalid --host/, bad);
});
