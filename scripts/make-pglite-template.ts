/**
 * Makes assets/quickstart/pglite-pgdata.tar.br and its manifest: the data directory that the
 * installed PGlite's initdb writes, shut down cleanly, packed and compressed. The quick start's
 * first run unpacks it instead of running initdb. Run it after every PGlite upgrade (a test
 * fails until the manifest names the installed version):
 *
 *   npm run quickstart-template   (node --import tsx scripts/make-pglite-template.ts)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { packDir } from '../src/quickstart/tar.js';
import { installedPgliteVersion, sha256Hex, TEMPLATE_ARCHIVE, TEMPLATE_MANIFEST, type TemplateManifest } from '../src/quickstart/pgdata-template.js';

const out = new URL('../assets/quickstart/', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'pgmoat-template-'));
try {
  const dataDir = join(work, 'pgdata');
  const db = await PGlite.create({ dataDir });
  await db.query('SELECT 1');
  await db.close(); // a clean shutdown: checkpoint written, no postmaster.pid left
  const tar = packDir(dataDir);
  // A 16 MB window lets brotli share the three near-identical databases (template0, template1, postgres).
  const archive = brotliCompressSync(tar, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: tar.length },
  });
  const manifest: TemplateManifest = {
    pglite: installedPgliteVersion(),
    postgres: readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim(),
    sha256: sha256Hex(archive),
    bytes: archive.length,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, TEMPLATE_ARCHIVE), archive);
  writeFileSync(join(out, TEMPLATE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`wrote ${join(out, TEMPLATE_ARCHIVE)} (${archive.length} bytes from ${tar.length}) for PGlite ${manifest.pglite}, PostgreSQL ${manifest.postgres}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
