import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, postgres) were not found on PATH, through `pg_config --bindir`, ' +
  'or under /usr/lib/postgresql/*/bin; install them with: apt-get update && apt-get install -y postgresql';

function hasServerBinaries(dir: string): boolean {
  return existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
}

/** The directory holding initdb and postgres, or an Error that names the install command. */
export function findPgBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && hasServerBinaries(dir)) return dir;
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (hasServerBinaries(dir)) return dir;
  } catch {
    // pg_config missing: fall through to the Debian layout
  }
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = join(base, v, 'bin');
      if (hasServerBinaries(dir)) return dir;
    }
  }
  throw new Error(INSTALL_HINT);
}

/** A client tool (psql, pgbench) from the server's bindir when present, else from PATH. */
export function pgTool(name: string): string {
  try {
    const dir = findPgBinDir();
    if (existsSync(join(dir, name))) return join(dir, name);
  } catch {
    // no server binaries: PATH may still have the client
  }
  return name;
}
