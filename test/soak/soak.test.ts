/**
 * Keeps the soak runner working: `npm run soak` for about 20 seconds must complete, print its
 * report and exit 0. No figure is asserted beyond the report's fields: the machine is shared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SoakReport } from './report.js';

const ROOT = new URL('../..', import.meta.url).pathname;

test('a 20-second soak completes, reports memory, descriptors and load, and exits 0', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-soak-test-'));
  try {
    const jsonPath = join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/soak/run.ts', '--minutes', '0.34', '--clients', '2', '--rate', '200', '--reload-every', '2', '--revoke-every', '6', '--renew-every', '8', '--refuse-every', '1', '--sample-every', '0.5', '--json', jsonPath],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    for (const field of ['RSS', 'heapUsed', 'fds', 'pgbench:', 'reloads (SIGHUP):', 'revocations:', 'renewals:', 'refused handshakes:', 'stuck pool:', 'RESULT: ok']) {
      assert.ok(out.includes(field), `the report names ${field}:\n${out}`);
    }
    const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as SoakReport;
    assert.equal(report.ok, true);
    assert.equal(report.crashed, undefined);
    assert.equal(report.stuckPool, undefined);
    for (const t of [report.rss, report.heapUsed, report.fds]) {
      for (const k of ['start', 'end', 'slopePerMinute', 'secondHalfGrowth', 'limit'] as const) assert.equal(typeof t[k], 'number', k);
    }
    assert.ok(report.rss.start > 0 && report.fds.start > 0 && report.heapUsed.start > 0);
    const a = report.activity;
    assert.ok(a.transactions > 0, 'pgbench ran transactions through the gateway');
    assert.ok(a.reloads > 0, 'SIGHUP reloads were applied');
    assert.ok(a.revocations > 0 && a.revocationsEnforced > 0, 'a throwaway certificate was revoked and its session ended');
    assert.ok(a.renewals > 0, 'a certificate was renewed and used');
    assert.ok(a.refusedHandshakes > 0);
    assert.deepEqual(a.problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
