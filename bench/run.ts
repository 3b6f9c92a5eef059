/**
 * `npm run bench`: pgmoat side by side with PgBouncer and direct PostgreSQL (plain and TLS), on
 * one throwaway PostgreSQL, in one run; prints one table and writes bench/results/<date>.json.
 * bench/README.md explains every scenario and how to read the figures.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki, type Pki } from '../test/harness/cert-factory.js';
import { pgTool } from '../test/harness/pg-binaries.js';
import type { PgServer } from '../test/harness/postgres.js';
import { parseOptions, USAGE, type BenchOptions, type ScenarioId } from './options.js';
import { loadAverage, machineInfo } from './machine.js';
import { pgbench, pgbenchInit } from './load/pgbench.js';
import { startBenchPostgres, postgresVersion } from './targets/postgres.js';
import { findPgbouncer, newerPgbouncerFirst, pgbouncerVersion, startPgbouncer, PGBOUNCER_INSTALL_HINT } from './targets/pgbouncer.js';
import { packageRoot, pgmoatHasWorkers, pgmoatVersion, startPgmoat } from './targets/pgmoat.js';
import { HAPROXY_INSTALL_HINT, haveHaproxy, startBehindHaproxy } from './targets/haproxy.js';
import type { RunningPooler } from './targets/pooler.js';
import { columnsFor, conninfo, type BenchColumn, type BenchContext } from './scenarios/context.js';
import { dashboardColumns } from './dashboard/columns.js';
import { pgbenchScenario, runPgbenchScenario } from './scenarios/pgbench-scenarios.js';
import { runHandshakeScenario } from './scenarios/handshake.js';
import { runIdleScenario } from './scenarios/idle.js';
import { runRenewalScenario } from './scenarios/renewal.js';
import type { BenchResults, ScenarioResult } from './report/model.js';
import { renderNotes, renderTable } from './report/table.js';
import { latestBlock, updateReadme, writeResults } from './report/results-file.js';
import { merge, summarize, type CpuProfile } from './profile/cpu-profile.js';
import { renderSummary } from './profile/render.js';

function repoRoot(): string {
  return packageRoot(fileURLToPath(import.meta.url));
}

const progress = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

/** Aggregates the .cpuprofile files of a run into summary.md beside them. */
function writeProfileSummary(dir: string, served: number | undefined): void {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) {
    progress(`no CPU profile in ${dir}`);
    return;
  }
  const summary = merge(files.map((f) => summarize(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile)));
  const text = renderSummary(summary, { top: 25, tx: served });
  writeFileSync(join(dir, 'summary.md'), `# pgmoat CPU profile\n\nUnits of work (transactions and handshake sessions) served by pgmoat: ${served ?? 'unknown'}.\n\n${text}\n`);
  progress(`CPU profile summary: ${join(dir, 'summary.md')}`);
}

