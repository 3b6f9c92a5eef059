import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Revocations } from './revocations.js';
import type { RevocationChange } from './source.js';
import { FakeSource } from './fakes.test-helper.js';

function listen(r: Revocations): RevocationChange[] {
  const seen: RevocationChange[] = [];
  r.subscribe((c) => seen.push(c));
  return seen;
}

test('a serial is revoked when any source lists it; serials are the sorted union', () => {
  const r = new Revocations();
  assert.equal(r.lookup('0a'), undefined, 'no source, nothing revoked');
  r.set(new FakeSource('crl', ['0a', 'ff']));
  r.set(new FakeSource('postgres', ['ff', '01']));
  assert.equal(r.lookup('0a')?.serial, '0a');
  assert.equal(r.lookup('01')?.serial, '01');
  assert.equal(r.lookup('02'), undefined);
  assert.deepEqual(r.serials(), ['01', '0a', 'ff']);
  assert.deepEqual(r.freshness().map((f) => [f.source, f.revokedCount]), [['crl', 2], ['postgres', 2]]);
});

test("a source's change reaches every listener, and a source added, replaced or removed is a change too", () => {
  const r = new Revocations();
  const seen = listen(r);
  const crl = new FakeSource('crl', ['0a']);
  r.set(crl);
  assert.deepEqual(seen.at(-1), { source: 'crl', added: ['0a'], removed: [], publishedAt: seen.at(-1)!.publishedAt });
  crl.revoke(['0b'], 1234);
  assert.deepEqual(seen.at(-1), { source: 'crl', added: ['0b'], removed: [], publishedAt: 1234 });

  // Replaced by another of the same name: the old one is stopped and no longer heard.
  const next = new FakeSource('crl', ['0b', '0c']);
  r.set(next);
  assert.deepEqual(crl.calls, ['stop']);
  assert.equal(crl.listenerCount, 0);
  assert.deepEqual([seen.at(-1)!.added, seen.at(-1)!.removed], [['0c'], ['0a']]);
  const count = seen.length;
  crl.revoke(['0d']);
  assert.equal(seen.length, count, 'the replaced source is not heard any more');
  assert.equal(r.lookup('0d'), undefined);

  r.delete('crl');
  assert.deepEqual([seen.at(-1)!.added, seen.at(-1)!.removed], [[], ['0b', '0c']]);
  assert.deepEqual(next.calls, ['stop']);
  assert.equal(r.lookup('0b'), undefined);
  r.delete('crl'); // gone already: nothing happens
  assert.equal(seen.at(-1)!.removed.length, 2);
});

test('start, poll and stop reach every source; a source added while running starts at once', () => {
  const r = new Revocations();
  const a = new FakeSource('a');
  r.set(a);
  assert.deepEqual(a.calls, [], 'not started before the gateway listens');
  r.start();
  const b = new FakeSource('b');
  r.set(b);
  r.poll(42);
  r.stop();
  assert.deepEqual(a.calls, ['start', 'poll 42', 'stop']);
  assert.deepEqual(b.calls, ['start', 'poll 42', 'stop']);
});

test('unsubscribing stops the changes', () => {
  const r = new Revocations();
  const seen: RevocationChange[] = [];
  const off = r.subscribe((c) => seen.push(c));
  const s = new FakeSource('s');
  r.set(s);
  off();
  s.revoke(['01']);
  assert.equal(seen.length, 1);
});
