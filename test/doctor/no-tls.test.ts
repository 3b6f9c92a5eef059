/** A PostgreSQL with ssl off answers the SSLRequest with 'N': the doctor stops at step 3. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { doctor, lastStep } from './run-doctor.js';

let pg: PgServer;
let pki: Pki;

before(async () => {
  pki = await makePki();
  pg = await startPostgres({ settings: { ssl: false } });
});

after(async () => {
  await pg?.stop();
  pki?.cleanup();
});

test("plain server: SSLRequest answered 'N', server does not offer TLS", async () => {
  const app = await pki.client('app');
  const r = await doctor([`postgres://app@127.0.0.1:${pg.port}/postgres`, '--cert', app.certPath, '--key', app.keyPath, '--ca', app.caPath, '--json']);
  assert.equal(r.code, 1);
  assert.deepEqual(r.report!.steps.map((s) => s.status), ['ok', 'ok', 'fail']);
  const s = lastStep(r);
  assert.equal(s.step, 'ssl-request');
  assert.equal(s.code, 'NO_TLS');
  assert.match(s.detail, /server does not offer TLS/);
  assert.match(s.fix!, /ssl = on|gateway's port/);
});

test('the text output names the failing step and its fix', async () => {
  const r = await doctor([`postgres://app@127.0.0.1:${pg.port}/postgres`]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[3]!, /^FAIL +3\. SSLRequest +the server answered 'N': server does not offer TLS$/);
  assert.equal(lines.length, 4);
  assert.match(r.stderr, /^pgmoat: step 3 \(SSLRequest\) failed: turn TLS on at the server/);
});
