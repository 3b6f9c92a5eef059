/** The benchmark's command-line flags (`npm run bench -- --help`). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const SCENARIOS = ['select', 'select-many', 'prepared', 'extended', 'connect', 'handshake', 'idle', 'renewal'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export const TARGETS = ['direct-plain', 'direct-tls', 'pgbouncer', 'pgmoat'] as const;
export type TargetKind = (typeof TARGETS)[number];

/** Who watches the dashboard in the "watched" cell: a real headless Chromium, or a poller asking what app.js asks. */
export const DASHBOARD_WATCHERS = ['browser', 'poller'] as const;
export type DashboardWatcher = (typeof DASHBOARD_WATCHERS)[number];
/** The view the watcher keeps open; `cycle` moves certs → live → trends every --dashboard-cycle seconds. */
export const DASHBOARD_VIEWS = ['live', 'certs', 'trends', 'cycle'] as const;
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];

export interface DashboardOptions {
  watcher: DashboardWatcher;
  view: DashboardView;
  /** Client certificates added to the dashboard column's inventory (besides the benchmark's own). */
  certificates: number;
  /** Seconds on each view with view `cycle`. */
  cycleSeconds: number;
}

export interface BenchOptions {
  quick: boolean;
  seconds: number;
  warmup: number;
  repeat: number;
  scale: number;
  clients: number;
  manyClients: number;
  connectClients: number;
  jobs: number;
  idleClients: number;
  idleConcurrency: number;
  handshakeProcs: number;
  handshakeConcurrency: number;
  handshakeSeconds: number;
  scenarios: ScenarioId[];
  targets: TargetKind[];
  workers: number[];
  /** Extra columns behind HAProxy: PgBouncer, one pgmoat, two pgmoat processes. */
  haproxy: boolean;
  poolSize: number;
  /** PgBouncer binaries, a column each (--pgbouncer, repeatable); empty: the one found on PATH or in /usr/sbin. */
  pgbouncer: string[];
  pgmoatMain: string | undefined;
  /** Label shown for pgmoat's version (a build outside a git checkout cannot tell its commit). */
  pgmoatVersion: string | undefined;
  /** Another pgmoat build measured in the same run, as an extra column: [path, label]. */
  compare: [string, string] | undefined;
  /** Settings merged into pgmoat's generated config (JSON), for the main and the compare column. */
  pgmoatConfig: Record<string, unknown> | undefined;
  compareConfig: Record<string, unknown> | undefined;
  /** Environment variables added for the --compare column's process only (--compare-env NAME=VALUE, repeatable). */
  compareEnv: Record<string, string>;
  cpuProf: boolean;
  /** --dashboard: two more pgmoat cells of select-only, dashboard on, unwatched and watched; undefined without it. */
  dashboard: DashboardOptions | undefined;
  save: boolean;
  resultsDir: string | undefined;
  note: string | undefined;
  readme: boolean;
}

