import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { proxyExpectation, proxyPolicy } from './proxy-policy.js';

describe('proxyExpectation', () => {
  const required = proxyPolicy({ trusted: ['10.0.0.5', '10.1.0.0/16', 'fd00::/64'], required: true });
  const optional = proxyPolicy({ trusted: ['127.0.0.1'], required: false });

  it('is off without listen.proxy_protocol', () => {
    assert.equal(proxyPolicy(undefined), undefined);
    assert.equal(proxyExpectation(undefined, '10.0.0.5'), 'off');
  });

  it('requires a header from trusted addresses and networks, IPv4 as Node reports it on a dual-stack socket', () => {
    for (const peer of ['10.0.0.5', '::ffff:10.0.0.5', '10.1.200.3', 'fd00::1', 'fd00::ffff:1'])
      assert.equal(proxyExpectation(required, peer), 'require', peer);
  });

  it('allows a trusted peer without a header when required is false', () => {
    assert.equal(proxyExpectation(optional, '127.0.0.1'), 'allow');
  });

  it('refuses a header from anyone else, and from what cannot be read as an address', () => {
    for (const peer of ['10.0.0.6', '10.2.0.1', 'fd01::1', '127.0.0.1', '', 'not-an-address', undefined])
      assert.equal(proxyExpectation(required, peer), 'refuse', String(peer));
  });
});
