/**
 * PostgreSQL restarted (fast shutdown, then start) under pgbench through pgmoat, in both pool
 * modes. Only transactions in flight at the shutdown may fail, with PostgreSQL's own words for
 * it; no client may fail because pgmoat tried to log in while the server was shutting down,
 * down or starting up (57P03, a refused connect): those logins are retried while the clients
 * wait (issue 12, item 4). pgbench -C makes every transaction a new login, so in session mode
 * too the logins during the restart are exercised.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { APP_SETUP_SQL, clientTlsSection, logEvents, plainUpstream } from '../gateway/helpers.js';
import { faultRounds } from './size.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  // Initialised on the upstream directly, not through pgmoat.
  execFileSync(pgTool('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb'], { stdio: 'ignore' });
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
});

interface Bench {
  code: number;
  stdout: string;
  stderr: string;
}

function pgbench(port: number, args: string[]): { done: Promise<Bench> } {
  const child = spawn(pgTool('pgbench'), [...args, '-h', '127.0.0.1', '-p', String(port), '-U', 'app', 'appdb'], {
    env: { ...process.env, PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath, PGCONNECT_TIMEOUT: '20' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return {
    done: new Promise((resolve) => {
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    }),
  };
}

/** What pgmoat or PostgreSQL say when a login is attempted at the wrong moment of a restart. */
const LOGIN_DURING_RESTART = /shutting down|starting up|not yet accepting|could not connect|ECONNREFUSED|Connection refused|in recovery|57P03/i;
/** What a transaction in flight at a fast shutdown may see. */
const IN_FLIGHT = /terminating connection due to administrator command|server closed the connection unexpectedly|SSL SYSCALL error: EOF detected|connection to server was lost/i;

function abortLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /aborted|error|FATAL/i.test(l) && !/Run was aborted|pgbench: error: .* client.*aborted/i.test(l));
}

function processed(stdout: string): number {
  const m = /number of transactions actually processed: (\d+)/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

for (const mode of ['transaction', 'session'] as const) {
  test(`${mode} mode: PostgreSQL restarted under pgbench; only transactions in flight fail`, async () => {
    const gw: RunningGateway = await startGateway({
      tls: clientTlsSection(pki),
      pool_mode: mode,
      server_login_retry: '500ms',
      query_wait_timeout: '60s',
      databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 3 }) },
    });
    try {
      // transaction mode: clients on 3 server connections, so at most 3 transactions are in
      // flight at each restart; session mode: a new connection per transaction (-C), 3 clients.
      // Each restart may cost the clients in flight: there are enough for every round.
      const rounds = faultRounds();
      const clients = mode === 'transaction' ? 3 * rounds + 5 : 3 * rounds + 1;
      const seconds = String(6 + 4 * rounds);
      const args = mode === 'transaction' ? ['-n', '-S', '-c', String(clients), '-T', seconds] : ['-n', '-S', '-C', '-c', String(clients), '-T', seconds];
      const run = pgbench(gw.port, args);
      await sleep(2_500);
      const beforeRestart = gw.gateway.pools.get('appdb/app')!.stats.transactions;
      assert.ok(beforeRestart > 0, 'pgbench was running before the restart');
      for (let i = 0; i < rounds; i++) {
        if (i > 0) await sleep(2_000);
        await upstream.restart();
      }
      const r = await run.done;
      const errors = abortLines(r.stderr);
      const logins = errors.filter((l) => LOGIN_DURING_RESTART.test(l));
      assert.deepEqual(logins, [], `no client failed on a login during the restart:\n${r.stderr}`);
      const unexplained = errors.filter((l) => /aborted|FATAL|error/i.test(l) && !IN_FLIGHT.test(l) && !/^\s*$/.test(l));
      assert.deepEqual(unexplained, [], `every failure is a transaction in flight:\n${r.stderr}`);
      const aborted = r.stderr.split('\n').filter((l) => / aborted /.test(l)).length;
      assert.ok(aborted <= 3 * rounds, `at most the transactions in flight fail (${aborted} clients aborted in ${rounds} restarts):\n${r.stderr}`);
      const after = gw.gateway.pools.get('appdb/app')!.stats.transactions;
      assert.ok(processed(r.stdout) > 0 && after > beforeRestart, 'transactions went on after the restart');
      // The pool saw the restart and said so.
      assert.ok(logEvents(gw, 'server_closed').some((l) => l.level === 30), 'servers closed by the upstream are logged at info');
    } finally {
      await gw.stop();
    }
  });
}