async function poolerColumns(
  opts: BenchOptions,
  pki: Pki,
  pg: PgServer,
  root: string,
  stamp: string,
): Promise<{ columns: BenchColumn[]; pgbouncer: string | null; pgbouncers: string[]; mainJs: string; cpuProfDir: string | undefined }> {
  const columns: BenchColumn[] = [];
  const logDir = join(root, 'bench/work/logs', stamp);
  mkdirSync(logDir, { recursive: true });
  const maxClientConn = Math.max(opts.idleClients, opts.manyClients) + 1000;
  let pgbouncer: string | null = null;
  const pgbouncers: string[] = [];
  let cpuProfDir: string | undefined;
  const mainJs = opts.pgmoatMain ?? join(root, 'dist/src/cli/main.js');

  if (opts.targets.includes('pgbouncer')) {
    const found = opts.pgbouncer.length > 0 ? opts.pgbouncer : [findPgbouncer()].filter((b) => b !== undefined);
    if (found.length === 0) progress(PGBOUNCER_INSTALL_HINT);
    // Newest first: that column is `pgbouncer`, the one pgmoat's ratios are taken against.
    const bins = found.map((bin) => ({ bin, version: pgbouncerVersion(bin) })).sort((a, b) => newerPgbouncerFirst(a.version, b.version));
    for (const [i, { bin, version }] of bins.entries()) {
      const same = bins.slice(0, i).filter((b) => b.version === version).length;
      const id = i === 0 ? 'pgbouncer' : `pgbouncer-${version}${same ? `-${same + 1}` : ''}`;
      if (i === 0) pgbouncer = version;
      pgbouncers.push(version);
      progress(`${id}: ${bin} (PgBouncer ${version})`);
      const start = () => startPgbouncer({ bin, version, pki, upstreamPort: pg.port, poolSize: opts.poolSize, maxClientConn, logPath: join(logDir, `${id}.log`) });
      const col: BenchColumn = { id, label: `PgBouncer ${version}${same ? ` (${same + 1})` : ''}`, kind: 'pooler', pooler: await start() };
      col.restart = async () => {
        await col.pooler?.stop();
        col.pooler = await start();
      };
      columns.push(col);
    }
  } else if (opts.pgbouncer.length > 0) {
    progress('--pgbouncer is ignored: --targets does not include pgbouncer');
  }
  if (opts.targets.includes('pgmoat')) {
    if (!existsSync(mainJs)) throw new Error(`${mainJs} does not exist: run npm run build (or pass --pgmoat PATH)`);
    const hasWorkers = pgmoatHasWorkers(mainJs);
    cpuProfDir = opts.cpuProf ? join(root, 'bench/work/prof', stamp) : undefined;
    if (cpuProfDir) progress(`pgmoat CPU profiles go to ${relative(process.cwd(), cpuProfDir) || cpuProfDir}`);
    for (const workers of opts.workers) {
      const id = workers === 1 ? 'pgmoat' : `pgmoat-${workers}w`;
      const label = workers === 1 ? 'pgmoat' : `pgmoat ${workers} workers`;
      if (workers > 1 && !hasWorkers) {
        columns.push({ id, label, kind: 'pooler', unavailable: 'not available: pgmoat serve --workers does not exist yet' });
        continue;
      }
      const start = () =>
        startPgmoat({ mainJs, pki, upstreamPort: pg.port, poolSize: opts.poolSize, maxClientConn, workers, logPath: join(logDir, `${id}.log`), cpuProfDir, extraConfig: opts.pgmoatConfig });
      const col: BenchColumn = { id, label, kind: 'pooler', pooler: await start() };
      col.restart = async () => {
        await col.pooler?.stop();
        col.pooler = await start();
      };
      columns.push(col);
    }
  }
  if (opts.compare) {
    const [altJs, label] = opts.compare;
    if (!existsSync(altJs)) throw new Error(`--compare: ${altJs} does not exist`);
    const start = () =>
      startPgmoat({ mainJs: altJs, pki, upstreamPort: pg.port, poolSize: opts.poolSize, maxClientConn, workers: 1, logPath: join(logDir, 'pgmoat-compare.log'), cpuProfDir: undefined, extraConfig: opts.compareConfig, env: opts.compareEnv });
    const col: BenchColumn = { id: 'pgmoat-compare', label, kind: 'pooler', pooler: await start() };
    col.restart = async () => {
      await col.pooler?.stop();
      col.pooler = await start();
    };
    columns.push(col);
  }
  if (opts.haproxy) columns.push(...(await haproxyColumns(opts, pki, pg, mainJs, logDir, maxClientConn)));
  if (opts.dashboard) {
    if (!existsSync(mainJs)) throw new Error(`${mainJs} does not exist: run npm run build (or pass --pgmoat PATH)`);
    columns.push(...(await dashboardColumns({ ...opts, dashboard: opts.dashboard }, pki, pg.port, mainJs, logDir, maxClientConn, progress, cpuProfDir && join(cpuProfDir, 'dashboard'))));
  }
  return { columns, pgbouncer, pgbouncers, mainJs, cpuProfDir };
}

/**
 * --haproxy: the balancer hop, HAProxy in front of PgBouncer (the newest binary), of one pgmoat,
 * and of two pgmoat processes (as two gateways: each its own pool).
 */
