import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerStatementCache, StatementRegistry } from './statement-registry.js';
import { fe } from './wire.test-helper.js';
import { RequestQueue, HIDE, PASS, SYNTH } from './request-queue.js';

/** The Parse body of `fe.parse(name, sql, types)` and where its query part starts. */
function parseBody(name: string, sql: string, types: number[] = []): { buf: Buffer; from: number; end: number } {
  const buf = fe.parse(name, sql, types);
  return { buf, from: 5 + Buffer.byteLength(name) + 1, end: buf.length };
}

test('one server-side name per query text and parameter types, whatever the client calls it', () => {
  const r = new StatementRegistry();
  const a = parseBody('a', 'SELECT $1', [23]);
  const b = parseBody('other_name', 'SELECT $1', [23]);
  const c = parseBody('a', 'SELECT $1', [25]);
  const d = parseBody('a', 'SELECT $1 ', [23]);
  const defA = r.lookup(a.buf, a.from, a.end);
  assert.equal(defA.serverName, 'PGMOAT_1');
  assert.equal(r.lookup(b.buf, b.from, b.end), defA, 'same text and types: same statement');
  assert.equal(r.lookup(c.buf, c.from, c.end).serverName, 'PGMOAT_2', 'other parameter types: another statement');
  assert.equal(r.lookup(d.buf, d.from, d.end).serverName, 'PGMOAT_3', 'other text: another statement');
  assert.equal(r.size, 3);
  assert.deepEqual(defA.parseMessage, fe.parse('PGMOAT_1', 'SELECT $1', [23]), 'a whole Parse under the server-side name');
});

test('the Parse a statement keeps does not change when the buffer it was read from is reused', () => {
  const r = new StatementRegistry();
  const a = parseBody('a', 'SELECT 1');
  const def = r.lookup(a.buf, a.from, a.end);
  a.buf.fill(0);
  assert.deepEqual(def.parseMessage, fe.parse('PGMOAT_1', 'SELECT 1'));
});

test('a server connection keeps at most max_prepared_statements, evicting the least recently used', () => {
  const c = new ServerStatementCache(2);
  assert.equal(c.add('s1'), undefined);
  assert.equal(c.add('s2'), undefined);
  assert.equal(c.has('s1'), true); // s1 used: s2 is now the oldest
  assert.equal(c.add('s3'), 's2');
  assert.equal(c.has('s2'), false);
  assert.equal(c.size, 2);
  c.delete('s1');
  assert.equal(c.has('s1'), false);
  c.clear();
  assert.equal(c.size, 0);
});

test('the request queue keeps order across growth and wrap-around', () => {
  const q = new RequestQueue();
  const kinds: number[] = [];
  let next = 0;
  // Push and shift unevenly so that the ring wraps and grows with entries in it.
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5; i++) {
      q.push(next, next % 3 === 0 ? PASS : next % 3 === 1 ? HIDE : SYNTH, `s${next}`);
      kinds.push(next++);
    }
    for (let i = 0; i < 3; i++) {
      const e = q.shift()!;
      const want = kinds.shift()!;
      assert.equal(e.kind, want);
      assert.equal(e.statement, `s${want}`);
    }
  }
  assert.equal(q.length, kinds.length);
  assert.equal(q.peek()?.kind, kinds[0]);
  q.clear();
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
});
