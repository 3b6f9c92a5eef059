import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { cidrContains, formatCidr, formatIp, parseAddrMask, parseCidr, parseIp, type Cidr } from './cidr.js';

test('IPv4 and IPv6 parsing', () => {
  assert.deepEqual(parseIp('127.0.0.1'), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
  assert.deepEqual(parseIp('::'), { family: 6, value: 0n });
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), { family: 6, value: 0xffff7f000001n });
  assert.deepEqual(parseIp('::FFFF:7f00:1'), { family: 6, value: 0xffff7f000001n });
  assert.deepEqual(parseIp('2001:db8::'), { family: 6, value: 0x20010db8n << 96n });
  assert.deepEqual(parseIp('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
  assert.deepEqual(parseIp('1:2:3:4:5:6:1.2.3.4'), { family: 6, value: 0x00010002000300040005000601020304n });
  assert.deepEqual(parseIp('1:2:3:4:5:6:7::'), { family: 6, value: 0x00010002000300040005000600070000n });
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', 'localhost', ':::', '1:::2', '1::2::3',
    ':1', '1:', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', 'g::1', '::1%eth0']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('CIDR and address+mask forms', () => {
  assert.equal(formatCidr(parseCidr('10.0.0.0/8')), '10.0.0.0/8');
  assert.equal(formatCidr(parseCidr('192.168.1.77/24')), '192.168.1.0/24'); // host bits cleared, as pg_hba
  assert.equal(formatCidr(parseCidr('2001:DB8:0:0:1::/64')), '2001:db8::/64');
  assert.equal(formatCidr(parseCidr('::/0')), '::/0');
  assert.equal(formatCidr(parseCidr('1.2.3.4', { allowBareAddress: true })), '1.2.3.4/32');
  assert.equal(formatCidr(parseAddrMask('192.168.12.10', '255.255.255.0')), '192.168.12.0/24');
  assert.equal(formatCidr(parseAddrMask('0.0.0.0', '0.0.0.0')), '0.0.0.0/0');
  assert.equal(formatCidr(parseAddrMask('fe80::1', 'ffff:ffff:ffff:ffff::')), 'fe80::/64');
  assert.throws(() => parseCidr('1.2.3.4'), /no "\/prefix"/);
  assert.throws(() => parseCidr('1.2.3.4/33'), /prefix length/);
  assert.throws(() => parseCidr('::/129'), /prefix length/);
  assert.throws(() => parseCidr('1.2.3.4/08'), /prefix length/);
  assert.throws(() => parseCidr('1.2.3.4/'), /prefix length/);
  assert.throws(() => parseCidr('host.example.com/24'), /invalid IP address/);
  assert.throws(() => parseAddrMask('1.2.3.4', '255.0.255.0'), /not contiguous/);
  assert.throws(() => parseAddrMask('1.2.3.4', 'ffff::'), /do not match/);
  assert.throws(() => parseAddrMask('1.2.3.4', 'bogus'), /invalid IP mask/);
});

test('cidrContains, including IPv4-mapped IPv6 on either side', () => {
  assert.equal(cidrContains('127.0.0.0/8', '127.0.0.1'), true);
  assert.equal(cidrContains('127.0.0.0/8', '::ffff:127.0.0.1'), true);
  assert.equal(cidrContains('127.0.0.0/8', '::ffff:128.0.0.1'), false);
  assert.equal(cidrContains('::ffff:127.0.0.0/104', '127.1.2.3'), true);
  assert.equal(cidrContains('::ffff:0:0/96', '8.8.8.8'), true);
  assert.equal(cidrContains('0.0.0.0/0', '::1'), false);
  assert.equal(cidrContains('::/0', '10.0.0.1'), false); // as PostgreSQL: families differ
  assert.equal(cidrContains('::/0', '::ffff:10.0.0.1'), false); // the same client, on a dual-stack socket
  assert.equal(cidrContains('::1/128', '::1'), true);
  assert.equal(cidrContains('fe80::/10', 'fe80::1%eth0'), true);
  assert.equal(cidrContains('2001:db8::/32', '2001:db9::1'), false);
  assert.equal(cidrContains('10.1.2.3', '10.1.2.3'), true);
  assert.equal(cidrContains(parseCidr('192.168.0.0/16'), '192.168.255.255'), true);
  assert.throws(() => cidrContains('10.0.0.0/8', 'not-an-address'), /invalid client address/);
});

const ipv4 = fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ family: 4 as const, value: BigInt(n) }));
const ipv6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((value) => ({ family: 6 as const, value }));
const sparseIpv6 = fc
  .array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 })
  .map((gs) => ({ family: 6 as const, value: gs.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) }));

test('format then parse gives the same address, and Node agrees it is an IP (property)', () => {
  fc.assert(
    fc.property(fc.oneof(ipv4, ipv6, sparseIpv6), (addr) => {
      const text = formatIp(addr);
      assert.deepEqual(parseIp(text), addr);
      assert.equal(isIP(text), addr.family);
    }),
    { numRuns: 500 },
  );
});

test('CIDR parse/format round-trip and containment of its own network (property)', () => {
  const cidr = fc.oneof(
    fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })),
    fc.tuple(fc.oneof(ipv6, sparseIpv6), fc.integer({ min: 0, max: 128 })),
  ).map(([addr, prefix]) => parseCidr(`${formatIp(addr)}/${prefix}`));
  fc.assert(
    fc.property(cidr, (c: Cidr) => {
      assert.deepEqual(parseCidr(formatCidr(c)), c);
      assert.equal(cidrContains(c, { family: c.family, value: c.network }), true);
    }),
    { numRuns: 500 },
  );
});
