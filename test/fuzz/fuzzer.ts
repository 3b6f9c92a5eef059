/**
 * The fuzz loop: scripts generated from the seed run against the gateway with bounded
 * concurrency, in batches; after every batch the checks run. A failing batch is saved (its
 * scripts, the failure and diagnostics) for `--replay`; with keepGoing the gateway is restarted
 * and the run goes on. Nothing grows with the number of inputs but counters.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FuzzTarget } from './target.js';
import { generate } from './generate.js';
import { runScript, type ExecContext } from './execute.js';
import { runChecks, takeBaseline, DEFAULT_CHECKS, type Baseline, type CheckFailure, type CheckOptions } from './checks.js';
import { inputsOf, type Layer, type Script } from './script.js';
import { RunStats } from './stats.js';
import { describeScript } from './describe.js';

export interface FuzzOptions {
  inputs: number;
  seed: number;
  layers: readonly Layer[];
  batch: number;
  concurrency: number;
  keepGoing: boolean;
  outDir: string;
  probeTimeoutMs: number;
  checks: CheckOptions;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<FuzzOptions, 'inputs' | 'seed'> = {
  layers: ['pre-tls', 'tls', 'post-login'],
  batch: 500,
  concurrency: 32,
  keepGoing: false,
  outDir: 'fuzz-failures',
  probeTimeoutMs: 3000,
  checks: DEFAULT_CHECKS,
  log: () => undefined,
};

export interface FailureRecord {
  batch: number;
  check: CheckFailure['check'];
  message: string;
  file: string;
}

export interface FuzzSummary {
  seed: number;
  inputs: number;
  scripts: number;
  seconds: number;
  inputsPerSecond: number;
  batches: number;
  inputsByLayer: Record<Layer, number>;
  scriptsByLayer: Record<Layer, number>;
  meanScriptMsByLayer: Record<Layer, number>;
  /** Time in batches, without the checks. */
  runSeconds: number;
  failures: FailureRecord[];
  outcomes: Record<string, number>;
  kinds: Record<string, number>;
  sqlstates: Record<string, number>;
  handshakes: Record<string, number>;
  /** Internal errors (class XX) clients were sent, first 50: each names its script (regenerate it with the seed). */
  internalErrors: { script: number; layer: Layer; error: string }[];
  /** Scripts (ids) whose probe went unanswered on an open connection, first 50: a session that stopped answering. */
  probeTimeouts: number[];
  msByStep: Record<string, number>;
  gateway: { fdBaseline: number; rssMbMax: number; rssMbLast: number; restarts: number };
  checkSecondsTotal: number;
  /** CPU used during the run by this process, the gateway and PostgreSQL. */
  cpuSeconds: { runner: number; gateway: number; postgres: number };
}

export function execContext(t: FuzzTarget, stats: RunStats, probeTimeoutMs: number): ExecContext {
  return {
    host: '127.0.0.1',
    port: t.port,
    ca: t.caPem,
    certs: t.certs,
    tickets: new Map(),
    contexts: new Map(),
    probeTimeoutMs,
    loginTimeoutMs: 10_000,
    scriptTimeoutMs: 30_000,
    stats,
  };
}

