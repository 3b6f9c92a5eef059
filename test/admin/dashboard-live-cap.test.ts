/**
 * /dashboard/api/live in a single process: at most MAX_SESSION_GROUPS identity x database groups,
 * the largest first, with the totals of all of them (the page's cards and note read those).
 * The handler over a stand-in source: thousands of distinct client identities are what the cap
 * is for, and the scale test (test/dashboard) has only 250 groups.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Dashboard } from '../../src/admin/dashboard/handler.js';
import { MAX_SESSION_GROUPS } from '../../src/admin/dashboard/live-view.js';
import type { DashboardSource, LiveView } from '../../src/admin/dashboard/types.js';

const dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-cap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('5,000 sessions of distinct identities: the API sends the largest groups only, and the totals of all', async () => {
  writeFileSync(join(dir, 'token'), 'cap-test-token-0123456789\n', { mode: 0o600 });
  // 4,990 identities with one session, 5 with 2 on two databases: 5,000 groups, 5,010 sessions.
  const sessions: LiveView['sessions'] = Array.from({ length: 4990 }, (_, i) => ({ identity: `client-${i}`, database: 'appdb', count: 1 }));
  for (let i = 0; i < 5; i++) for (const database of ['appdb', 'other']) sessions.push({ identity: `busy-${i}`, database, count: 2 });
  const source: DashboardSource = {
    operatorRefusal: async () => undefined,
    live: async () => ({ pools: [], sessions, refusals: [], crl: { revokedCount: 0 } }),
    certificatePage: async () => ({ total: 0, rows: [] }),
    sessionsOf: async () => ({ sessions: [] }),
    counters: async () => ({ transactions: 0, handshakes: 0, refusals: {}, waitP99Ms: 0, renewals: 0 }),
    act: async () => ({}),
  };
  const dashboard = new Dashboard({ enabled: true, token_file: join(dir, 'token') }, source, pino({ level: 'silent' }));
  dashboard.close();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void dashboard.handle(req, res, url.pathname, url.searchParams);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard/api/live`, { headers: { authorization: 'Bearer cap-test-token-0123456789' } });
    assert.equal(r.status, 200);
    const live = (await r.json()) as LiveView;
    assert.equal(live.sessions.length, MAX_SESSION_GROUPS);
    assert.equal(live.sessionGroups, 5000);
    assert.equal(live.sessionCount, 5010);
    assert.equal(live.identityCount, 4995);
    assert.deepEqual(
      live.sessions.slice(0, 10).map((g) => `${g.identity}/${g.database}=${g.count}`),
      ['busy-0/appdb=2', 'busy-0/other=2', 'busy-1/appdb=2', 'busy-1/other=2', 'busy-2/appdb=2', 'busy-2/other=2', 'busy-3/appdb=2', 'busy-3/other=2', 'busy-4/appdb=2', 'busy-4/other=2'],
      'the largest groups first, wherever the source listed them',
    );
    assert.ok(live.sessions.slice(10).every((g) => g.count === 1));
  } finally {
    server.close();
  }
});

test('an empty or short token_file is refused at start, with the command that makes a good one', () => {
  const stub = {} as DashboardSource;
  for (const [content, says] of [['\n', /is empty/], ['short-token\n', /holds 11 characters, fewer than 16/]] as const) {
    const path = join(dir, `weak-${content.length}`);
    writeFileSync(path, content, { mode: 0o600 });
    assert.throws(() => new Dashboard({ enabled: true, token_file: path }, stub, pino({ level: 'silent' })), (err: { code?: string; message: string; hint?: string }) => {
      assert.equal(err.code, 'DASHBOARD_TOKEN_WEAK');
      assert.match(err.message, says);
      assert.match(err.hint ?? '', /openssl rand -base64 32/);
      return true;
    });
  }
});
