/** Runs the pgmoat CLI from source (node --import tsx src/cli/main.ts) as a child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(REPO_ROOT, 'src/cli/main.ts');
// Resolved here, so the CLI can run with any working directory.
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnPgmoat(args: readonly string[], opts: { cwd?: string; input?: string } = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  child.stdin!.end(opts.input ?? '');
  return child;
}

export function collectResult(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function pgmoat(args: readonly string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  return collectResult(spawnPgmoat(args, opts));
}

/** Runs openssl: `out` is stdout followed by stderr, whatever the exit status. */
export function openssl(args: readonly string[], input?: string | Buffer): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input: input ?? '' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Every file under a dir with its mode and content, for "nothing changed on disk" checks. */
export function snapshotDir(dir: string): Record<string, string> {
  const snap: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      snap[rel || '.'] = 'missing';
      return;
    }
    snap[`${rel || '.'}/`] = `dir ${(statSync(d).mode & 0o777).toString(8)}`;
    for (const name of names) {
      const full = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full, r);
      else snap[r] = `${(st.mode & 0o777).toString(8)} ${readFileSync(full).toString('base64')}`;
    }
  };
  walk(dir, '');
  return snap;
}
