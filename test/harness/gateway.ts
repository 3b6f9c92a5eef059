/**
 * Runs a pgmoat gateway for a test: in-process (to reload and read its logs) or as the real
 * `pgmoat serve` process. Config is written as YAML into a temp dir.
 */
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { buildRuntimeConfig } from '../../src/runtime/runtime-config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { freePort } from './free-port.js';

export interface RunningGateway {
  readonly port: number;
  readonly dir: string;
  readonly configPath: string;
  readonly gateway: Gateway;
  /** Every log line so far, as parsed JSON. */
  logs(): Record<string, unknown>[];
  /** Rewrites the config file (object form) and reloads. */
  reload(config?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const path = join(dir, 'pgmoat.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

export async function startGateway(config: Record<string, unknown>): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-gw-'));
  chmodSync(dir, 0o700);
  const port = await freePort();
  // Other listen keys (proxy_protocol, ...) are kept; host and port are the test's.
  const listenOf = (c: Record<string, unknown>): Record<string, unknown> => ({ ...(c.listen as Record<string, unknown> | undefined), host: '127.0.0.1', port });
  const full = { ...config, listen: listenOf(config) };
  const configPath = writeConfig(dir, full);
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'debug', base: undefined }, sink);
  const gateway = new Gateway(await buildRuntimeConfig(await loadConfig(configPath)), log);
  await gateway.listen();
  return {
    port,
    dir,
    configPath,
    gateway,
    logs: () => lines,
    async reload(next?: Record<string, unknown>) {
      if (next) writeConfig(dir, { ...next, listen: listenOf(next) });
      gateway.reload(await buildRuntimeConfig(await loadConfig(configPath), undefined, { inForce: gateway.runtime.revocation, running: gateway.runtime }));
    },
    async stop() {
      await gateway.shutdown(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * How the child is started: from source through tsx (the default), as the installed `pgmoat`
 * command (bin/pgmoat: the build in dist/, with pgmoat's OpenSSL settings), or the build in
 * dist/ with a bare `node`.
 */
export type GatewayLauncher = 'tsx' | 'bin' | 'dist';

function launch(root: string, launcher: GatewayLauncher): { file: string; args: string[] } {
  switch (launcher) {
    case 'tsx':
      return { file: process.execPath, args: ['--import', 'tsx', join(root, 'src/cli/main.ts')] };
    case 'bin':
      return { file: join(root, 'bin/pgmoat'), args: [] };
    case 'dist':
      return { file: process.execPath, args: [join(root, 'dist/src/cli/main.js')] };
  }
}

/** `pgmoat serve --config <path>` as a child process, resolved once it listens. */
export async function startGatewayProcess(
  configPath: string,
  launcher: GatewayLauncher = 'tsx',
  opts: { openFiles?: number } = {},
): Promise<{ proc: ChildProcess; output(): string; stop(signal?: NodeJS.Signals): Promise<number | null> }> {
  const root = new URL('../..', import.meta.url).pathname;
  const { file, args } = launch(root, launcher);
  const env = { ...process.env };
  delete env.OPENSSL_CONF; // the operator's own would replace bin/openssl.cnf
  const command = withOpenFiles(opts.openFiles, file, [...args, 'serve', '--config', configPath]);
  const proc = spawn(command.file, command.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: root,
    env,
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitForOutput(proc, () => out, ['"event":"listening"', 'pgmoat listening'], 'pgmoat serve', 20_000);
  return {
    proc,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

/**
 * `file args` run with the soft open-files limit raised to `openFiles` (through sh's ulimit, then
 * exec, so that the child's pid is the program's); unchanged without it.
 */
export function withOpenFiles(openFiles: number | undefined, file: string, args: string[]): { file: string; args: string[] } {
  if (openFiles === undefined) return { file, args };
  return { file: 'sh', args: ['-c', 'n=$1; shift; ulimit -n "$n" && exec "$@"', 'sh', String(openFiles), file, ...args] };
}

/**
 * Resolves once the child's output (as `output` collects it) holds one of `markers`; rejects with
 * that output when the child exits first or after `timeoutMs`.
 */
export function waitForOutput(proc: ChildProcess, output: () => string, markers: readonly string[], what: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${output()}`)), timeoutMs);
    const check = (): void => {
      const out = output();
      if (markers.some((m) => out.includes(m))) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${output()}`));
    });
  });
}

export function cleanupDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
