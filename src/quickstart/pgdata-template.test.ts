import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { defaultTemplateDir, installedPgliteVersion, planDataDir, readManifest, sha256Hex, TEMPLATE_ARCHIVE, TEMPLATE_MANIFEST } from './pgdata-template.js';
import { readTar } from './tar.js';

const REGENERATE = 'regenerate it with: npm run quickstart-template';

function shipped(): string {
  const dir = defaultTemplateDir();
  assert.ok(dir, 'pgmoat package root not found');
  return dir;
}

test('the shipped data-directory template was made by the installed PGlite and matches its manifest', () => {
  const dir = shipped();
  const manifest = readManifest(dir);
  assert.equal(manifest.pglite, installedPgliteVersion(), `assets/quickstart/${TEMPLATE_ARCHIVE} was made by another PGlite: ${REGENERATE}`);
  const archive = readFileSync(join(dir, TEMPLATE_ARCHIVE));
  assert.equal(archive.length, manifest.bytes, REGENERATE);
  assert.equal(sha256Hex(archive), manifest.sha256, REGENERATE);
  const entries = new Map(readTar(brotliDecompressSync(archive)).map((e) => [e.name, e]));
  assert.equal(Buffer.from(entries.get('PG_VERSION')!.data).toString('utf8').trim(), manifest.postgres);
  assert.equal(entries.get('global/pg_control')?.type, 'file');
  assert.equal(entries.has('postmaster.pid'), false, 'the template must come from a cleanly shut down PGlite');
});

test('planDataDir: reuse an initialised directory; the template only when it fits; initdb otherwise, with the reason', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pgmoat-plan-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'pgdata');

  assert.equal(planDataDir(dataDir).kind, 'template');
  mkdirSync(dataDir);
  assert.equal(planDataDir(dataDir).kind, 'template', 'an empty directory is filled');
  writeFileSync(join(dataDir, 'stray'), '');
  assert.match(String((planDataDir(dataDir) as { why?: string }).why), /not empty but holds no database/);
  writeFileSync(join(dataDir, 'PG_VERSION'), '18\n');
  assert.equal(planDataDir(dataDir).kind, 'reuse');

  const fresh = join(work, 'fresh');
  assert.match(String((planDataDir(fresh, null) as { why?: string }).why), /no ready-made data directory/);

  const other = join(work, 'template');
  mkdirSync(other);
  copyFileSync(join(shipped(), TEMPLATE_ARCHIVE), join(other, TEMPLATE_ARCHIVE));
  const manifest = readManifest(shipped());
  writeFileSync(join(other, TEMPLATE_MANIFEST), JSON.stringify({ ...manifest, pglite: '0.0.1' }));
  assert.deepEqual(planDataDir(fresh, other), { kind: 'initdb', why: `the ready-made data directory is for PGlite 0.0.1, PGlite ${installedPgliteVersion()} is installed` });
  writeFileSync(join(other, TEMPLATE_MANIFEST), JSON.stringify({ ...manifest, sha256: '00'.repeat(32) }));
  assert.match(String((planDataDir(fresh, other) as { why?: string }).why), /does not match its checksum/);
  writeFileSync(join(other, TEMPLATE_MANIFEST), JSON.stringify(manifest));
  assert.equal(planDataDir(fresh, other).kind, 'template');
});
