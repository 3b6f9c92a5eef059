/**
 * The agent keeps a short-lived certificate fresh while `pgbench -C` opens a new mutual-TLS
 * connection through the gateway for every transaction, with the very files the agent replaces
 * (libpq reads sslcert and sslkey again at each connection): no connection may fail, across
 * several renewals. The agent is given one file for both (--cert F --key F, the certificate
 * chain then the key), which it replaces with one rename: with two files, a connection made
 * between the two renames reads the new key beside the old certificate, and fails (seen here:
 * one connection in about 3,600 across four renewals).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgTool } from '../harness/pg-binaries.js';
import { collectResult, spawnPgmoat } from '../ca/run-pgmoat.js';
import { waitFor } from '../gateway/helpers.js';
import { issueClient } from '../../src/ca/index.js';
import { startRenewalStack, stopRenewalStack, type RenewalStack } from './helpers.js';

let stack: RenewalStack;
before(async () => {
  stack = await startRenewalStack();
});
after(() => stopRenewalStack(stack));

// The suite uses a 30-second certificate renewed at half its life (a renewal every 15 s) to stay
// short; PGMOAT_AGENT_SOAK_LIFETIME=120 runs the issue's 2-minute certificate at the agent's default
// threshold (2/3: a renewal every 80 s) for about four minutes.
const lifetimeS = Number(process.env['PGMOAT_AGENT_SOAK_LIFETIME'] ?? '30');
const renewAt = lifetimeS === 30 ? 0.5 : 2 / 3;
const pgbenchSeconds = Math.floor(lifetimeS * renewAt * 3.7);

function pgbench(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<{ code: number; stdout: string; stderr: string }> } {
  let child!: ChildProcess;
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    child = execFile(pgTool('pgbench'), args, { encoding: 'utf8', timeout: 120_000 + pgbenchSeconds * 1000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  return { child, done };
}

test('pgbench -C through the gateway with the files the agent renews: several renewals, no failed connection', { timeout: 120_000 + pgbenchSeconds * 4000 }, async () => {
  const init = await pgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(stack.upstream.port), '-U', 'app', 'appdb']).done;
  assert.equal(init.code, 0, init.stderr);
  const out = join(stack.work, 'app');
  mkdirSync(out, { recursive: true });
  const now = Date.now();
  const issued = await issueClient(stack.pki.main.authority, { name: 'app', environment: 'production', outDir: out, allowDuplicate: true, notBefore: new Date(now - 1000), notAfter: new Date(now + lifetimeS * 1000) });
  const pemPath = join(out, 'app.pem');
  writeFileSync(pemPath, readFileSync(issued.files!.cert, 'utf8') + readFileSync(issued.files!.key!, 'utf8'), { mode: 0o600 });
  const agent = spawnPgmoat(['agent', '--remote', stack.svc.url, '--cert', pemPath, '--key', pemPath, '--ca', issued.files!.ca, '--renew-at', String(renewAt), '--jitter', '0', '--retry-min', '200ms']);
  let log = '';
  agent.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const agentDone = collectResult(agent);
  const renewals = (): number => log.split('\n').filter((l) => l.includes('"agent_renewed"')).length;
  const env = { PGSSLMODE: 'verify-full', PGSSLCERT: pemPath, PGSSLKEY: pemPath, PGSSLROOTCERT: issued.files!.ca, PGCONNECT_TIMEOUT: '10' };
  try {
    const run = pgbench(['-C', '-c', '2', '-T', String(pgbenchSeconds), '-n', '-S', '-h', '127.0.0.1', '-p', String(stack.gw.port), '-U', 'app', 'appdb'], env);
    let finished = false;
    void run.done.then(() => (finished = true));
    await waitFor(() => renewals() >= 3 || finished, `three renewals while pgbench runs:\n${log}`, pgbenchSeconds * 2000);
    assert.equal(finished, false, `pgbench ended before three renewals (${renewals()}): the load proved nothing`);
    const r = await run.done;
    const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
    const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
    console.log(`# ${lifetimeS}-s certificate: pgbench -C -c 2 -T ${pgbenchSeconds} across ${renewals()} renewals: ${processed?.[1] ?? '?'} transactions (one connection each), ${failed?.[1] ?? 0} failed`);
    assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
    assert.doesNotMatch(r.stderr, /error|FATAL|abort/i);
    if (failed) assert.equal(failed[1], '0');
    assert.ok(processed && Number(processed[1]) > 0, r.stdout);
  } finally {
    agent.kill('SIGTERM');
    await agentDone;
  }
});
