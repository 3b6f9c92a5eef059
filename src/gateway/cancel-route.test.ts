import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PEER_ID_MAX, PidRouter, encodePeerPid, encodePid, maxK, maxPeerK, ownerOf, peerOf } from './cancel-route.js';
import { PEER_ID_MAX as SCHEMA_PEER_ID_MAX } from '../config/peers-schema.js';

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

test('a pid of a peer group names its peer and its worker, whatever the worker count', () => {
  assert.equal(PEER_ID_MAX, SCHEMA_PEER_ID_MAX, 'the schema allows exactly the ids a pid can carry');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: PEER_ID_MAX }), fc.integer({ min: 1, max: 256 }), fc.nat(), fc.nat(), (peer, count, rawIndex, rawK) => {
      const index = rawIndex % count;
      const share = { index, count };
      const k = rawK % maxPeerK(share);
      const pid = encodePeerPid(peer, k, share);
      assert.ok(pid >= 1 && pid <= 2 ** 31 - 1, `pid ${pid}`);
      assert.equal(pid | 0, pid, 'fits BackendKeyData');
      assert.equal(peerOf(pid), peer);
      assert.equal(ownerOf(pid, count, peer), index);
    }),
  );
  // The largest k of the last worker of the last peer still fits.
  const last = { index: 6, count: 7 };
  assert.equal(peerOf(encodePeerPid(PEER_ID_MAX, maxPeerK(last) - 1, last)), PEER_ID_MAX);
});

test('a worker router owns the pids it allocates and forwards the others, secret included', () => {
  const sent: [number, number][] = [];
  const routers = [0, 1, 2].map((index) => new PidRouter({ share: { index, count: 3 } }, { worker: (pid, secret) => sent.push([pid, secret]) }));
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

test('peers: a pid of another peer goes to that peer, one of this peer to its worker', () => {
  const toWorker: [number, number][] = [];
  const toPeer: [number, number, number][] = [];
  const hops = { worker: (pid: number, secret: number) => toWorker.push([pid, secret]), peer: (id: number, pid: number, secret: number) => toPeer.push([id, pid, secret]) };
  const mine = [0, 1].map((index) => new PidRouter({ peerId: 3, share: { index, count: 2 } }, hops));
  const other = new PidRouter({ peerId: 200, share: { index: 0, count: 5 } }, hops);
  const single = new PidRouter({ peerId: 4 }, hops);
  for (let n = 0; n < 200; n++) {
    const a = mine[0]!.allocate();
    assert.ok(mine[0]!.owns(a) && !mine[1]!.owns(a) && !other.owns(a) && !single.owns(a));
    assert.equal(peerOf(a), 3);
    const b = other.allocate();
    assert.ok(other.owns(b) && !mine[0]!.owns(b));
    assert.ok(single.owns(single.allocate()));
  }
  const b = other.allocate();
  mine[1]!.forward(b, 9); // another peer's pid: to that peer, whatever the worker
  const a = mine[0]!.allocate();
  mine[1]!.forward(a, 8); // this peer's: to the worker owning it
  single.forward(a, 7); // a single process of peer 4: peer 3's pid goes to peer 3
  single.forward(123, 6); // a pid of a gateway without peer_id names peer 0: handed on as such, dropped there
  assert.deepEqual(toPeer, [[200, b, 9], [3, a, 7], [0, 123, 6]]);
  assert.deepEqual(toWorker, [[a, 8]]);
});
