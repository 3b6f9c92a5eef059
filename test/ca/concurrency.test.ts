/**
 * The inventory under concurrent writers and crashes: ten `pgmoat issue` processes at once leave
 * ten entries; a process SIGKILLed while it holds the lock leaves a readable inventory, and the
 * next command takes the stale lock over.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectResult, openssl, pgmoat, spawnPgmoat } from './run-pgmoat.js';
import { parseInventory } from '../../src/ca/inventory.js';

let work: string;
let dir: string;
let out: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-conc-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

function inventoryNow(): ReturnType<typeof parseInventory> {
  const path = join(dir, 'inventory.json');
  return parseInventory(readFileSync(path, 'utf8'), path);
}

test('ten concurrent issue runs leave ten entries', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `app${i}`);
  const results = await Promise.all(names.map((n) => pgmoat(['issue', n, '--env', 'production', '--dir', dir, '--out', out])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const inv = inventoryNow();
  const clients = inv.certificates.filter((c) => c.kind === 'client');
  assert.deepEqual(clients.map((c) => c.name).sort(), names);
  assert.equal(new Set(clients.map((c) => c.serial)).size, 10);
  for (const n of names) {
    const v = openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(out, `${n}.crt`)]);
    assert.ok(v.ok, v.out);
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')), []);
});

test('a process killed mid-write leaves the previous inventory readable', async (t) => {
  const lockDir = join(dir, '.pgmoat.lock');
  let caught = 0;
  let tornWrites = 0;
  let tries = 0;
  let committed = inventoryNow().certificates.length;
  const lockIno = (): number | undefined => {
    try {
      return statSync(lockDir).ino;
    } catch {
      return undefined;
    }
  };
  // Bounded: stop once processes were killed inside the critical section three times and at
  // least once with a temp file on disk, or after 12 tries.
  while ((caught < 3 || tornWrites < 1) && tries < 12) {
    tries += 1;
    // A lock left by the previous kill is taken over (removed and made again) by the next
    // process once stale: only a lock directory with a new inode belongs to the new process.
    const staleIno = lockIno();
    const mine = (): boolean => {
      const ino = lockIno();
      return ino !== undefined && ino !== staleIno;
    };
    const child = spawnPgmoat(['issue', `killed${tries}`, '--env', 'production', '--dir', dir, '--out', join(out, `k${tries}`)]);
    const done = collectResult(child);
    if (tries % 2 === 0) {
      // Kill the moment a temp file for the inventory or CRL shows up: between write and rename.
      const watcher = watch(dir, (_event, file) => {
        if (file && file.endsWith('.tmp')) child.kill('SIGKILL');
      });
      await done;
      watcher.close();
    } else {
      // Kill a few milliseconds after the process took the lock: while it signs or writes.
      const deadline = Date.now() + 30_000;
      while (!mine() && child.exitCode === null && Date.now() < deadline) await sleep(1);
      await sleep(Math.floor(Math.random() * 10));
      child.kill('SIGKILL');
    }
    const r = await done;
    if (r.signal === 'SIGKILL' && mine()) caught += 1;
    if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) tornWrites += 1;

    // Whatever happened, the inventory parses and holds either the old or the old+1 entries.
    const inv = inventoryNow();
    assert.ok(inv.certificates.length === committed || inv.certificates.length === committed + 1, `${inv.certificates.length} vs ${committed}`);
    committed = inv.certificates.length;
    for (const c of inv.certificates) assert.ok(openssl(['x509', '-noout'], c.certificate).ok);
  }
  t.diagnostic(`killed ${caught} of ${tries} processes while they held the lock, ${tornWrites} with a temp file half-written`);
  assert.ok(caught >= 1, `never caught a process inside the critical section in ${tries} tries`);

  // The next command takes the stale lock over, removes temp files and works.
  const next = await pgmoat(['issue', 'after-crash', '--env', 'production', '--dir', dir, '--out', out]);
  assert.equal(next.code, 0, next.stderr);
  assert.ok(inventoryNow().certificates.some((c) => c.name === 'after-crash'));
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.includes('.lock')), []);
  const list = await pgmoat(['list', '--dir', dir]);
  assert.equal(list.code, 0, list.stderr);
});
