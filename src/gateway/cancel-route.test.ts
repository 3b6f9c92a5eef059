import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WorkerCancelRouter, encodePid, maxK, ownerOf } from './cancel-route.js';

test('an encoded pid is positive, a 32-bit int, and names its owner', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 256 }), fc.nat(), fc.nat(), (count, rawIndex, rawK) => {
      const index = rawIndex % count;
      const k = 1 + (rawK % maxK(count));
      const pid = encodePid(k, { index, count });
      assert.ok(pid >= 1 && pid <= 2 ** 31 - 1, `pid ${pid}`);
      assert.equal(pid | 0, pid, 'fits BackendKeyData');
      assert.equal(ownerOf(pid, count), index);
    }),
  );
  // The largest k still fits for the last worker.
  assert.ok(encodePid(maxK(7), { index: 6, count: 7 }) <= 2 ** 31 - 1);
});

test('a router owns the pids it allocates and forwards the others, secret included', () => {
  const sent: [number, number][] = [];
  const routers = [0, 1, 2].map((index) => new WorkerCancelRouter({ index, count: 3 }, (pid, secret) => sent.push([pid, secret])));
  for (const [i, r] of routers.entries()) {
    for (let n = 0; n < 200; n++) {
      const pid = r.allocate();
      assert.ok(r.owns(pid));
      for (const [j, other] of routers.entries()) if (j !== i) assert.ok(!other.owns(pid));
    }
  }
  routers[0]!.forward(5, -7);
  routers[0]!.forward(0, 1); // no worker owns a pid of 0 or below
  routers[0]!.forward(-3, 1);
  assert.deepEqual(sent, [[5, -7]]);
});