export const USAGE = `npm run bench -- [flags]

  --quick                    short run (about 2.5 minutes on 2 cores): --seconds 2 --warmup 0 --scale 1 --idle-clients 500
  --seconds N                length of each measured pgbench run (default 20)
  --warmup N                 unmeasured pgbench run before each measured one (default 3)
  --repeat N                 measured runs per cell; the median by TPS is kept (default 1)
  --scale N                  pgbench -i -s N (default 10)
  --clients N                select/prepared/extended clients (default 50)
  --many-clients N           select-many clients (default 500)
  --connect-clients N        connection-per-transaction clients, pgbench -C (default 20)
  --jobs N                   pgbench -j (default 2)
  --idle-clients N           idle mutual-TLS clients held against each pooler (default 5000)
  --idle-concurrency N       sessions opened at once by the idle client (default 32)
  --handshake-procs N        handshake load-generator processes (default 2)
  --handshake-concurrency N  sessions in flight per process (default 16)
  --handshake-seconds N      length of each handshake-rate run (default: --seconds)
  --scenarios a,b            subset of: ${SCENARIOS.join(', ')}
  --targets a,b              subset of: ${TARGETS.join(', ')}
  --workers 1,2              pgmoat worker counts (serve --workers N; "not available" until pgmoat has it)
  --haproxy                  also three columns through HAProxy (TCP mode, roundrobin): HAProxy to PgBouncer (the
                             newest), to one pgmoat, to two pgmoat processes (each its own pool of --pool-size)
  --pool-size N              server connections of each pooler (default 20)
  --pgbouncer PATH           a PgBouncer binary to measure; repeat it for a column per binary, each labelled with
                             its version (PATH --version); the newest version is the one pgmoat's ratios use
                             (default: pgbouncer on PATH, else /usr/sbin/pgbouncer)
  --pgmoat PATH              pgmoat's compiled CLI (default: dist/src/cli/main.js of this checkout)
  --pgmoat-version TEXT      what to call that build in the results (default: package version and git commit)
  --compare PATH[=LABEL]     also measure another pgmoat build (its main.js) as an extra column, e.g. a change
                             being evaluated; interleaved with the others so that machine load hits both alike
  --pgmoat-config JSON       merged into the pgmoat.yaml the benchmark writes, e.g. '{"tls":{"session_tickets":false}}'
  --compare-config JSON      the same for the --compare column (which may then be the same build: --compare dist/src/cli/main.js=...)
  --compare-env NAME=VALUE   an environment variable for the --compare column's process only (repeatable), e.g.
                             GLIBC_TUNABLES=glibc.malloc.tcache_count=256 to try an allocator setting on the same build
  --dashboard                also measure select-only (the "select" scenario, same clients and seconds) on a pgmoat
                             with admin.http.dashboard on and an inventory of --dashboard-certs certificates, twice
                             in the same process: nobody watching, then with the page open and refreshing; two more
                             columns ("dashboard unwatched", "dashboard watched") and the ratio watched/unwatched
  --dashboard-watcher W      who watches: browser (default: Debian's headless Chromium via puppeteer-core, the admin
                             certificate in its NSS db; needs chromium and libnss3-tools) or poller (HTTPS requests
                             exactly as assets/dashboard/app.js makes them, at its refresh intervals)
  --dashboard-view V         the view kept open: live (default: the most frequent refresh), certs, trends, or cycle
  --dashboard-cycle N        with --dashboard-view cycle, seconds on each view (default 20)
  --dashboard-certs N        client certificates added to the dashboard column's inventory (default 10000)
  --cpu-prof                 start pgmoat with --cpu-prof into bench/work/prof (also PGMOAT_BENCH_CPU_PROF=1); with --dashboard,
                             the dashboard process (both its cells) into bench/work/prof/STAMP/dashboard
  --no-save                  do not write bench/results/<date>.json
  --results-dir DIR          where the JSON goes (default bench/results)
  --note TEXT                free text stored in the JSON (what else was running, ...)
  --readme                   also put the table into bench/README.md (between its "bench:latest" markers)
  --help
`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: unknown "${item}" (expected ${allowed.join(', ')})`);
  }
  return items as T[];
}

function int(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got "${value}"`);
  return n;
}

