/**
 * A ready-made PGlite data directory, shipped in assets/quickstart/: the quick start's first run
 * unpacks it instead of running initdb inside WebAssembly, which is the slowest and most
 * memory-hungry step of the first run (a second PGlite instance, initdb's own WebAssembly
 * module, then a copy of the result). It is what that initdb would have written, made by
 * scripts/make-pglite-template.ts with the installed PGlite and shut down cleanly.
 *
 * It is used only when its manifest names the installed PGlite version and its checksum holds;
 * otherwise (a newer PGlite from a looser install, a damaged file) initdb runs as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { packageRoot } from '../util/version.js';
import { errorMessage } from '../util/errors.js';
import { unpackTar } from './tar.js';

export const TEMPLATE_ARCHIVE = 'pglite-pgdata.tar.br';
export const TEMPLATE_MANIFEST = 'pglite-pgdata.json';

export interface TemplateManifest {
  /** The @electric-sql/pglite version that made the data directory. */
  pglite: string;
  /** The data directory's PG_VERSION. */
  postgres: string;
  /** sha256 (hex) and size of the archive file. */
  sha256: string;
  bytes: number;
}

export type DataDirPlan =
  | { kind: 'reuse' }
  | { kind: 'template'; archive: Uint8Array; manifest: TemplateManifest }
  | { kind: 'initdb'; why: string };

export function defaultTemplateDir(): string | undefined {
  const root = packageRoot();
  return root === undefined ? undefined : join(root, 'assets', 'quickstart');
}

export function installedPgliteVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('@electric-sql/pglite'));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export function readManifest(templateDir: string): TemplateManifest {
  return JSON.parse(readFileSync(join(templateDir, TEMPLATE_MANIFEST), 'utf8')) as TemplateManifest;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function isEmptyDir(path: string): boolean {
  return readdirSync(path).length === 0;
}

/**
 * What the data directory needs before PGlite opens it. `templateDir` null means "no template"
 * (tests use it to run the initdb path).
 */
export function planDataDir(dataDir: string, templateDir: string | null | undefined = defaultTemplateDir()): DataDirPlan {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return { kind: 'reuse' };
  if (existsSync(dataDir) && !isEmptyDir(dataDir)) return { kind: 'initdb', why: `${dataDir} is not empty but holds no database` };
  if (!templateDir || !existsSync(join(templateDir, TEMPLATE_MANIFEST))) return { kind: 'initdb', why: 'no ready-made data directory is installed' };
  try {
    const manifest = readManifest(templateDir);
    const installed = installedPgliteVersion();
    if (manifest.pglite !== installed) {
      return { kind: 'initdb', why: `the ready-made data directory is for PGlite ${manifest.pglite}, PGlite ${installed} is installed` };
    }
    const archive = readFileSync(join(templateDir, TEMPLATE_ARCHIVE));
    if (archive.length !== manifest.bytes || sha256Hex(archive) !== manifest.sha256) {
      return { kind: 'initdb', why: `${TEMPLATE_ARCHIVE} does not match its checksum` };
    }
    return { kind: 'template', archive, manifest };
  } catch (err) {
    return { kind: 'initdb', why: `the ready-made data directory cannot be read: ${errorMessage(err)}` };
  }
}

/**
 * Unpacks the template beside `dataDir` and renames it into place, so that an interrupted run
 * never leaves a half-written directory that looks like a database.
 */
export function unpackTemplate(archive: Uint8Array, dataDir: string): void {
  const staging = join(dirname(dataDir), `.${basename(dataDir)}.unpacking-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    unpackTar(brotliDecompressSync(archive), staging);
    if (existsSync(dataDir)) rmdirSync(dataDir); // planDataDir saw it empty
    renameSync(staging, dataDir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
