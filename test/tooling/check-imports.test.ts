// The import check in `npm test` must fail on what it is there to stop: a loop between files,
// an upward import between folders, and a folder it has no rank for. Each case is a small tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const script = new URL('../../scripts/check-imports.mjs', import.meta.url).pathname;

function check(files: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-imports-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = spawnSync(process.execPath, [script, '--src', dir], { encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a tree whose imports only go down passes', () => {
  const r = check({
    'util/a.ts': 'export const a = 1;\n',
    'protocol/b.ts': "import { a } from '../util/a.js';\nexport const b = a;\n",
    'pool/c.ts': "import type { b } from '../protocol/b.js';\nexport type C = typeof b;\n",
  });
  assert.equal(r.status, 0, r.output);
});

test('a loop between two files fails, type-only imports included', () => {
  const r = check({
    'relay/a.ts': "import type { B } from './b.js';\nexport type A = { b: B };\n",
    'relay/b.ts': "import type { A } from './a.js';\nexport type B = { a: A };\n",
  });
  assert.equal(r.status, 1);
  assert.match(r.output, /import loop between files: relay\/a\.ts <-> relay\/b\.ts/);
});

test('an upward import between folders fails and names the file', () => {
  const r = check({
    'pool/p.ts': 'export const p = 1;\n',
    'relay/r.ts': "import { p } from '../pool/p.js';\nexport const r = p;\n",
  });
  assert.equal(r.status, 1);
  assert.match(r.output, /upward import relay\/ -> pool\/.*relay\/r\.ts imports pool\/p\.ts/);
});

test('two sibling folders of one rank may not import each other', () => {
  const r = check({
    'upstream/u.ts': 'export const u = 1;\n',
    'accept/a.ts': "import { u } from '../upstream/u.js';\nexport const a = u;\n",
  });
  assert.equal(r.status, 1);
  assert.match(r.output, /upward import accept\/ -> upstream\//);
});

test('a folder without a rank fails', () => {
  const r = check({ 'misc/m.ts': 'export const m = 1;\n' });
  assert.equal(r.status, 1);
  assert.match(r.output, /src\/misc\/ is not in ROOMS/);
});