function jsonObject(v: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new Error(`${flag}: not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${flag}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function envPairs(values: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new Error(`--compare-env: expected NAME=VALUE, got "${v}"`);
    env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return env;
}

/** Checked before anything starts: a wrong path should not cost a PostgreSQL start and a pgbench -i. */
function binaries(paths: string[] | undefined, flag: string): string[] {
  const out = [...new Set((paths ?? []).map((p) => resolve(p)))];
  for (const p of out) if (!existsSync(p)) throw new Error(`${flag}: ${p} does not exist`);
  return out;
}

function splitCompare(v: string): [string, string] {
  const eq = v.indexOf('=');
  // Resolved here: the build is started from a copy of the work directory, not from the cwd.
  return eq < 0 ? [resolve(v), 'pgmoat (compare)'] : [resolve(v.slice(0, eq)), v.slice(eq + 1)];
}

function one<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  const items = list(value, allowed, flag);
  if (items === undefined) return fallback;
  if (items.length !== 1) throw new Error(`${flag}: expected one of ${allowed.join(', ')}`);
  return items[0]!;
}

function dashboardOptions(values: Record<string, string | boolean | (string | boolean)[] | undefined>): DashboardOptions | undefined {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  const given = ['dashboard-watcher', 'dashboard-view', 'dashboard-cycle', 'dashboard-certs'].filter((k) => values[k] !== undefined);
  if (values.dashboard !== true) {
    if (given.length > 0) throw new Error(`--${given[0]} needs --dashboard`);
    return undefined;
  }
  return {
    watcher: one(str('dashboard-watcher'), DASHBOARD_WATCHERS, '--dashboard-watcher', 'browser'),
    view: one(str('dashboard-view'), DASHBOARD_VIEWS, '--dashboard-view', 'live'),
    cycleSeconds: int(str('dashboard-cycle'), '--dashboard-cycle', 20),
    certificates: int(str('dashboard-certs'), '--dashboard-certs', 10_000, 0),
  };
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      repeat: { type: 'string' },
      scale: { type: 'string' },
      clients: { type: 'string' },
      'many-clients': { type: 'string' },
      'connect-clients': { type: 'string' },
      jobs: { type: 'string' },
      'idle-clients': { type: 'string' },
      'idle-concurrency': { type: 'string' },
      'handshake-procs': { type: 'string' },
      'handshake-concurrency': { type: 'string' },
      'handshake-seconds': { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      workers: { type: 'string' },
      haproxy: { type: 'boolean' },
      'pool-size': { type: 'string' },
      pgbouncer: { type: 'string', multiple: true },
      pgmoat: { type: 'string' },
      'pgmoat-version': { type: 'string' },
      compare: { type: 'string' },
      'pgmoat-config': { type: 'string' },
      'compare-config': { type: 'string' },
      'compare-env': { type: 'string', multiple: true },
      'cpu-prof': { type: 'boolean' },
      dashboard: { type: 'boolean' },
      'dashboard-watcher': { type: 'string' },
      'dashboard-view': { type: 'string' },
      'dashboard-cycle': { type: 'string' },
      'dashboard-certs': { type: 'string' },
      'no-save': { type: 'boolean' },
      'results-dir': { type: 'string' },
      note: { type: 'string' },
      readme: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const seconds = int(values.seconds, '--seconds', quick ? 2 : 20);
  const workers = (values.workers ?? '1,2').split(',').map((w) => int(w.trim(), '--workers', 1));
  const scenarios = list(values.scenarios, SCENARIOS, '--scenarios') ?? [...SCENARIOS];
  const dashboard = dashboardOptions(values);
  if (dashboard && !scenarios.includes('select')) throw new Error('--dashboard measures the select scenario: add select to --scenarios');
  return {
    quick,
    seconds,
    warmup: int(values.warmup, '--warmup', quick ? 0 : 3, 0),
    repeat: int(values.repeat, '--repeat', 1),
    scale: int(values.scale, '--scale', quick ? 1 : 10),
    clients: int(values.clients, '--clients', 50),
    manyClients: int(values['many-clients'], '--many-clients', 500),
    connectClients: int(values['connect-clients'], '--connect-clients', 20),
    jobs: int(values.jobs, '--jobs', 2),
    idleClients: int(values['idle-clients'], '--idle-clients', quick ? 500 : 5000),
    idleConcurrency: int(values['idle-concurrency'], '--idle-concurrency', 32),
    handshakeProcs: int(values['handshake-procs'], '--handshake-procs', 2),
    handshakeConcurrency: int(values['handshake-concurrency'], '--handshake-concurrency', 16),
    handshakeSeconds: int(values['handshake-seconds'], '--handshake-seconds', seconds),
    scenarios,
    targets: list(values.targets, TARGETS, '--targets') ?? [...TARGETS],
    workers: [...new Set(workers)].sort((a, b) => a - b),
    haproxy: values.haproxy ?? false,
    poolSize: int(values['pool-size'], '--pool-size', 20),
    pgbouncer: binaries(values.pgbouncer, '--pgbouncer'),
    pgmoatMain: values.pgmoat === undefined ? undefined : resolve(values.pgmoat),
    pgmoatVersion: values['pgmoat-version'],
    compare: values.compare === undefined ? undefined : splitCompare(values.compare),
    pgmoatConfig: jsonObject(values['pgmoat-config'], '--pgmoat-config'),
    compareConfig: jsonObject(values['compare-config'], '--compare-config'),
    compareEnv: envPairs(values['compare-env']),
    cpuProf: (values['cpu-prof'] ?? false) || process.env.PGMOAT_BENCH_CPU_PROF === '1',
    dashboard,
    save: !(values['no-save'] ?? false),
    resultsDir: values['results-dir'],
    note: values.note,
    readme: values.readme ?? false,
  };
}
