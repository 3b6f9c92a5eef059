/**
 * Test helper: copies a fixture directory into a temp dir, replaces @DIR@ in its text files
 * with that dir, and creates the certificate/key files the fixture names (keys 0600), so that
 * the converted output can go through pgmoat's real config loader.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type LoadedConfig } from '../../src/config/load.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

export interface Staged {
  dir: string;
  ini: string;
  /** Writes a file under the staged dir (creating directories), with a mode. */
  file(rel: string, content?: string, mode?: number): string;
  /** parseConfig over the output, relative paths against the staged dir. */
  load(yaml: string, env?: Record<string, string>): LoadedConfig;
  cleanup(): void;
}

function replaceDir(dir: string, root: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) replaceDir(p, root);
    else writeFileSync(p, readFileSync(p, 'utf8').replaceAll('@DIR@', root));
  }
}

export function stage(fixture: string, files: Record<string, number> = {}): Staged {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-pgb-import-'));
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  replaceDir(dir, dir);
  const staged: Staged = {
    dir,
    ini: join(dir, 'pgbouncer.ini'),
    file(rel, content = 'PEM\n', mode = 0o644) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      chmodSync(p, mode);
      return p;
    },
    load(yaml, env = {}) {
      return parseConfig(yaml, { path: 'pgmoat.yaml', dir, env });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const [rel, mode] of Object.entries(files)) staged.file(rel, 'PEM\n', mode);
  return staged;
}

/** `file:line: setting` of each "not carried over" line, file names relative to the staged dir. */
export function notCarried(notes: readonly string[], dir: string): string[] {
  return notes
    .filter((n) => n.includes(': not carried over: '))
    .map((n) => n.slice(0, n.indexOf(': not carried over: ')).replace(`${dir}/`, ''));
}
