/**
 * PostgreSQL restarted (fast shutdown, then start) under pgbench through pgmoat, in both pool
 * modes. Only transactions in flight at the shutdown may fail, with PostgreSQL's own words for
 * it; no client may fail because pgmoat tried to log in while the server was shutting down,
 * down or starting up (57P03, a refused connect): those logins are retried while the clients
 * wait (issue 12, item 4). pgbench -C makes every transaction a new login, so in session mode
 * too the logins during the restart are exercised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { logEvents } from '../gateway/helpers.js';
import { abortedClients, pgbench, useFaultSetup, withGateway } from './helpers.js';
import { faultRounds } from './size.js';

const setup = useFaultSetup({ pgbench: true });

/** What pgmoat or PostgreSQL say when a login is attempted at the wrong moment of a restart. */
const LOGIN_DURING_RESTART = /shutting down|starting up|not yet accepting|could not connect|ECONNREFUSED|Connection refused|in recovery|57P03/i;
/** What a transaction in flight at a fast shutdown may see. */
const IN_FLIGHT = /terminating connection due to administrator command|server closed the connection unexpectedly|SSL SYSCALL error: EOF detected|connection to server was lost/i;

/** pgbench's error lines, but its closing "Run was aborted" summary. */
function abortLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /aborted|error|FATAL/i.test(l) && !/Run was aborted/.test(l));
}

function processed(stdout: string): number {
  const m = /number of transactions actually processed: (\d+)/.exec(stdout);
  return m ? Number(m[1]) : 0;
}

for (const mode of ['transaction', 'session'] as const) {
  test(`${mode} mode: PostgreSQL restarted under pgbench; only transactions in flight fail`, async () => {
    const top = { pool_mode: mode, server_login_retry: '500ms', query_wait_timeout: '60s' };
    await withGateway(setup, top, { pool_size: 3 }, async (gw) => {
      // transaction mode: clients on 3 server connections, so at most 3 transactions are in
      // flight at each restart; session mode: a new connection per transaction (-C), 3 clients.
      // Each restart may cost the clients in flight: there are enough for every round.
      const rounds = faultRounds();
      const clients = String(mode === 'transaction' ? 3 * rounds + 5 : 3 * rounds + 1);
      const seconds = String(6 + 4 * rounds);
      const run = pgbench(setup, gw.port, mode === 'transaction' ? ['-n', '-S', '-c', clients, '-T', seconds] : ['-n', '-S', '-C', '-c', clients, '-T', seconds]);
      await sleep(2_500);
      const beforeRestart = gw.gateway.pools.get('appdb/app')!.stats.transactions;
      assert.ok(beforeRestart > 0, 'pgbench was running before the restart');
      for (let i = 0; i < rounds; i++) {
        if (i > 0) await sleep(2_000);
        await setup.upstream.restart();
      }
      const r = await run;
      const errors = abortLines(r.stderr);
      const logins = errors.filter((l) => LOGIN_DURING_RESTART.test(l));
      assert.deepEqual(logins, [], `no client failed on a login during the restart:\n${r.stderr}`);
      const unexplained = errors.filter((l) => !IN_FLIGHT.test(l));
      assert.deepEqual(unexplained, [], `every failure is a transaction in flight:\n${r.stderr}`);
      const aborted = abortedClients(r.stderr).length;
      assert.ok(aborted <= 3 * rounds, `at most the transactions in flight fail (${aborted} clients aborted in ${rounds} restarts):\n${r.stderr}`);
      assert.ok(processed(r.stdout) > 0 && gw.gateway.pools.get('appdb/app')!.stats.transactions > beforeRestart, 'transactions went on after the restart');
      // The pool saw the restart and said so.
      assert.ok(logEvents(gw, 'server_closed').some((l) => l.level === 30), 'servers closed by the upstream are logged at info');
    });
  });
}
