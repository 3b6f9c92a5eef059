/**
 * The fuzzer's known cases (known-cases.ts), each alone on a fresh gateway: after it, the batch
 * checks must pass (no stuck server, SELECT 1 on every server of every pool).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FuzzTarget } from './target.js';
import { KNOWN_CASES } from './known-cases.js';
import { execContext } from './fuzzer.js';
import { runScript } from './execute.js';
import { runChecks, takeBaseline, DEFAULT_CHECKS } from './checks.js';
import { RunStats } from './stats.js';

let target: FuzzTarget;
before(async () => {
  target = await FuzzTarget.start();
});
after(async () => {
  await target?.stop();
});

const checks = { ...DEFAULT_CHECKS, settleMs: 8000, queryMs: 8000 };

for (const c of KNOWN_CASES) {
  test(c.name, async () => {
    await target.restartGateway();
    const baseline = await takeBaseline(target, checks);
    const outcome = await runScript(execContext(target, new RunStats(), 3000), c.script);
    assert.equal(outcome.inputs, 1, `the script did not reach its input: ${outcome.end}`);
    const r = await runChecks(target, checks, baseline);
    assert.equal(r.ok, true, `${r.failure?.check}: ${r.failure?.message}`);
  });
}
