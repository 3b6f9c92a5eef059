import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from './schema.js';

const base = { tls: { mode: 'disable' }, databases: { app: { host: '127.0.0.1' } } };

function messages(extra: Record<string, unknown>): string[] {
  const r = configSchema.safeParse({ ...base, ...extra });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('peer_id and peers: ids 1..255 keyed as YAML gives them, send_proxy_v2 off by default', () => {
  const r = configSchema.parse({ ...base, peer_id: 2, peers: { '1': { host: '10.0.0.1', port: 6432 }, '255': { host: 'gw3', port: 1, send_proxy_v2: true } } });
  assert.equal(r.peer_id, 2);
  assert.deepEqual(r.peers['1'], { host: '10.0.0.1', port: 6432, send_proxy_v2: false });
  assert.equal(configSchema.parse(base).peer_id, undefined);
  assert.deepEqual(configSchema.parse(base).peers, {});
});

test('peers problems: without peer_id, an id out of range, a missing port, peer_id 0 or 256', () => {
  assert.ok(messages({ peers: { '1': { host: 'a', port: 1 } } }).some((m) => m.startsWith('peer_id: peers needs peer_id')));
  assert.ok(messages({ peer_id: 1, peers: { '256': { host: 'a', port: 1 } } }).some((m) => m.includes('from 1 to 255')));
  assert.ok(messages({ peer_id: 1, peers: { x: { host: 'a', port: 1 } } }).some((m) => m.includes('got "x"')));
  assert.ok(messages({ peer_id: 1, peers: { '2': { host: 'a' } } }).some((m) => m.startsWith('peers.2.port')));
  assert.ok(messages({ peer_id: 0 }).length > 0);
  assert.ok(messages({ peer_id: 256 }).length > 0);
  assert.deepEqual(messages({ peer_id: 9 }), [], 'peer_id alone is fine (keys carry it, nothing to forward to)');
});
