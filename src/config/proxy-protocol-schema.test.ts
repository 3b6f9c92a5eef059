/** listen.proxy_protocol: off unless set; trusted balancers as addresses or CIDRs; required by default. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, MINIMAL } from './fixture.test-helper.js';

const fx = makeFixture();
after(() => fx.cleanup());

const withListen = (listen: string): string => `${MINIMAL}\nlisten: ${listen}\n`;

function problems(yaml: string): string[] {
  return fx.problems(yaml, {});
}

describe('listen.proxy_protocol', () => {
  it('is off unless set', () => {
    assert.equal(fx.parse(MINIMAL).config.listen.proxy_protocol, undefined);
  });

  it('takes a list of addresses and networks; required defaults to true', () => {
    const { config } = fx.parse(withListen('{ proxy_protocol: { trusted: [10.0.0.5, "10.1.0.0/16", "fd00::/64", "::1"] } }'));
    assert.deepEqual(config.listen.proxy_protocol, { trusted: ['10.0.0.5', '10.1.0.0/16', 'fd00::/64', '::1'], required: true });
  });

  it('takes one address as a string, and required: false', () => {
    const { config } = fx.parse(withListen('{ proxy_protocol: { trusted: 127.0.0.1, required: false } }'));
    assert.deepEqual(config.listen.proxy_protocol, { trusted: ['127.0.0.1'], required: false });
  });

  const cases: Array<[string, string, string]> = [
    ['trusted missing', '{ proxy_protocol: { required: true } }', 'pgmoat.yaml: listen.proxy_protocol.trusted: is required'],
    ['trusted empty', '{ proxy_protocol: { trusted: [] } }', 'pgmoat.yaml: listen.proxy_protocol.trusted: expected at least one entry'],
    [
      'trusted not an address',
      '{ proxy_protocol: { trusted: [haproxy.internal] } }',
      'pgmoat.yaml: listen.proxy_protocol.trusted[0]: invalid IP address "haproxy.internal" (expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8)',
    ],
    [
      'trusted prefix too long',
      '{ proxy_protocol: { trusted: ["10.0.0.0/33"] } }',
      'pgmoat.yaml: listen.proxy_protocol.trusted[0]: invalid prefix length in "10.0.0.0/33" (0 to 32 for IPv4) (expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8)',
    ],
    ['required not a boolean', '{ proxy_protocol: { trusted: [127.0.0.1], required: maybe } }', 'pgmoat.yaml: listen.proxy_protocol.required: expected true or false, got "maybe"'],
    ['unknown key', '{ proxy_protocol: { trusted: [127.0.0.1], version: 2 } }', 'pgmoat.yaml: listen.proxy_protocol.version: unknown key'],
    ['not a mapping', '{ proxy_protocol: true }', 'pgmoat.yaml: listen.proxy_protocol: expected a mapping (key: value), got true'],
  ];
  for (const [name, listen, line] of cases) {
    it(name, () => {
      const found = problems(withListen(listen));
      assert.ok(found.includes(line), `expected the line\n  ${line}\namong\n  ${found.join('\n  ')}`);
    });
  }
});