async function haproxyColumns(opts: BenchOptions, pki: Pki, pg: PgServer, mainJs: string, logDir: string, maxClientConn: number): Promise<BenchColumn[]> {
  const ids = [
    ['haproxy-pgbouncer', 'HAProxy → PgBouncer'],
    ['haproxy-pgmoat', 'HAProxy → pgmoat'],
    ['haproxy-pgmoat-x2', 'HAProxy → 2 pgmoat'],
  ] as const;
  if (!haveHaproxy()) {
    progress(HAPROXY_INSTALL_HINT);
    return ids.map(([id, label]) => ({ id, label, kind: 'pooler', unavailable: 'not available: HAProxy is not installed' }));
  }
  const found = opts.pgbouncer.length > 0 ? opts.pgbouncer : [findPgbouncer()].filter((b) => b !== undefined);
  const bouncer = found.map((bin) => ({ bin, version: pgbouncerVersion(bin) })).sort((a, b) => newerPgbouncerFirst(a.version, b.version))[0];
  const maxconn = maxClientConn + 100;
  const pgmoat = (n: number) => () =>
    startPgmoat({ mainJs, pki, upstreamPort: pg.port, poolSize: opts.poolSize, maxClientConn, workers: 1, logPath: join(logDir, `haproxy-pgmoat-${n}.log`), cpuProfDir: undefined, extraConfig: opts.pgmoatConfig });
  const starts: Record<string, (() => Promise<RunningPooler>) | undefined> = {
    'haproxy-pgbouncer': bouncer
      ? async () =>
          startBehindHaproxy(
            'HAProxy → PgBouncer',
            [await startPgbouncer({ ...bouncer, pki, upstreamPort: pg.port, poolSize: opts.poolSize, maxClientConn, logPath: join(logDir, 'haproxy-pgbouncer.log') })],
            maxconn,
          )
      : undefined,
    'haproxy-pgmoat': async () => startBehindHaproxy('HAProxy → pgmoat', [await pgmoat(1)()], maxconn),
    'haproxy-pgmoat-x2': async () => startBehindHaproxy('HAProxy → 2 pgmoat', [await pgmoat(1)(), await pgmoat(2)()], maxconn),
  };
  const columns: BenchColumn[] = [];
  for (const [id, baseLabel] of ids) {
    const start = starts[id];
    const label = id === 'haproxy-pgbouncer' && bouncer ? `HAProxy → PgBouncer ${bouncer.version}` : baseLabel;
    if (!start) {
      columns.push({ id, label, kind: 'pooler', unavailable: 'not available: no PgBouncer found' });
      continue;
    }
    progress(`${id}: ${label}`);
    const col: BenchColumn = { id, label, kind: 'pooler', pooler: await start() };
    col.restart = async () => {
      await col.pooler?.stop();
      col.pooler = await start();
    };
    columns.push(col);
  }
  return columns;
}

/** Without per-cell warm-ups (--quick), each pooler still gets one short run first, so that no cell measures a cold JIT. */
async function warmPoolers(ctx: BenchContext): Promise<void> {
  for (const col of ctx.columns) {
    if (col.kind !== 'pooler' || col.unavailable) continue;
    await pgbench(ctx.pgbenchBin, ['-n', '-S', '-c', String(ctx.opts.clients), '-j', String(ctx.opts.jobs), '-T', '1'], conninfo(ctx, col), { seconds: 1, latencyLog: false });
  }
}

async function runScenario(all: BenchContext, id: ScenarioId, mainJs: string): Promise<ScenarioResult[]> {
  const ctx: BenchContext = { ...all, columns: columnsFor(all.columns, id) };
  const pgb = pgbenchScenario(ctx, id);
  if (pgb) return [await runPgbenchScenario(ctx, pgb)];
  if (id === 'handshake') return [await runHandshakeScenario(ctx, false), await runHandshakeScenario(ctx, true)];
  if (id === 'idle') return [await runIdleScenario(ctx)];
  if (id === 'renewal') return [await runRenewalScenario(ctx, mainJs)];
  return [];
}

