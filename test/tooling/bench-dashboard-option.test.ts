// The benchmark's --dashboard option: parsing, the scenarios its columns take part in, the ratios
// and summary it adds, and the refresh intervals the poller reads from the page's own app.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions, USAGE, type BenchOptions } from '../../bench/options.js';
import { columnsFor, type BenchColumn } from '../../bench/scenarios/context.js';
import { renderNotes, renderTable } from '../../bench/report/table.js';
import type { BenchResults, Cell } from '../../bench/report/model.js';
import { appRefresh, viewAt } from '../../bench/dashboard/watcher.js';

const root = new URL('../..', import.meta.url).pathname;

function parsed(argv: string[]): BenchOptions {
  const o = parseOptions(argv);
  assert.notEqual(o, 'help');
  return o as BenchOptions;
}

test('--dashboard: off by default; on, a Chromium on the live view and 10,000 certificates unless told', () => {
  assert.equal(parsed([]).dashboard, undefined);
  assert.deepEqual(parsed(['--dashboard']).dashboard, { watcher: 'browser', view: 'live', cycleSeconds: 20, certificates: 10_000 });
  assert.deepEqual(
    parsed(['--dashboard', '--dashboard-watcher', 'poller', '--dashboard-view', 'cycle', '--dashboard-cycle', '7', '--dashboard-certs', '0']).dashboard,
    { watcher: 'poller', view: 'cycle', cycleSeconds: 7, certificates: 0 },
  );
  assert.throws(() => parseOptions(['--dashboard', '--dashboard-watcher', 'lynx']), /--dashboard-watcher: unknown "lynx"/);
  assert.throws(() => parseOptions(['--dashboard', '--dashboard-view', 'live,certs']), /--dashboard-view: expected one of/);
  assert.throws(() => parseOptions(['--dashboard', '--dashboard-certs', '1.5']), /--dashboard-certs: expected an integer >= 0/);
  assert.throws(() => parseOptions(['--dashboard-view', 'certs']), /--dashboard-view needs --dashboard/);
  // It measures the select scenario, so a run without it is refused before anything starts.
  assert.throws(() => parseOptions(['--dashboard', '--scenarios', 'connect']), /--dashboard measures the select scenario/);
  assert.equal(parsed(['--dashboard', '--scenarios', 'select,connect']).dashboard?.watcher, 'browser');
  for (const flag of ['--dashboard ', '--dashboard-watcher', '--dashboard-view', '--dashboard-cycle', '--dashboard-certs']) assert.ok(USAGE.includes(flag), `${flag} in --help`);
});

test('a column limited to select-only is n/a, with its reason, in the other scenarios; the others are the same objects', () => {
  const plain: BenchColumn = { id: 'pgmoat', label: 'pgmoat', kind: 'pooler' };
  const dash: BenchColumn = { id: 'pgmoat-dashboard', label: 'pgmoat dashboard unwatched', kind: 'pooler', only: ['select'], onlyReason: '--dashboard measures select-only only' };
  const inSelect = columnsFor([plain, dash], 'select');
  assert.equal(inSelect[0], plain);
  assert.equal(inSelect[1], dash);
  const inIdle = columnsFor([plain, dash], 'idle');
  // The idle scenario restarts columns: it must restart the real one, not a copy.
  assert.equal(inIdle[0], plain);
  assert.equal(inIdle[1]!.unavailable, '--dashboard measures select-only only');
  assert.equal(dash.unavailable, undefined);
});

