import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSan, parseSans, MAX_EXTRA_SANS } from './san.js';

test('DNS and URI SANs, SPIFFE IDs included, are accepted and normalised', () => {
  assert.deepEqual(parseSan('DNS:API.Internal'), { type: 'dns', value: 'api.internal' });
  assert.deepEqual(parseSan('dns:db-1.prod.example.com'), { type: 'dns', value: 'db-1.prod.example.com' });
  assert.deepEqual(parseSan('URI:spiffe://prod.example/ns/prod/sa/api'), { type: 'url', value: 'spiffe://prod.example/ns/prod/sa/api' });
  assert.deepEqual(parseSan('URI:https://id.example.com/workload/7'), { type: 'url', value: 'https://id.example.com/workload/7' });
  assert.deepEqual(parseSans(['DNS:a.b', 'dns:A.B', 'URI:spiffe://td/x']), [
    { type: 'dns', value: 'a.b' },
    { type: 'url', value: 'spiffe://td/x' },
  ]);
});

test('malformed SANs are refused with INVALID_SAN', () => {
  for (const bad of [
    'api.internal', // no type
    'IP:10.0.0.1', // not offered for client identities
    'DNS:*.example.com',
    'DNS:bad_name',
    'DNS:',
    'URI:not a uri',
    'URI:relative/path',
    'URI:pgmoat://production/other', // the environment URI is pgmoat's own
    'URI:spiffe://Prod.Example/ns', // trust domain must be lowercase
    'URI:spiffe://td/ns/../admin',
    'URI:spiffe://td/ns?x=1',
    'URI:spiffe://td/ns#f',
    'URI:https://x/a,b',
    'URI:https://x/\u0000',
  ]) {
    assert.throws(() => parseSan(bad), { code: 'INVALID_SAN' }, bad);
  }
  const many = Array.from({ length: MAX_EXTRA_SANS + 1 }, (_, i) => `DNS:h${i}.example`);
  assert.throws(() => parseSans(many), { code: 'INVALID_SAN', message: /at most 16/ });
});
