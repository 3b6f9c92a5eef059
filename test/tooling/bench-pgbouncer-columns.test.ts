// The benchmark's PgBouncer columns: the newest version is the reference, and each column names its version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newerPgbouncerFirst, pgbouncerHasSigquitShutdown } from '../../bench/targets/pgbouncer.js';
import { parseOptions } from '../../bench/options.js';
import { renderTable } from '../../bench/report/table.js';
import type { BenchResults } from '../../bench/report/model.js';

test('PgBouncer versions sort newest first, numerically', () => {
  assert.deepEqual(['1.18.0', '1.25.2', '1.9.0', '1.25.10', '1.21'].sort(newerPgbouncerFirst), ['1.25.10', '1.25.2', '1.21', '1.18.0', '1.9.0']);
  assert.equal(newerPgbouncerFirst('1.25.2', '1.25.2'), 0);
});

test('PgBouncer 1.23 and later are stopped with SIGQUIT (their SIGTERM waits for clients)', () => {
  assert.equal(pgbouncerHasSigquitShutdown('1.18.0'), false);
  assert.equal(pgbouncerHasSigquitShutdown('1.22.1'), false);
  assert.equal(pgbouncerHasSigquitShutdown('1.23.0'), true);
  assert.equal(pgbouncerHasSigquitShutdown('1.25.2'), true);
});

test('--pgbouncer is repeatable, resolved, and a missing binary is refused at once', () => {
  const opts = parseOptions(['--pgbouncer', '/bin/sh', '--pgbouncer', '/bin/../bin/sh', '--pgbouncer', '/bin/true']);
  assert.notEqual(opts, 'help');
  if (opts !== 'help') assert.deepEqual(opts.pgbouncer, ['/bin/sh', '/bin/true']);
  const none = parseOptions([]);
  if (none !== 'help') assert.deepEqual(none.pgbouncer, []);
  assert.throws(() => parseOptions(['--pgbouncer', '/nonexistent/pgbouncer']), /--pgbouncer: \/nonexistent\/pgbouncer does not exist/);
});

test('with two PgBouncers the ratios name the reference one; with one the header is unchanged', () => {
  const results = (columns: { id: string; label: string }[]): BenchResults => ({
    date: '', durationSec: 0, machine: { cpuModel: '', cores: 2, memoryGiB: 1, kernel: '' }, loadAverageStart: [0, 0, 0], loadAverageEnd: [0, 0, 0],
    versions: { node: '', postgres: '', pgbench: '', pgbouncer: null, pgmoat: '', openssl: '' }, options: {}, note: undefined, columns,
    scenarios: [{ id: 'select', title: 'select-only', cells: Object.fromEntries(columns.map((c, i) => [c.id, { status: 'ok', tps: 100 * (i + 1) }])) }],
  });
  const two = renderTable(results([{ id: 'pgbouncer', label: 'PgBouncer 1.25.2' }, { id: 'pgbouncer-1.18.0', label: 'PgBouncer 1.18.0' }, { id: 'pgmoat', label: 'pgmoat' }]));
  const head = two.split('\n')[0]!;
  assert.match(head, /\| PgBouncer 1\.25\.2 \| PgBouncer 1\.18\.0 \| pgmoat \| pgmoat\/PgBouncer 1\.25\.2 \|/);
  // pgmoat 300 TPS against the reference's 100.
  assert.match(two.split('\n')[2]!, /\| 3\.00x \|/);
  const one = renderTable(results([{ id: 'pgbouncer', label: 'PgBouncer 1.18.0' }, { id: 'pgmoat', label: 'pgmoat' }]));
  assert.match(one.split('\n')[0]!, /\| pgmoat\/PgBouncer \|/);
});

test('--compare-env: NAME=VALUE pairs for the compare column only (the value may hold "=")', () => {
  const opts = parseOptions(['--compare-env', 'GLIBC_TUNABLES=glibc.malloc.tcache_count=256', '--compare-env', 'A=']);
  assert.notEqual(opts, 'help');
  if (opts !== 'help') assert.deepEqual(opts.compareEnv, { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=256', A: '' });
  const none = parseOptions([]);
  if (none !== 'help') assert.deepEqual(none.compareEnv, {});
  assert.throws(() => parseOptions(['--compare-env', '=x']), /--compare-env: expected NAME=VALUE/);
  assert.throws(() => parseOptions(['--compare-env', 'novalue']), /--compare-env: expected NAME=VALUE/);
});
