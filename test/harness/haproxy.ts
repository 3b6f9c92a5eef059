/**
 * HAProxy (Debian's package) in TCP mode in front of gateways, for the tests of several gateways
 * behind a balancer: optional PROXY protocol v2 towards the backends, optional HTTP health checks
 * (GET /readyz on each backend's admin port), and the stats socket to see which backends it
 * considers up. Runs in the foreground (-db) as a child of the test, on loopback only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface HaproxyBackend {
  readonly name: string;
  readonly host?: string;
  readonly port: number;
  /** Admin HTTP port whose GET /readyz decides whether HAProxy sends new connections there. */
  readonly checkPort?: number;
}

export interface HaproxyOptions {
  readonly backends: readonly HaproxyBackend[];
  /** Prefix every backend connection with a PROXY v2 header (`send-proxy-v2`). */
  readonly sendProxyV2?: boolean;
  readonly balance?: 'roundrobin' | 'random' | 'leastconn' | 'source';
  /**
   * A TCP health check on each backend's own port (`check`), for backends without `checkPort`;
   * with `sendProxyV2` HAProxy opens it with a PROXY v2 LOCAL header and closes it at once.
   */
  readonly tcpCheck?: boolean;
  /** Health check interval (ms); one failed check takes a backend out, one good one puts it back. */
  readonly checkIntervalMs?: number;
  /** Connections HAProxy holds at once (global and frontend maxconn; default 4096). */
  readonly maxconn?: number;
}

export interface BackendState {
  readonly name: string;
  /** HAProxy's status column: UP, DOWN, MAINT, no check, ... */
  readonly status: string;
  /** Sessions it has sent to this backend so far. */
  readonly totalSessions: number;
}

export interface RunningHaproxy {
  readonly port: number;
  readonly host: string;
  /** HAProxy's process id (the benchmark counts its CPU time). */
  readonly pid: number;
  output(): string;
  /** The backends as HAProxy sees them now. */
  backends(): Promise<BackendState[]>;
  /** Every column of `show stat` for each server of the backend (scur, srv_abrt, econ, wretr, wredis, ...). */
  serverStats(): Promise<Record<string, string>[]>;
  stop(): Promise<void>;
}

export const HAPROXY = '/usr/sbin/haproxy';

export function haveHaproxy(): boolean {
  return spawnSync(HAPROXY, ['-v'], { stdio: 'ignore' }).status === 0;
}

function configText(opts: HaproxyOptions, port: number, statsSocket: string): string {
  const check = opts.backends.some((b) => b.checkPort !== undefined);
  const inter = opts.checkIntervalMs ?? 200;
  const lines = [
    'global',
    `  maxconn ${opts.maxconn ?? 4096}`,
    `  stats socket ${statsSocket} level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    // A backend that refuses the connection (a gateway that closed its port) is retried on another.
    '  retries 3',
    '  option redispatch 1',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    `  maxconn ${opts.maxconn ?? 4096}`,
    '  default_backend gateways',
    'backend gateways',
    `  balance ${opts.balance ?? 'roundrobin'}`,
  ];
  if (check) lines.push('  option httpchk GET /readyz', '  http-check expect status 200');
  lines.push(`  default-server inter ${inter}ms fastinter ${inter}ms downinter ${inter}ms fall 1 rise 1`);
  for (const b of opts.backends) {
    const parts = [`  server ${b.name} ${b.host ?? '127.0.0.1'}:${b.port}`];
    if (opts.sendProxyV2) parts.push('send-proxy-v2');
    if (b.checkPort !== undefined) parts.push(`check port ${b.checkPort}`);
    else if (opts.tcpCheck) parts.push('check');
    lines.push(parts.join(' '));
  }
  return lines.join('\n') + '\n';
}

async function statsCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let out = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (out += d));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    sock.write(command + '\n');
  });
}

function parseStats(csv: string): BackendState[] {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
  const col = (name: string): number => header.indexOf(name);
  const [px, sv, status, stot] = [col('pxname'), col('svname'), col('status'), col('stot')];
  return lines
    .map((l) => l.split(','))
    .filter((f) => f[px] === 'gateways' && f[sv] !== 'BACKEND' && f[sv] !== 'FRONTEND')
    .map((f) => ({ name: f[sv] ?? '', status: f[status] ?? '', totalSessions: Number(f[stot] ?? 0) }));
}

function serverRows(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
  return lines
    .map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i] ?? String(i), v])))
    .filter((r) => r.pxname === 'gateways' && r.svname !== 'BACKEND' && r.svname !== 'FRONTEND');
}

/**
 * Resolves once the stats socket answers: HAProxy binds its frontends before it serves the stats
 * socket, and asking there sends no probe connection to a backend.
 */
async function waitReady(statsSocket: string, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}:\n${output()}`);
    const info = await statsCommand(statsSocket, 'show info').catch(() => '');
    if (info.includes('Pid:')) return;
    if (Date.now() > deadline) throw new Error(`haproxy did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startHaproxy(opts: HaproxyOptions): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-haproxy-'));
  const port = await freePort();
  const statsSocket = join(dir, 'stats.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, configText(opts, port, statsSocket));
  const proc = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A test process that dies without stopping it must not leave HAProxy behind.
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(statsSocket, proc, () => out);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    host: '127.0.0.1',
    pid: proc.pid!,
    output: () => out,
    backends: async () => parseStats(await statsCommand(statsSocket, 'show stat')),
    serverStats: async () => serverRows(await statsCommand(statsSocket, 'show stat')),
    stop,
  };
}
