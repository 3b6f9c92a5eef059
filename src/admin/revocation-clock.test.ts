import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RevocationClock } from './revocation-clock.js';
import type { RevocationChange } from '../revocation/source.js';

test('times a serial revoked while running once, and forgets one a newer list lifts', () => {
  let listener: ((c: RevocationChange) => void) | undefined;
  const clock = new RevocationClock({ subscribe: (l) => ((listener = l), () => (listener = undefined)) });
  listener!({ source: 'crl', added: ['0a', '0b'], removed: [], publishedAt: 1000 });
  // A later change that lists 0a again does not move its time.
  listener!({ source: 'crl', added: ['0a'], removed: ['0b'], publishedAt: 5000 });
  assert.equal(clock.firstRefusal('0a', 3500), 2500);
  assert.equal(clock.firstRefusal('0a', 4000), undefined, 'only the first refusal');
  assert.equal(clock.firstRefusal('0b', 4000), undefined, 'lifted');
  assert.equal(clock.firstRefusal('0c', 4000), undefined, 'never timed');
  clock.close();
  assert.equal(listener, undefined);
});
