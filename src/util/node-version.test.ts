import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeAtLeast, nodeVersionProblem } from './node-version.js';

test('nodeAtLeast compares major, then minor, with or without a leading v', () => {
  assert.deepEqual(['22.11.9', '22.12.0', 'v22.12.1', '23.0.0', '20.20.2', '24.21.0'].map((v) => nodeAtLeast(v, 22, 12)), [false, true, true, true, false, true]);
  assert.equal(nodeAtLeast('23.0.0', 23, 1), false);
  assert.equal(nodeAtLeast('23.1.0', 23, 1), true);
});

test('an unsupported Node gets a message that names both versions and how to get Node 24', () => {
  const message = nodeVersionProblem('v20.20.2');
  assert.match(message ?? '', /Node\.js 20\.20\.2 is too old: pgmoat needs Node\.js 22\.12 or newer/);
  assert.match(message ?? '', /npm install --prefix \S+ node@24/);
  assert.equal(nodeVersionProblem('22.12.0'), undefined);
  assert.equal(nodeVersionProblem(process.versions.node), undefined, 'the Node running the tests is supported');
});