function firstLine(bin: string, args: string[]): string {
  return (execFileSync(bin, args, { encoding: 'utf8' }).split('\n')[0] ?? '').trim();
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const opts = parsed;
  const root = repoRoot();
  const started = Date.now();
  const date = new Date(started).toISOString();
  const stamp = date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const loadStart = loadAverage();
  const machine = machineInfo();
  progress(`${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; load average ${loadStart.join(' ')}`);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 24) progress(`running on Node ${process.version}: the published figures are for Node 24 (bench/README.md says how to get it)`);
  if (loadStart[0] > machine.cores * 0.5) progress(`the machine is busy (load ${loadStart[0]} on ${machine.cores} cores): figures will be noisy`);

  const pgbenchBin = pgTool('pgbench');
  const pki = await makePki();
  const stops: (() => Promise<void>)[] = [async () => pki.cleanup()];
  try {
    const client = await pki.client('bench');
    // Every pooler keeps its server connections between cells (each pgmoat worker its own pool),
    // and a direct or relay cell of --many-clients needs a backend per client on top of them.
    const poolerProcesses = (opts.targets.includes('pgbouncer') ? Math.max(1, opts.pgbouncer.length) : 0) +
      (opts.targets.includes('pgmoat') ? opts.workers.reduce((a, b) => a + b, 0) : 0) + (opts.compare ? 1 : 0) + (opts.haproxy ? 4 : 0) + (opts.dashboard ? 1 : 0);
    const pg = await startBenchPostgres(pki, opts.manyClients + 100 + opts.poolSize * poolerProcesses);
    stops.unshift(() => pg.stop());
    progress(`PostgreSQL ${postgresVersion(pg)} on port ${pg.port}; pgbench -i -s ${opts.scale}`);
    const ctx: BenchContext = { opts, pki, client, pg, pgbenchBin, columns: [], progress, served: new Map() };
    await pgbenchInit(pgbenchBin, opts.scale, conninfo(ctx, { id: 'init', label: 'init', kind: 'direct-plain' }));

    const direct: BenchColumn[] = [];
    if (opts.targets.includes('direct-plain')) direct.push({ id: 'direct-plain', label: 'direct (plain)', kind: 'direct-plain' });
    if (opts.targets.includes('direct-tls')) direct.push({ id: 'direct-tls', label: 'direct (TLS)', kind: 'direct-tls' });
    const poolers = await poolerColumns(opts, pki, pg, root, stamp);
    for (const c of poolers.columns) if (c.pooler) stops.unshift(() => c.pooler!.stop());
    ctx.columns = [...direct, ...poolers.columns];

    if (opts.warmup === 0) await warmPoolers(ctx);
    const scenarios: ScenarioResult[] = [];
    for (const id of opts.scenarios) scenarios.push(...(await runScenario(ctx, id, poolers.mainJs)));

    // Stop the poolers now (pgmoat writes its CPU profile on exit); restarts replaced some.
    for (const c of poolers.columns) await c.pooler?.stop();
    if (poolers.cpuProfDir) writeProfileSummary(poolers.cpuProfDir, ctx.served.get('pgmoat'));
    const results: BenchResults = {
      date,
      durationSec: Math.round((Date.now() - started) / 1000),
      machine,
      loadAverageStart: loadStart,
      loadAverageEnd: loadAverage(),
      versions: {
        node: process.version,
        openssl: process.versions.openssl,
        postgres: postgresVersion(pg),
        pgbench: firstLine(pgbenchBin, ['--version']).replace(/^pgbench \(PostgreSQL\) /, ''),
        pgbouncer: poolers.pgbouncer,
        pgbouncers: poolers.pgbouncers,
        pgmoat: opts.pgmoatVersion ?? pgmoatVersion(poolers.mainJs),
      },
      options: { ...opts },
      note: opts.note,
      columns: ctx.columns.map((c) => ({ id: c.id, label: c.label })),
      scenarios,
    };
    process.stdout.write(`\n${renderTable(results)}\n\n${renderNotes(results)}\n`);
    if (opts.save) {
      const file = writeResults(opts.resultsDir ?? join(root, 'bench/results'), results, opts.quick);
      const shown = relative(root, file);
      progress(`results written to ${shown}`);
      if (opts.readme && updateReadme(join(root, 'bench/README.md'), latestBlock(results, shown))) progress('bench/README.md updated');
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

// Ctrl-C: exit through 'exit' so that the harness and the pooler hooks kill their processes.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
