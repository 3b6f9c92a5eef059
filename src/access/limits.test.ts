import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCaps, HandshakeRateLimiter } from './limits.js';

const limits = (o: Partial<Record<string, number>> = {}) => ({
  handshakes_per_second: 0,
  handshakes_per_second_per_address: 0,
  connections_per_identity: 0,
  connections_per_address: 0,
  ...o,
});

describe('HandshakeRateLimiter', () => {
  it('0 means unlimited', () => {
    const r = new HandshakeRateLimiter();
    for (let i = 0; i < 1000; i++) assert.equal(r.admit('a', limits(), 0), 'ok');
  });
  it('global: a burst of one second, then refills with time', () => {
    const r = new HandshakeRateLimiter();
    const l = limits({ handshakes_per_second: 3 });
    assert.deepEqual([1, 2, 3, 4].map(() => r.admit('a', l, 1000)), ['ok', 'ok', 'ok', 'global']);
    assert.equal(r.admit('b', l, 1000), 'global', 'any address');
    assert.equal(r.admit('a', l, 1334), 'ok', 'a third of a second later, one more');
    assert.equal(r.admit('a', l, 1334), 'global');
  });
  it('per address: one address cannot use another one\'s budget, nor spend the global one when refused', () => {
    const r = new HandshakeRateLimiter();
    const l = limits({ handshakes_per_second: 3, handshakes_per_second_per_address: 2 });
    assert.deepEqual([1, 2, 3, 4].map(() => r.admit('a', l, 0)), ['ok', 'ok', 'address', 'address']);
    assert.equal(r.admit('b', l, 0), 'ok', 'the refused attempts of "a" did not use the global budget');
    assert.equal(r.admit('c', l, 0), 'global');
  });
  it('prune forgets refilled addresses', () => {
    const r = new HandshakeRateLimiter();
    const l = limits({ handshakes_per_second_per_address: 2 });
    r.admit('a', l, 0);
    r.admit('b', l, 0);
    r.prune(l, 100);
    assert.equal(r.trackedAddresses, 2);
    r.prune(l, 2000);
    assert.equal(r.trackedAddresses, 0);
  });
});

describe('ConnectionCaps', () => {
  it('caps per identity and per address; a lease released twice counts once', () => {
    const c = new ConnectionCaps();
    const l = limits({ connections_per_identity: 2, connections_per_address: 3 });
    const id = ConnectionCaps.identityKey({ cn: 'app', environment: 'production' });
    const a = c.tryAcquire(id, '10.0.0.1', l);
    const b = c.tryAcquire(id, '10.0.0.2', l);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(c.tryAcquire(id, '10.0.0.3', l), { ok: false, limit: 'identity', max: 2 });
    const other = ConnectionCaps.identityKey({ cn: 'app', environment: 'staging' });
    assert.ok(c.tryAcquire(other, '10.0.0.1', l).ok, 'another environment is another identity');
    assert.ok(c.tryAcquire(undefined, '10.0.0.1', l).ok);
    assert.deepEqual(c.tryAcquire(undefined, '10.0.0.1', l), { ok: false, limit: 'address', max: 3 });
    if (a.ok) {
      a.lease.release();
      a.lease.release();
    }
    assert.deepEqual(c.countFor(id, '10.0.0.1'), { identity: 1, address: 2 });
    assert.ok(c.tryAcquire(id, '10.0.0.9', l).ok);
  });
});
