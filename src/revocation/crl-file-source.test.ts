import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrlFileSource, type CrlFileSettings } from './crl-file-source.js';
import type { CrlMark } from './crl-order.js';
import type { RevocationList } from './revocation-list.js';
import type { RevocationChange } from './source.js';
import { captureLog } from './fakes.test-helper.js';

const ISSUER = 'CN=pgmoat test CA, O=pgmoat';
const DAY = 86_400_000;

/** A verified list as loadRevocationList returns it: CRL number `n`, issued on day `n` of 2026. */
function list(n: number, serials: readonly string[], nextUpdate = new Date(Date.now() + 7 * DAY)): RevocationList {
  const mark: CrlMark = { issuer: ISSUER, authorityKeyId: 'aa', crlNumber: BigInt(n), thisUpdate: new Date(Date.UTC(2026, 0, n)), digest: `d${n}` };
  return {
    revoked: new Map(serials.map((s) => [s, { serial: s, revokedAt: new Date(Date.UTC(2026, 0, n)), reason: 'keyCompromise' }])),
    thisUpdate: mark.thisUpdate,
    nextUpdate,
    crlCount: 1,
    crls: [mark],
    floor: [mark],
  };
}

function setup(first: RevocationList, statePath?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-crl-source-'));
  const settings: CrlFileSettings = { crlPath: join(dir, 'crl.pem'), statePath: statePath ?? join(dir, 'crl-state.json'), caPem: '' };
  const { log, events } = captureLog();
  const source = new CrlFileSource(settings, first, log);
  const changes: RevocationChange[] = [];
  source.subscribe((c) => changes.push(c));
  return { dir, settings, source, changes, events, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('answers from the list in force: the revocation, its serials, how fresh it is', () => {
  const s = setup(list(3, ['0a', 'ff']));
  try {
    assert.deepEqual(s.source.lookup('0a'), { serial: '0a', revokedAt: new Date(Date.UTC(2026, 0, 3)), reason: 'keyCompromise' });
    assert.equal(s.source.lookup('0b'), undefined);
    assert.deepEqual([...s.source.serials()], ['0a', 'ff']);
    const f = s.source.freshness()!;
    assert.equal(f.source, 'crl');
    assert.deepEqual(f.sequence, [{ issuer: ISSUER, number: 3n }]);
    assert.equal(f.revokedCount, 2);
    assert.equal(f.thisUpdate?.getTime(), Date.UTC(2026, 0, 3));
    const status = s.source.status();
    assert.equal(status.path, s.settings.crlPath);
    assert.equal(status.stale, false);
    assert.equal(status.revokedCount, 2);
  } finally {
    s.cleanup();
  }
});

test('a reload with a newer list puts it in force, says what it revokes and lifts, and records it', () => {
  const s = setup(list(3, ['0a', 'ff']));
  try {
    s.source.reload(s.settings, list(4, ['0a', '0b']));
    assert.equal(s.source.lookup('0b')?.serial, '0b');
    assert.equal(s.source.lookup('ff'), undefined);
    assert.deepEqual([s.changes.at(-1)?.added, s.changes.at(-1)?.removed], [['0b'], ['ff']]);
    const state = JSON.parse(readFileSync(s.settings.statePath!, 'utf8')) as { marks: { crl_number: string }[] };
    assert.equal(state.marks[0]?.crl_number, '4', 'the state file follows the list in force');
    assert.deepEqual(s.events('crl_reloaded'), [], 'a reload has its own log line, not the watch one');
  } finally {
    s.cleanup();
  }
});

test('a reload that read an older CRL than the one in force keeps the newer one', () => {
  // The watch applied CRL 5 while the reload was reading crl.pem against CRL 4.
  const s = setup(list(5, ['0a', '0b']));
  try {
    s.source.reload(s.settings, list(4, ['0a']));
    assert.equal(s.source.current.crls[0]?.crlNumber, 5n);
    assert.equal(s.source.lookup('0b')?.serial, '0b', 'nothing is un-revoked');
    assert.deepEqual([s.changes.at(-1)?.added, s.changes.at(-1)?.removed], [[], []]);
  } finally {
    s.cleanup();
  }
});

test('a reload that moves to another CRL file takes its list as read (it was checked against that file)', () => {
  const s = setup(list(5, ['0a']));
  try {
    const moved = { ...s.settings, crlPath: join(s.dir, 'other.pem') };
    s.source.reload(moved, list(1, ['0c']));
    assert.equal(s.source.path, moved.crlPath);
    assert.deepEqual([...s.source.serials()], ['0c']);
  } finally {
    s.cleanup();
  }
});

test('a stale list is reported at start and then once a minute; status says so', () => {
  const s = setup(list(3, ['0a'], new Date(Date.now() - DAY)));
  try {
    s.source.start();
    s.source.stop();
    assert.equal(s.events('crl_stale').length, 1);
    assert.equal(s.source.status().stale, true);
    assert.equal(s.source.lookup('0a')?.serial, '0a', 'a stale list is still enforced');
    const now = Date.now();
    s.source.poll(now + 1000);
    assert.equal(s.events('crl_stale').length, 1);
    s.source.poll(now + 61_000);
    assert.equal(s.events('crl_stale').length, 2);
  } finally {
    s.cleanup();
  }
});

test('a state file that cannot be written is reported once; the floor stays in memory', () => {
  const s = setup(list(3, ['0a']), '/proc/pgmoat-no-such-dir/crl-state.json');
  try {
    s.source.start();
    s.source.stop();
    s.source.reload(s.settings, list(4, ['0a']));
    assert.equal(s.events('crl_state_unwritable').length, 1);
    s.source.reload(s.settings, list(3, ['0a']));
    assert.equal(s.source.current.crls[0]?.crlNumber, 4n, 'the older list is still refused');
  } finally {
    s.cleanup();
  }
});
