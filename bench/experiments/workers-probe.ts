/**
 * Where the CPU of `serve --workers N` goes, in counts that machine load distorts little: for each
 * pgmoat process (the primary and every worker), CPU time, voluntary and involuntary context
 * switches, and optionally syscalls (strace -c) per transaction of one pgbench run.
 * TPS is printed but is not the figure to trust on a shared 2-core machine.
 *
 *   node dist/bench/experiments/workers-probe.js --workers 1,2 --seconds 10 [--clients 50]
 *     [--mode select|prepared|connect] [--strace] [--rounds 2] [--pgmoat dist/src/cli/main.js]
 *     [--config JSON] [--warmup SECONDS] [--idle SECONDS] [--scrape N] [--perf DIR] [--cpu-prof DIR] [--base OTHER/main.js]
 *
 * --workers takes counts, "2r" (two workers with listen.reuse_port) and "b2" (two workers of the
 * --base build).
 *
 * Each round measures every worker count in turn on the same PostgreSQL, so that load drift hits
 * each alike; the figures of all rounds are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePki } from '../../test/harness/cert-factory.js';
import { pgTool } from '../../test/harness/pg-binaries.js';
import { pgbench, pgbenchInit } from '../load/pgbench.js';
import { startBenchPostgres, BENCH_DB, BENCH_ROLE } from '../targets/postgres.js';
import { deepMerge, packageRoot, startPgmoat } from '../targets/pgmoat.js';
import { freePort } from '../../test/harness/free-port.js';
import { processCounters as sample } from '../targets/process-stats.js';

/** strace -c -f on one pid until stopped; resolves with its summary table. */
function straceOn(pid: number): { stop(): Promise<string> } {
  const p: ChildProcess = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return {
    stop: () =>
      new Promise((resolve) => {
        p.once('exit', () => resolve(err));
        p.kill('SIGINT');
      }),
  };
}

