/**
 * max_client_conn caps the clients logged in at once, including clients whose logins are in
 * flight together (the first logins of a pool wait for its first server connection).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { nodeSsl, useAppGateway } from './helpers.js';

const MAX = 3;

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ gateway: { max_client_conn: MAX }, database: { pool_size: 2 } }, (parts) => {
  ({ pki, upstream, app, gw } = parts);
});

interface Attempt {
  client: pg.Client;
  error: (Error & { code?: string }) | undefined;
}

async function attempt(): Promise<Attempt> {
  const client = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), connectionTimeoutMillis: 20_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { client, error: undefined };
  } catch (err) {
    return { client, error: err as Error & { code?: string } };
  }
}

async function endAll(attempts: Attempt[]): Promise<void> {
  await Promise.all(attempts.filter((a) => !a.error).map((a) => a.client.end().catch(() => undefined)));
}

test(`logins in flight together on a new pool: no more than max_client_conn (${MAX}) get in`, async () => {
  const attempts = await Promise.all(Array.from({ length: 12 }, () => attempt()));
  try {
    const inside = attempts.filter((a) => !a.error);
    const refused = attempts.filter((a) => a.error);
    assert.equal(inside.length, MAX, `${inside.length} clients logged in with max_client_conn ${MAX}`);
    for (const r of refused) {
      assert.equal(r.error!.code, '53300', r.error!.message);
      assert.match(r.error!.message, /no more connections allowed \(max_client_conn is 3\)/);
    }
    assert.equal(gw.gateway.pools.get('appdb/app')!.clientCount, MAX);
  } finally {
    await endAll(attempts);
  }
});

test('once clients leave, their slots are free again (and refused logins took none)', async () => {
  const first = await Promise.all(Array.from({ length: MAX }, () => attempt()));
  try {
    assert.deepEqual(
      first.map((a) => a.error?.message),
      Array.from({ length: MAX }, () => undefined),
    );
    const extra = await attempt();
    assert.equal(extra.error?.code, '53300');
  } finally {
    await endAll(first);
  }
  const again = await Promise.all(Array.from({ length: MAX }, () => attempt()));
  try {
    assert.ok(again.every((a) => !a.error), again.map((a) => a.error?.message).join(', '));
  } finally {
    await endAll(again);
  }
});
