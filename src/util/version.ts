/** pgmoat's version, read from the package.json above this file (works from src/ and from dist/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackage(): { root: string; version: string } | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pgmoat' && pkg.version) return { root: dir, version: pkg.version };
    }
    dir = dirname(dir);
  }
  return undefined;
}

export function packageVersion(): string {
  return findPackage()?.version ?? '0.0.0';
}

/** The directory holding pgmoat's package.json (files shipped beside dist/, such as assets/). */
export function packageRoot(): string | undefined {
  return findPackage()?.root;
}