function totalCalls(table: string): { calls: number; top: string[] } {
  const lines = table.split('\n');
  const total = lines.find((l) => /\btotal$/.test(l.trim()));
  const calls = total ? Number(total.trim().split(/\s+/)[3]) : NaN;
  const rows = lines.filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l) && !/total$/.test(l.trim()));
  const top = rows
    .map((l) => {
      const c = l.trim().split(/\s+/);
      // % time, seconds, usecs/call, calls, [errors], syscall
      return { name: c[c.length - 1]!, calls: Number(c[3]) };
    })
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 8)
    .map((r) => `${r.name} ${r.calls}`);
  return { calls, top };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '1,2' },
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '50' },
      mode: { type: 'string', default: 'select' },
      strace: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
      pgmoat: { type: 'string' },
      config: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      /** Also measure CPU over this many idle seconds (no client) after the run: the timers' cost. */
      idle: { type: 'string', default: '0' },
      /** Runs `perf record -g` on every pgmoat process during the measured run, into this directory. */
      perf: { type: 'string' },
      /** Starts pgmoat with --cpu-prof into DIR/w<N> (the workers inherit the flag). */
      'cpu-prof': { type: 'string' },
      base: { type: 'string' },
      /** Also scrape /metrics (admin.http) this many times after the run and measure CPU per scrape. */
      scrape: { type: 'string', default: '0' },
      /** Seconds of unmeasured pgbench before each measured run (JIT, pools). */
      warmup: { type: 'string', default: '3' },
    },
  });
  const root = packageRoot(fileURLToPath(import.meta.url));
  const mainJs = values.pgmoat ?? join(root, 'dist/src/cli/main.js');
  // "2r": two workers with listen.reuse_port (each worker listens itself; no hand-over by the primary).
  // "b2": two workers of the --base build (a build to compare with, e.g. before a change).
  const variants = values.workers!.split(',').map((w) => ({ workers: Number(w.replace(/^b|r$/g, '')), label: w, reusePort: w.endsWith('r'), base: w.startsWith('b') }));
  const seconds = Number(values.seconds);
  const clients = Number(values.clients);
  const modeArgs = values.mode === 'prepared' ? ['-S', '-M', 'prepared'] : values.mode === 'connect' ? ['-S', '-C'] : values.mode === 'extended' ? ['-S', '-M', 'extended'] : ['-S'];
  const pgbenchBin = pgTool('pgbench');
  const pki = await makePki();
  const client = await pki.client('bench');
  const pg = await startBenchPostgres(pki, clients + 100);
  const logDir = '/tmp/workers-probe-logs';
  mkdirSync(logDir, { recursive: true });
  try {
    await pgbenchInit(pgbenchBin, 1, `host=127.0.0.1 port=${pg.port} dbname=${BENCH_DB} user=${BENCH_ROLE} sslmode=disable`);
    const extraConfig = values.config ? (JSON.parse(values.config) as Record<string, unknown>) : undefined;
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const { workers, label, reusePort, base } of variants) {
        let config = reusePort ? deepMerge(extraConfig ?? {}, { listen: { reuse_port: true } }) : extraConfig;
        const scrapes = Number(values.scrape);
        const httpPort = scrapes > 0 ? await freePort() : 0;
        if (scrapes > 0) config = deepMerge(config ?? {}, { admin: { http: { host: '127.0.0.1', port: httpPort } } });
        const pooler = await startPgmoat({ mainJs: base && values.base ? values.base : mainJs, pki, upstreamPort: pg.port, poolSize: Number(values['pool-size']), maxClientConn: 2000, workers, logPath: join(logDir, `w${label}.log`), cpuProfDir: values['cpu-prof'] ? join(values['cpu-prof'], `w${label}-r${round + 1}`) : undefined, extraConfig: config });
        try {
          const target = `host=127.0.0.1 port=${pooler.port} dbname=${BENCH_DB} user=${BENCH_ROLE} gssencmode=disable sslmode=verify-full sslcert=${client.certPath} sslkey=${client.keyPath} sslrootcert=${pki.main.caPath}`;
          const args = ['-n', ...modeArgs, '-c', String(clients), '-j', String(Math.min(2, clients))];
          // Warm up (JIT, pools filled); for a cluster, also until every worker is listening.
          await sleep(workers > 1 ? 1500 : 300);
          await pgbench(pgbenchBin, [...args, '-T', values.warmup!], target, { seconds: Number(values.warmup), latencyLog: false });
          const pids = pooler.pids();
          const primary = pids[0]!;
          const roles = new Map<number, string>(pids.map((p) => [p, p === primary ? (workers > 1 ? 'primary' : 'single') : `worker`]));
          const perfs = values.perf
            ? pids.map((p) => {
                mkdirSync(values.perf!, { recursive: true });
                const out = join(values.perf!, `w${label}-r${round + 1}-${roles.get(p)}-${p}.data`);
                return spawn('perf', ['record', '-g', '-F', '999', '-o', out, '-p', String(p)], { stdio: 'ignore' });
              })
            : [];
          const traces = values.strace ? pids.map((p) => ({ pid: p, t: straceOn(p) })) : [];
          if (traces.length) await sleep(500);
          const before = new Map(pids.map((p) => [p, sample(p)]));
          const r = await pgbench(pgbenchBin, [...args, '-T', String(seconds)], target, { seconds, latencyLog: false });
          const after = new Map(pids.map((p) => [p, sample(p)]));
          for (const p of perfs) p.kill('SIGINT');
          await Promise.all(perfs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)))));
          const straced = new Map<number, string>();
          for (const { pid, t } of traces) straced.set(pid, await t.stop());
          const tx = r.transactions ?? 0;
          let totalMs = 0;
          let totalSysMs = 0;
          const lines: string[] = [];
          for (const p of pids) {
            const b = before.get(p);
            const a = after.get(p);
            if (!a || !b) continue;
            const ms = a.cpuMs - b.cpuMs;
            totalMs += ms;
            totalSysMs += a.systemMs - b.systemMs;
            let line = `  ${roles.get(p)} ${p}: cpu ${((ms * 1000) / tx).toFixed(1)} µs/tx (${ms} ms; kernel ${(((a.systemMs - b.systemMs) * 1000) / tx).toFixed(1)}), vol cs ${((a.voluntarySwitches - b.voluntarySwitches) / tx).toFixed(3)}/tx, invol cs ${((a.involuntarySwitches - b.involuntarySwitches) / tx).toFixed(3)}/tx`;
            const s = straced.get(p);
            if (s !== undefined) {
              const { calls, top } = totalCalls(s);
              line += `, syscalls ${(calls / tx).toFixed(2)}/tx [${top.map((t) => t.replace(/ (\d+)$/, (_, n: string) => ` ${(Number(n) / tx).toFixed(3)}`)).join(', ')}]`;
            }
            lines.push(line);
          }
          process.stdout.write(
            `round ${round + 1}, ${label} worker(s), ${values.mode} ${clients} clients: ${tx} tx, ${r.tps?.toFixed(0)} tps (not trustworthy), total pgmoat CPU ${((totalMs * 1000) / tx).toFixed(1)} µs/tx (kernel ${((totalSysMs * 1000) / tx).toFixed(1)})${r.ok ? '' : ` FAILED ${r.error}`}\n${lines.join('\n')}\n`,
          );
          if (scrapes > 0) {
            const b = pids.map((p) => sample(p)?.cpuMs ?? 0);
            for (let i = 0; i < scrapes; i++) {
              const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
              await res.text();
            }
            const a = pids.map((p) => sample(p)?.cpuMs ?? 0);
            const per = pids.map((p, i) => `${roles.get(p)} ${((a[i]! - b[i]!) / scrapes).toFixed(2)}`);
            process.stdout.write(`  CPU ms per /metrics scrape: ${per.join(', ')}\n`);
          }
          const idle = Number(values.idle);
          if (idle > 0) {
            const b = pids.map((p) => sample(p)?.cpuMs ?? 0);
            await sleep(idle * 1000);
            const a = pids.map((p) => sample(p)?.cpuMs ?? 0);
            const per = pids.map((p, i) => `${roles.get(p)} ${((a[i]! - b[i]!) / idle).toFixed(1)}`);
            process.stdout.write(`  idle CPU ms per second: ${per.join(', ')}\n`);
          }
        } finally {
          await pooler.stop();
        }
      }
    }
  } finally {
    await pg.stop();
    pki.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`workers-probe: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