/** Runs scripts from `next` with `concurrency` in flight until `next` returns undefined. */
export async function runPool(ctx: ExecContext, concurrency: number, next: () => Script | undefined, alive: () => boolean): Promise<void> {
  const worker = async (): Promise<void> => {
    for (;;) {
      if (!alive()) return;
      const s = next();
      if (!s) return;
      await runScript(ctx, s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function saveFailure(opts: FuzzOptions, batch: number, failure: CheckFailure, scripts: Script[]): string {
  mkdirSync(opts.outDir, { recursive: true });
  const file = join(opts.outDir, `fuzz-${opts.seed}-batch${batch}-${failure.check}.json`);
  writeFileSync(file, JSON.stringify({ seed: opts.seed, batch, failure, scripts }, null, 1));
  return file;
}

export async function fuzz(opts: FuzzOptions, target?: FuzzTarget): Promise<FuzzSummary> {
  const log = opts.log;
  const ownTarget = target === undefined;
  const t = target ?? (await FuzzTarget.start());
  const stats = new RunStats();
  const failures: FailureRecord[] = [];
  let restarts = 0;
  let rssMbMax = 0;
  let rssMbLast = 0;
  let checkMs = 0;
  let runMs = 0;
  try {
    let baseline: Baseline = await takeBaseline(t, opts.checks);
    const fdBaseline = baseline.fdsWithoutServers;
    log(`fuzz: seed ${opts.seed}, ${opts.inputs} inputs, layers ${opts.layers.join(',')}, batch ${opts.batch}, concurrency ${opts.concurrency}; gateway pid ${t.gateway.pid} on port ${t.port}, fd baseline ${fdBaseline}`);
    const ctx = execContext(t, stats, opts.probeTimeoutMs);
    const started = Date.now();
    const cpu0 = { runner: process.cpuUsage(), gateway: t.gateway.cpuSeconds(), gatewayDone: 0, postgres: t.postgresCpuSeconds() };
    let nextId = 0;
    let batch = 0;
    while (stats.inputs < opts.inputs) {
      batch++;
      const batchStarted = Date.now();
      const scripts: Script[] = [];
      let planned = 0;
      const quota = opts.batch;
      await runPool(
        ctx,
        opts.concurrency,
        () => {
          // Planned inputs fill the batch; the run ends once enough inputs were actually sent.
          if (planned >= quota || stats.inputs >= opts.inputs) return undefined;
          const s = generate(opts.seed, nextId++, opts.layers);
          planned += inputsOf(s);
          scripts.push(s);
          return s;
        },
        () => t.gateway.alive,
      );
      const checkStarted = Date.now();
      runMs += checkStarted - batchStarted;
      const r = await runChecks(t, opts.checks, baseline);
      checkMs += Date.now() - checkStarted;
      if (r.rssMb > 0) {
        rssMbLast = r.rssMb;
        rssMbMax = Math.max(rssMbMax, r.rssMb);
      }
      const secs = (Date.now() - started) / 1000;
      if (r.ok) {
        log(
          `batch ${batch}: ${stats.inputs} inputs (${(stats.inputs / secs).toFixed(0)}/s; batch ran ${checkStarted - batchStarted} ms), checks ok in ${r.ms} ms; gateway fds ${r.fds}, servers ${r.servers}, rss ${r.rssMb.toFixed(0)} MB; runner rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`,
        );
        continue;
      }
      const failure = r.failure!;
      const file = saveFailure(opts, batch, failure, scripts);
      failures.push({ batch, check: failure.check, message: failure.message, file });
      log(`batch ${batch}: CHECK FAILED: ${failure.check}: ${failure.message}`);
      log(`  ${scripts.length} scripts saved to ${file} (replay: npm run fuzz -- --replay ${file} --bisect)`);
      log(`  diagnostics: ${JSON.stringify(failure.details).slice(0, 4000)}`);
      if (!opts.keepGoing) break;
      cpu0.gatewayDone += t.gateway.cpuSeconds() - cpu0.gateway;
      await t.restartGateway();
      cpu0.gateway = t.gateway.cpuSeconds();
      restarts++;
      baseline = await takeBaseline(t, opts.checks);
      log(`  gateway restarted (pid ${t.gateway.pid}), fd baseline ${baseline.fdsWithoutServers}; going on`);
    }
    const seconds = (Date.now() - started) / 1000;
    const runnerCpu = process.cpuUsage(cpu0.runner);
    const cpuSeconds = {
      runner: (runnerCpu.user + runnerCpu.system) / 1e6,
      gateway: cpu0.gatewayDone + t.gateway.cpuSeconds() - cpu0.gateway,
      postgres: t.postgresCpuSeconds() - cpu0.postgres,
    };
    return {
      cpuSeconds,
      seed: opts.seed,
      inputs: stats.inputs,
      scripts: stats.scripts,
      seconds,
      inputsPerSecond: stats.inputs / seconds,
      batches: batch,
      inputsByLayer: stats.inputsByLayer,
      scriptsByLayer: stats.scriptsByLayer,
      meanScriptMsByLayer: Object.fromEntries(Object.entries(stats.msByLayer).map(([k, v]) => [k, Math.round(v / Math.max(1, stats.scriptsByLayer[k as Layer]))])) as Record<Layer, number>,
      runSeconds: runMs / 1000,
      failures,
      outcomes: stats.outcomes.toJSON(),
      kinds: stats.kinds.toJSON(),
      sqlstates: stats.sqlstates.toJSON(),
      handshakes: stats.handshakes.toJSON(),
      internalErrors: stats.internalErrors,
      probeTimeouts: stats.probeTimeouts,
      msByStep: stats.msByStep.toJSON(),
      gateway: { fdBaseline, rssMbMax, rssMbLast, restarts },
      checkSecondsTotal: checkMs / 1000,
    };
  } finally {
    if (ownTarget) await t.stop();
  }
}

// ---- replay and bisect --------------------------------------------------------------------

export interface ReplayOptions {
  scripts: Script[];
  concurrency: number;
  probeTimeoutMs: number;
  checks: CheckOptions;
  bisect: boolean;
  log: (line: string) => void;
}

/** Runs `scripts` on a fresh gateway and checks: the failure, or undefined. */
async function trial(t: FuzzTarget, o: ReplayOptions, scripts: Script[]): Promise<CheckFailure | undefined> {
  await t.restartGateway();
  const baseline = await takeBaseline(t, o.checks);
  const stats = new RunStats();
  const ctx = execContext(t, stats, o.probeTimeoutMs);
  let i = 0;
  await runPool(ctx, o.concurrency, () => scripts[i++], () => t.gateway.alive);
  if (scripts.length <= 10) o.log(`  scripts ended: ${JSON.stringify(stats.outcomes.toJSON())}`);
  const r = await runChecks(t, o.checks, baseline);
  return r.failure;
}

/** A script without its k-th input (the steps from its k-th mark to the next). */
function withoutInput(s: Script, k: number): Script | undefined {
  const marks = s.steps.flatMap((st, i) => (st.op === 'mark' ? [i] : []));
  if (marks.length < 2) return undefined;
  const from = marks[k]!;
  const to = marks[k + 1] ?? s.steps.length;
  // The last input carries the hang-up: keep its ending by dropping an earlier one instead.
  if (k === marks.length - 1) return undefined;
  return { ...s, steps: [...s.steps.slice(0, from), ...s.steps.slice(to)] };
}

export async function replay(o: ReplayOptions): Promise<{ reproduced: boolean; minimal?: Script[] }> {
  const log = o.log;
  const t = await FuzzTarget.start();
  try {
    log(`replay: ${o.scripts.length} scripts, concurrency ${o.concurrency}`);
    const first = await trial(t, o, o.scripts);
    if (!first) {
      log('replay: all checks passed (not reproduced)');
      return { reproduced: false };
    }
    log(`replay: reproduced: ${first.check}: ${first.message}`);
    log(`  diagnostics: ${JSON.stringify(first.details).slice(0, 6000)}`);
    if (!o.bisect) return { reproduced: true };
    // ddmin over the scripts: a chunk that fails alone, or a set without one chunk that still
    // fails, replaces the set; otherwise the chunks get smaller.
    let set = o.scripts;
    let n = 2;
    while (set.length > 1) {
      const size = Math.ceil(set.length / n);
      const chunks: Script[][] = [];
      for (let i = 0; i < set.length; i += size) chunks.push(set.slice(i, i + size));
      let next: Script[] | undefined;
      for (const c of chunks) {
        const f = await trial(t, o, c);
        log(`bisect: ${c.length} of ${set.length} scripts alone -> ${f ? `fails (${f.check})` : 'passes'}`);
        if (f) {
          next = c;
          n = 2;
          break;
        }
      }
      if (!next && chunks.length > 2) {
        for (const c of chunks) {
          const rest = set.filter((s) => !c.includes(s));
          const f = await trial(t, o, rest);
          log(`bisect: ${rest.length} of ${set.length} scripts (one chunk left out) -> ${f ? `fails (${f.check})` : 'passes'}`);
          if (f) {
            next = rest;
            n = Math.max(n - 1, 2);
            break;
          }
        }
      }
      if (next) {
        set = next;
        continue;
      }
      if (n >= set.length) break;
      n = Math.min(set.length, n * 2);
    }
    // One script left: drop its inputs one by one while it still fails, running it alone.
    if (set.length === 1) {
      let s = set[0]!;
      for (let k = 0; ; ) {
        const smaller = withoutInput(s, k);
        if (!smaller) break;
        const f = await trial(t, { ...o, concurrency: 1 }, [smaller]);
        log(`minimize: without input ${k} -> ${f ? 'still fails' : 'passes'}`);
        if (f) s = smaller;
        else k++;
      }
      set = [s];
    }
    log(`bisect: ${set.length} script(s) left:`);
    for (const s of set.slice(0, 5)) log(describeScript(s));
    return { reproduced: true, minimal: set };
  } finally {
    await t.stop();
  }
}
