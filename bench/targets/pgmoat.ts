/**
 * pgmoat as users run it: what bin/pgmoat runs, `node --openssl-config=bin/openssl.cnf
 * dist/src/cli/main.js serve --config pgmoat.yaml` with GLIBC_TUNABLES from bin/glibc-tunables, in a child process, configured like PgBouncer (verify-full, transaction pooling, same pool size and
 * certificates, plain TCP upstream). With `cpuProfDir`, node writes a .cpuprofile there when
 * the process exits, which is why it is stopped with SIGTERM and given time to exit by itself.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Pki } from '../../test/harness/cert-factory.js';
import { freePort } from '../../test/harness/free-port.js';
import { BENCH_DB, BENCH_ROLE } from './postgres.js';
import { stopProcess, waitForPort, type RunningPooler } from './pooler.js';
import { processTree } from './process-stats.js';

export interface PgmoatOptions {
  mainJs: string;
  pki: Pki;
  upstreamPort: number;
  poolSize: number;
  maxClientConn: number;
  workers: number;
  logPath: string;
  cpuProfDir: string | undefined;
  /** Merged (deeply, objects only) into the generated config. */
  extraConfig?: Record<string, unknown> | undefined;
  /** Added to the environment of this pgmoat process only (--compare-env). */
  env?: Record<string, string> | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const cur = out[k];
    out[k] = isObject(cur) && isObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

/** Whether this pgmoat build has `serve --workers`. */
export function pgmoatHasWorkers(mainJs: string): boolean {
  try {
    return execFileSync(process.execPath, [mainJs, 'serve', '--help'], { encoding: 'utf8' }).includes('--workers');
  } catch {
    return false;
  }
}

/** The directory of the package.json above a build's main.js. */
/** The folder above `file` that holds a package.json: the checkout or build a file belongs to. */
export function packageRoot(mainJs: string): string {
  let root = dirname(mainJs);
  while (root !== '/' && !existsSync(join(root, 'package.json'))) root = dirname(root);
  return root;
}

/** package.json version and, when the build is a git checkout, its commit (with "+dirty"). */
export function pgmoatVersion(mainJs: string): string {
  const root = packageRoot(mainJs);
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // no package.json above the build
  }
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${version} (${commit}${dirty ? '+dirty src' : ''})`;
  } catch {
    return version;
  }
}

export async function startPgmoat(o: PgmoatOptions): Promise<RunningPooler> {
  const dir = mkdtempSync('/tmp/pgmoat-bench-pgmoat-');
  chmodSync(dir, 0o700);
  const port = await freePort();
  const generated = {
    listen: { host: '127.0.0.1', port },
    max_client_conn: o.maxClientConn,
    pool_mode: 'transaction',
    default_pool_size: o.poolSize,
    shutdown_timeout: '1s',
    tls: { mode: 'verify-full', cert: o.pki.server.certPath, key: o.pki.server.keyPath, ca: o.pki.main.caPath, crl: o.pki.crlPath },
    databases: {
      [BENCH_DB]: { host: '127.0.0.1', port: o.upstreamPort, dbname: BENCH_DB, user: BENCH_ROLE, tls: { mode: 'disable' } },
    },
  };
  const config = o.extraConfig ? deepMerge(generated, o.extraConfig) : generated;
  const configPath = join(dir, 'pgmoat.yaml');
  // JSON is YAML: no need for the yaml package here.
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  const nodeArgs: string[] = [];
  // What bin/pgmoat (the `pgmoat` command) starts Node with; a build without the file predates it.
  const opensslConfig = join(packageRoot(o.mainJs), 'bin/openssl.cnf');
  if (existsSync(opensslConfig)) nodeArgs.push(`--openssl-config=${opensslConfig}`);
  // --compare-env's variables, as an operator's own environment would be.
  const env = { ...process.env, ...o.env };
  // bin/pgmoat's malloc settings, the same way (the environment's GLIBC_TUNABLES after them, so they win); older builds have no file.
  const tunablesFile = join(packageRoot(o.mainJs), 'bin/glibc-tunables');
  if (existsSync(tunablesFile)) {
    const tunables = readFileSync(tunablesFile, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).join(':');
    env.GLIBC_TUNABLES = env.GLIBC_TUNABLES ? `${tunables}:${env.GLIBC_TUNABLES}` : tunables;
  }
  if (o.cpuProfDir) {
    mkdirSync(o.cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', o.cpuProfDir);
  }
  const args = [...nodeArgs, o.mainJs, 'serve', '--config', configPath, ...(o.workers > 1 ? ['--workers', String(o.workers)] : [])];
  const logFd = openSync(o.logPath, 'a');
  const proc = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd], cwd: dir, env });
  closeSync(logFd);
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.on('exit', killOnExit);
  try {
    await waitForPort(port, proc, o.logPath);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`pgmoat ${(err as Error).message}`);
  }
  return {
    label: o.workers > 1 ? `pgmoat (${o.workers} workers)` : 'pgmoat',
    port,
    logPath: o.logPath,
    pids: () => processTree(proc.pid!),
    async stop() {
      // A profile is only written when node exits by itself.
      const graceful = await stopProcess(proc, 15_000, 'SIGTERM');
      if (!graceful && o.cpuProfDir) process.stderr.write('bench: pgmoat did not exit within 15 s of SIGTERM; its CPU profile is lost\n');
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