test('the table gets watched/unwatched ratios and the notes a dashboard summary', () => {
  const cell = (tps: number, cpu: number, extra: Partial<Cell> = {}): Cell => ({ status: 'ok', tps, poolerCpuUsPerTx: cpu, p99Ms: 10, poolerRssKb: 102_400, ...extra }) as Cell;
  const r: BenchResults = {
    date: '', durationSec: 0, machine: { cpuModel: '', cores: 2, memoryGiB: 1, kernel: '' }, loadAverageStart: [0, 0, 0], loadAverageEnd: [0, 0, 0],
    versions: { node: '', postgres: '', pgbench: '', pgbouncer: '1.25.2', pgmoat: '', openssl: '' },
    options: { dashboard: { watcher: 'browser', view: 'live', cycleSeconds: 20, certificates: 10_000 } },
    note: undefined,
    columns: [
      { id: 'direct-tls', label: 'direct (TLS)' },
      { id: 'pgbouncer', label: 'PgBouncer 1.25.2' },
      { id: 'pgmoat', label: 'pgmoat' },
      { id: 'pgmoat-dashboard', label: 'pgmoat dashboard unwatched' },
      { id: 'pgmoat-dashboard-watched', label: 'pgmoat dashboard watched (browser, live view)' },
    ],
    scenarios: [
      {
        id: 'select',
        title: 'select-only, 50 clients',
        cells: {
          'direct-tls': cell(2000, 0),
          pgbouncer: cell(1000, 40),
          pgmoat: cell(1000, 50),
          'pgmoat-dashboard': cell(1000, 50),
          'pgmoat-dashboard-watched': cell(900, 60, { dashboard: { requests: 12, errors: 0, cpuMs: 600, ms: 60_000 } }),
        },
      },
      { id: 'connect', title: '-C', cells: { pgmoat: cell(300, 1500), 'pgmoat-dashboard': { status: 'n/a', reason: '--dashboard measures select-only only' }, 'pgmoat-dashboard-watched': { status: 'n/a', reason: '--dashboard measures select-only only' } } },
    ],
  };
  const lines = renderTable(r).split('\n');
  assert.match(lines[0]!, /\| dash watched\/unwatched \| dash unwatched\/pgmoat \| dash watched\/PgBouncer \|$/);
  assert.match(lines[2]!, /\| 0\.90x \| 1\.00x \| 0\.90x \|$/, 'TPS row');
  assert.match(lines[5]!, /\| 1\.20x \| 1\.00x \| 1\.50x \|$/, 'CPU per transaction row');
  const notes = renderNotes(r);
  assert.match(notes, /browser, live view; 10,000 certificates added/);
  assert.match(notes, /\*\*watched\/unwatched 0\.90x\*\*/);
  assert.match(notes, /watched\/PgBouncer 1\.25\.2 0\.90x; watched\/direct \(TLS\) 0\.45x/);
  assert.match(notes, /RSS after the run unwatched 100\.0 MB, watched 100\.0 MB/);
  assert.match(notes, /12 API requests in 60 s .*its own CPU 600 ms \(1\.0 % of one core\)/);
  assert.match(notes, /- pgmoat dashboard unwatched: --dashboard measures select-only only \(-C\)/);
  // Without the option nothing of it shows.
  const without = { ...r, columns: r.columns.slice(0, 3) };
  assert.doesNotMatch(renderTable(without), /dash /);
  assert.doesNotMatch(renderNotes({ ...without, scenarios: [{ ...r.scenarios[0]!, cells: { pgmoat: cell(1000, 50) } }] }), /Dashboard/);
});

test('the poller refreshes as the page does: INTERVAL and PAGE read from the build\'s app.js', () => {
  const real = appRefresh(root);
  assert.equal(real.source, join(root, 'assets/dashboard/app.js'), 'this checkout\'s app.js has INTERVAL and PAGE');
  for (const v of ['certs', 'live', 'trends'] as const) assert.ok(real.interval[v] >= 1000, `${v} every ${real.interval[v]} ms`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-appjs-'));
  try {
    mkdirSync(join(dir, 'assets/dashboard'), { recursive: true });
    writeFileSync(join(dir, 'assets/dashboard/app.js'), "const INTERVAL = { certs: 30_000, live: 2_500, trends: 60_000 };\nconst PAGE = 100;\n");
    const r = appRefresh(dir);
    assert.deepEqual([r.interval, r.page], [{ certs: 30_000, live: 2_500, trends: 60_000 }, 100]);
    writeFileSync(join(dir, 'assets/dashboard/app.js'), 'nothing here');
    assert.match(appRefresh(dir).source, /^defaults \(INTERVAL or PAGE not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(viewAt({ view: 'live', cycleSeconds: 20 }, 999_999), 'live');
  assert.deepEqual([0, 19_999, 20_000, 40_000, 60_000].map((t) => viewAt({ view: 'cycle', cycleSeconds: 20 }, t)), ['certs', 'certs', 'live', 'trends', 'certs']);
});
