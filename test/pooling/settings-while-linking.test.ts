/**
 * Transaction mode, a client whose startup settings differ from the server's: pgmoat applies
 * them (SET) on the server before the client's first message goes there. A message that takes
 * several reads to arrive must not overtake its own beginning while the SET runs: what comes
 * in meanwhile waits behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ClientFiles } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { nodeSsl, useAppGateway } from '../gateway/helpers.js';

let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ gateway: { pool_mode: 'transaction' }, database: { pool_size: 1 } }, (parts) => {
  ({ gw, app } = parts);
});

function client(applicationName: string): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', application_name: applicationName, ssl: nodeSsl(app), query_timeout: 20_000 });
  c.on('error', () => undefined);
  return c;
}

test('a 2 MB query from a client whose settings must first be applied arrives whole and in order', async () => {
  const a = client('first-app');
  const b = client('second-app');
  await a.connect();
  await b.connect();
  try {
    for (let round = 0; round < 5; round++) {
      // The one server has first-app's settings: second-app's query needs a SET first, and its
      // 2 MB arrive in many TLS records while that SET runs.
      await a.query('SELECT 1');
      const big = 'x'.repeat(2_000_000);
      const r = await b.query<{ n: number; name: string }>(`SELECT length('${big}') AS n, current_setting('application_name') AS name`);
      assert.equal(r.rows[0]!.n, 2_000_000);
      assert.equal(r.rows[0]!.name, 'second-app');
    }
  } finally {
    await a.end();
    await b.end();
  }
});
