import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityTracker, SEEN_WINDOW_MS } from './identity-tracker.js';
import type { PeerIdentity } from '../tls/peer-identity.js';

function identity(cn: string, serial: string): PeerIdentity {
  return { cn, environment: 'production', serial, fingerprint256: `FP:${serial}`, notAfter: new Date(2030, 0, 1), notBefore: new Date(2020, 0, 1), issuerCn: 'ca', uris: [], dnsNames: [] };
}

test('an identity is kept for 24 hours after it was last seen', () => {
  const t = new IdentityTracker();
  t.record(identity('a', '1'), 0);
  t.record(identity('b', '2'), 1000);
  assert.equal(t.recent(SEEN_WINDOW_MS).length, 2);
  assert.deepEqual(
    t.recent(SEEN_WINDOW_MS + 500).map((e) => e.cn),
    ['b'],
  );
  t.record(identity('b', '2'), SEEN_WINDOW_MS + 600);
  assert.deepEqual(
    t.recent(2 * SEEN_WINDOW_MS).map((e) => e.cn),
    ['b'],
  );
  assert.equal(t.size, 1);
});

test('the set is bounded: the least recently seen goes first', () => {
  const t = new IdentityTracker(3);
  for (let i = 0; i < 10; i++) t.record(identity(`n${i}`, String(i)), i);
  t.record(identity('n7', '7'), 100); // refreshed: now the most recent
  t.record(identity('x', 'x'), 101);
  assert.equal(t.size, 3);
  assert.deepEqual(
    t.recent(200).map((e) => e.cn),
    ['n9', 'n7', 'x'],
  );
});
