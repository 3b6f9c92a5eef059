/**
 * A listener whose port is taken: `pgmoat serve` says which listener, that the port is in use and
 * which setting chooses another, in one line, exit 1 (it used to print "unexpected error: listen
 * EADDRINUSE" after a JSON log line). The same for the admin HTTP listener and the renewal service;
 * and a config file that does not exist is named in words as well as by its errno.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';

let work: string;
let ca: string;
let taken: Server;
let busyPort: number;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-cli-listen-'));
  ca = join(work, 'ca');
  const init = await pgmoat(['init', '--dir', ca]);
  assert.equal(init.code, 0, init.stderr);
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  busyPort = (taken.address() as { port: number }).port;
});
after(() => {
  taken.close();
  rmSync(work, { recursive: true, force: true });
});

function config(name: string, edit: (yaml: string) => string): string {
  const path = join(ca, name);
  writeFileSync(path, edit(readFileSync(join(ca, 'pgmoat.yaml'), 'utf8')));
  return path;
}

async function refused(path: string, expected: RegExp): Promise<void> {
  const r = await pgmoat(['serve', '--config', path]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, expected);
  assert.doesNotMatch(r.stderr, /unexpected error|EADDRINUSE/);
  // The one line a person reads is the last; no JSON log line repeats the failure before it.
  assert.doesNotMatch(r.stderr, /"listener error"/);
}

test('serve on a port in use: the gateway, the admin HTTP listener and the renewal service each say so and name the setting', async () => {
  await refused(
    config('gateway-busy.yaml', (y) => y.replace(/port: 6432/, `port: ${busyPort}`)),
    new RegExp(`^pgmoat: the gateway: port ${busyPort} on 127\\.0\\.0\\.1 is already in use .*choose another with listen\\.host/listen\\.port in pgmoat\\.yaml$`, 'm'),
  );
  await refused(
    config('admin-busy.yaml', (y) => `${y.replace(/port: 6432/, 'port: 0')}\nadmin:\n  http: { host: 127.0.0.1, port: ${busyPort} }\n`),
    new RegExp(`^pgmoat: the admin HTTP listener: port ${busyPort} on 127\\.0\\.0\\.1 is already in use .*admin\\.http\\.host/admin\\.http\\.port`, 'm'),
  );
  await refused(
    config('renewal-busy.yaml', (y) => `${y.replace(/port: 6432/, 'port: 0')}\nrenewal:\n  port: ${busyPort}\n  ca_dir: .\n`),
    new RegExp(`^pgmoat: the renewal service: port ${busyPort} on 127\\.0\\.0\\.1 is already in use .*renewal\\.host/renewal\\.port`, 'm'),
  );
});

test('a config file that does not exist is named in words', async () => {
  const r = await pgmoat(['serve', '--config', join(work, 'nope.yaml')]);
  assert.equal(r.code, 1, r.stderr);
  // The errno for a script, then in words with the fix (it used to be the bare errno).
  assert.match(r.stderr, /cannot read config file .*nope\.yaml: ENOENT \(no such file\); check the path \(pgmoat init --dir DIR writes a starter DIR\/pgmoat\.yaml\)$/m);
});
