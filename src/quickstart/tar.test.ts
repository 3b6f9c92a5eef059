import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDir, readTar, unpackTar } from './tar.js';

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-tar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('packDir and unpackTar round-trip files and directories, sorted, private modes', (t) => {
  const dir = scratch(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'base', '1'), { recursive: true });
  mkdirSync(join(src, 'pg_wal', 'empty'), { recursive: true });
  writeFileSync(join(src, 'PG_VERSION'), '18\n');
  writeFileSync(join(src, 'base', '1', '1259'), Buffer.alloc(8192 + 7, 0xab));
  writeFileSync(join(src, 'zero'), '');
  const tar = packDir(src);
  assert.deepEqual(
    readTar(tar).map((e) => `${e.type} ${e.name} ${e.data.length}`),
    ['file PG_VERSION 3', 'dir base 0', 'dir base/1 0', 'file base/1/1259 8199', 'dir pg_wal 0', 'dir pg_wal/empty 0', 'file zero 0'],
  );
  const dst = join(dir, 'dst');
  mkdirSync(dst);
  unpackTar(tar, dst);
  assert.deepEqual(readFileSync(join(dst, 'base', '1', '1259')), Buffer.alloc(8192 + 7, 0xab));
  assert.equal(readFileSync(join(dst, 'PG_VERSION'), 'utf8'), '18\n');
  assert.equal(statSync(join(dst, 'pg_wal', 'empty')).isDirectory(), true);
  assert.equal(statSync(join(dst, 'PG_VERSION')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dst, 'base')).mode & 0o777, 0o700);
  assert.deepEqual(packDir(src), tar, 'packing is deterministic');
});

test('readTar refuses names that leave the directory, damaged headers and a missing end', (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'aa'), 'x');
  const good = packDir(dir);
  const renamed = (name: string) => {
    const tar = Uint8Array.from(good);
    tar.fill(0, 0, 100);
    tar.set(Buffer.from(name), 0);
    // Recompute the checksum so that only the name is wrong.
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : tar[i]!;
    tar.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\u0000 `), 148);
    return tar;
  };
  assert.throws(() => readTar(renamed('..')), /unsafe entry name/);
  assert.throws(() => readTar(renamed('/ab')), /unsafe entry name/);
  assert.throws(() => readTar(renamed('a/../../b')), /unsafe entry name/);
  const flipped = Uint8Array.from(good);
  flipped[0] = 'b'.charCodeAt(0);
  assert.throws(() => readTar(flipped), /checksum mismatch/);
  assert.throws(() => readTar(good.subarray(0, 1024)), /no end-of-archive marker/);
});
