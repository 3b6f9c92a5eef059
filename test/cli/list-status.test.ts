/**
 * What `pgmoat list` says about each certificate: expiring by the rule SHOW CERTS uses (14 days
 * or a third of the lifetime), superseded once issue-server or renew replaced it (the entry kept,
 * with the serial that replaced it), and the time and reason of a revocation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';
import { issueClient, openCa } from '../../src/ca/index.js';
import { certificateStatus } from '../../src/admin/certificate-catalog.js';

const DAY = 86_400_000;
let work: string;
let dir: string;

interface Listed {
  name: string;
  kind: string;
  serial: string;
  status: string;
  expiringSoon: boolean;
  revokedAt: string | null;
  reason: string | null;
  supersededBy: string | null;
}

async function listJson(): Promise<Listed[]> {
  const r = await pgmoat(['list', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { certificates: Listed[] }).certificates;
}

async function listLines(): Promise<string[]> {
  const r = await pgmoat(['list', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n');
}

function serialOf(stdout: string): string {
  const m = /serial ([0-9a-f]+)/.exec(stdout);
  assert.ok(m, stdout);
  return m[1]!;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-cli-list-'));
  dir = join(work, 'ca');
  const init = await pgmoat(['init', '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('expiring: list and SHOW CERTS apply one rule, 14 days or a third of the lifetime, whichever is shorter', async () => {
  // A fresh 5-day certificate has all its life ahead: not expiring (the old fixed 14-day window said it was).
  const fresh = await pgmoat(['issue', 'cron', '--env', 'production', '--dir', dir, '--out', join(work, 'cron'), '--days', '5']);
  assert.equal(fresh.code, 0, fresh.stderr);
  // 30 days long, 4 days left: under both 14 days and a third (10 days).
  const ca = await openCa(dir);
  const now = Date.now();
  await issueClient(ca, { name: 'late', environment: 'production', notBefore: new Date(now - 26 * DAY), notAfter: new Date(now + 4 * DAY) });
  // 90 days long, 20 days left: more than 14 days left, not expiring although under a third.
  await issueClient(ca, { name: 'calm', environment: 'production', notBefore: new Date(now - 70 * DAY), notAfter: new Date(now + 20 * DAY) });
  const rows = await listJson();
  const flag = (name: string): boolean => rows.find((r) => r.name === name)!.expiringSoon;
  assert.deepEqual([flag('cron'), flag('late'), flag('calm')], [false, true, false]);
  const lines = await listLines();
  assert.match(lines.find((l) => l.includes(' cron '))!, /^\s+cron\s+production\s+client\s+[0-9a-f]+\s+valid\s/);
  assert.match(lines.find((l) => l.includes(' late '))!, /^!\s+late\s+production\s+client\s+[0-9a-f]+\s+EXPIRING\s/);
  assert.ok(lines.some((l) => /^! 1 certificate\(s\) due for renewal \(less than 14 days or a third of their lifetime left\)/.test(l)));
  // The console's status for the same three windows.
  const status = (nb: number, na: number): string => certificateStatus({ notBefore: new Date(nb), notAfter: new Date(na), revoked: false }, now);
  assert.deepEqual(
    [status(now - 5 * 60_000, now + 5 * DAY), status(now - 26 * DAY, now + 4 * DAY), status(now - 70 * DAY, now + 20 * DAY)],
    ['valid', 'expiring', 'valid'],
  );
});

test('issue-server: says how a running gateway picks the new pair up; the old server certificate is superseded, not valid', async () => {
  const oldServer = (await listJson()).find((r) => r.kind === 'server')!;
  assert.equal(oldServer.status, 'valid');
  const r = await pgmoat(['issue-server', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  const serial = serialOf(r.stdout);
  assert.match(r.stdout, new RegExp(`Replaces ${oldServer.serial} \\(now "superseded" in pgmoat list`));
  assert.match(r.stdout, /tls\.reload_on_change, on by default/);
  assert.match(r.stdout, /kill -HUP/);
  const servers = (await listJson()).filter((x) => x.kind === 'server');
  assert.deepEqual(
    servers.map((x) => [x.serial, x.status, x.supersededBy]),
    [
      [oldServer.serial, 'superseded', serial],
      [serial, 'valid', null],
    ],
  );
  const line = (await listLines()).find((l) => l.includes(oldServer.serial))!;
  assert.match(line, new RegExp(`superseded .* replaced by ${serial}$`));
});

test('renew without --revoke-old: the previous certificate is superseded, kept, and revoke by name still reaches it', async () => {
  const first = await pgmoat(['issue', 'web', '--env', 'production', '--dir', dir, '--out', join(work, 'web')]);
  assert.equal(first.code, 0, first.stderr);
  const oldSerial = serialOf(first.stdout);
  const renewed = await pgmoat(['renew', 'web', '--env', 'production', '--dir', dir, '--out', join(work, 'web')]);
  assert.equal(renewed.code, 0, renewed.stderr);
  const newSerial = serialOf(renewed.stdout);
  assert.match(renewed.stdout, new RegExp(`Previous certificate ${oldSerial} is now "superseded"`));
  const web = (await listJson()).filter((x) => x.name === 'web');
  assert.deepEqual(
    web.map((x) => [x.serial, x.status, x.supersededBy]),
    [
      [oldSerial, 'superseded', newSerial],
      [newSerial, 'valid', null],
    ],
  );
  const revoked = await pgmoat(['revoke', 'web', '--dir', dir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.deepEqual(
    (await listJson()).filter((x) => x.name === 'web').map((x) => x.status),
    ['revoked', 'revoked'],
  );
});

test('list shows when and why a certificate was revoked', async () => {
  const issued = await pgmoat(['issue', 'leaky', '--env', 'production', '--dir', dir, '--out', join(work, 'leaky')]);
  assert.equal(issued.code, 0, issued.stderr);
  const serial = serialOf(issued.stdout);
  const r = await pgmoat(['revoke', serial, '--dir', dir, '--reason', 'keyCompromise']);
  assert.equal(r.code, 0, r.stderr);
  const row = (await listJson()).find((x) => x.serial === serial)!;
  assert.equal(row.status, 'revoked');
  assert.equal(row.reason, 'keyCompromise');
  const at = row.revokedAt!;
  const line = (await listLines()).find((l) => l.includes(serial))!;
  assert.match(line, /\srevoked\s/);
  assert.ok(line.endsWith(`revoked ${at.slice(0, 10)} ${at.slice(11, 16)} UTC, reason keyCompromise`), line);
});
