/**
 * `pgmoat serve` as a child process for the fuzzer: a crash shows as an exit, and its file
 * descriptors can be counted in /proc/<pid>/fd. Unlike the test harness's startGatewayProcess,
 * it keeps only the tail of the output, so that a run of a million inputs holds no growing log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TAIL_BYTES = 64 * 1024;

export class GatewayProcess {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Exit code or signal once it exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(readonly proc: ChildProcess) {
    const keep = (d: Buffer): void => {
      this.chunks.push(d);
      this.size += d.length;
      while (this.size - this.chunks[0]!.length >= TAIL_BYTES) this.size -= this.chunks.shift()!.length;
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.once('exit', (code, signal) => {
      this.exit = { code, signal };
    });
  }

  /** Starts `pgmoat serve --config <path>` from source (tsx) and resolves once both listeners are up. */
  static async start(configPath: string, opts: { waitForHttp: boolean }): Promise<GatewayProcess> {
    const root = new URL('../..', import.meta.url).pathname;
    const env = { ...process.env };
    delete env.OPENSSL_CONF;
    const proc = spawn(process.execPath, ['--import', 'tsx', `${root}src/cli/main.ts`, 'serve', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: root,
      env,
    });
    const gp = new GatewayProcess(proc);
    const markers = ['"event":"listening"', ...(opts.waitForHttp ? ['"event":"admin_http_listening"'] : [])];
    const until = Date.now() + 30_000;
    while (!markers.every((m) => gp.output().includes(m))) {
      if (gp.exit) throw new Error(`pgmoat serve exited (${gp.exit.code ?? gp.exit.signal}) while starting:\n${gp.output()}`);
      if (Date.now() > until) {
        proc.kill('SIGKILL');
        throw new Error(`pgmoat serve did not start within 30 s:\n${gp.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return gp;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last 64 KiB or so of stdout and stderr. */
  output(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** Open file descriptors, by kind (socket, pipe, anon_inode:[eventfd], file...). */
  fds(): { total: number; byKind: Record<string, number> } {
    const byKind: Record<string, number> = {};
    let total = 0;
    for (const fd of readdirSync(`/proc/${this.pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${this.pid}/fd/${fd}`);
      } catch {
        continue; // closed between readdir and readlink
      }
      total++;
      const kind = target.startsWith('socket:') ? 'socket' : target.startsWith('pipe:') ? 'pipe' : target.startsWith('anon_inode:') ? target : 'file';
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    return { total, byKind };
  }

  /** CPU seconds used so far (user + system). */
  cpuSeconds(): number {
    return cpuSecondsOf(this.pid);
  }

  /** Resident memory in MB. */
  rssMb(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  }

  /** SIGKILL (a wedged gateway may not stop on SIGTERM) and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    await new Promise<void>((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGKILL');
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.proc.kill('SIGTERM');
    });
  }
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat (0 when it is gone). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and its live children (PostgreSQL: the postmaster and its backends). */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSecondsOf(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) total += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
