/**
 * The checks after every batch, each with a deadline rather than a fixed wait:
 *   alive     the gateway process has not exited;
 *   settled   /metrics shows no client left in any pool and no server that is not idle
 *             (a server stuck in a reset or check, a client stuck waiting: a stuck pool);
 *   query     real clients (node-postgres, valid certificate) run BEGIN; SELECT 1 on every
 *             server of every pool at once (pool_size clients per pool), then COMMIT: a server
 *             handed back in the middle of a message never answers, and this finds it;
 *   upstream  PostgreSQL has exactly as many backends of role app as pgmoat has servers;
 *   fds       the gateway's open descriptors are back to the baseline plus its server sockets;
 *   memory    its resident memory is under the limit.
 */
import { get } from 'node:http';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { POOLS, ADMIN_CN, type FuzzTarget, type PoolSpec } from './target.js';

export interface CheckOptions {
  settleMs: number;
  queryMs: number;
  fdSlack: number;
  maxRssMb: number;
}

export const DEFAULT_CHECKS: CheckOptions = { settleMs: 20_000, queryMs: 20_000, fdSlack: 3, maxRssMb: 1024 };

export interface Baseline {
  /** Open descriptors of the gateway minus its server connections, when it was known good. */
  fdsWithoutServers: number;
}

export interface CheckFailure {
  check: 'alive' | 'settled' | 'query' | 'upstream' | 'fds' | 'memory';
  message: string;
  /** Diagnostics: metrics, SHOW SERVERS and SHOW CLIENTS, upstream backends, fds, output tail. */
  details: Record<string, unknown>;
}

export interface CheckReport {
  ok: boolean;
  failure?: CheckFailure;
  fds: number;
  servers: number;
  rssMb: number;
  ms: number;
}

interface PoolState {
  clients: Record<string, number>;
  servers: Record<string, number>;
}

function httpGet(port: number, path: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** pgmoat_clients and pgmoat_servers by pool (`database/user`) and state. */
export async function poolStates(t: FuzzTarget): Promise<Map<string, PoolState>> {
  const text = await httpGet(t.metricsPort, '/metrics', 5000);
  const out = new Map<string, PoolState>();
  for (const line of text.split('\n')) {
    const m = /^pgmoat_(clients|servers)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    const key = `${labels.database}/${labels.user}`;
    const st = out.get(key) ?? { clients: {}, servers: {} };
    out.set(key, st);
    (m[1] === 'clients' ? st.clients : st.servers)[labels.state!] = Number(m[3]);
  }
  return out;
}

function busy(states: Map<string, PoolState>): string[] {
  const out: string[] = [];
  for (const [db, st] of states) {
    for (const [state, n] of Object.entries(st.clients)) if (n > 0) out.push(`${db}: ${n} client(s) ${state}`);
    for (const [state, n] of Object.entries(st.servers)) if (state !== 'idle' && n > 0) out.push(`${db}: ${n} server(s) ${state}`);
  }
  return out;
}

function serverTotal(states: Map<string, PoolState>): number {
  let n = 0;
  for (const st of states.values()) for (const v of Object.values(st.servers)) n += v;
  return n;
}

/** SHOW SERVERS and SHOW CLIENTS through the admin console, for a failure report. */
async function adminShow(t: FuzzTarget): Promise<Record<string, unknown>> {
  const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: ADMIN_CN, database: 'pgmoat', ssl: t.ssl('admin'), connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const servers = await c.query('SHOW SERVERS');
    const clients = await c.query('SHOW CLIENTS');
    const pools = await c.query('SHOW POOLS');
    return { pools: pools.rows, servers: servers.rows, clients: clients.rows.filter((r: Record<string, unknown>) => r.database !== 'pgmoat') };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await Promise.race([c.end().catch(() => undefined), sleep(2000)]);
  }
}

async function diagnostics(t: FuzzTarget): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (t.gateway.alive) {
    try {
      out.pools = Object.fromEntries(await poolStates(t));
    } catch (err) {
      out.pools = (err as Error).message;
    }
    out.admin = await adminShow(t);
    out.fds = t.gateway.fds();
  }
  try {
    out.upstream = await t.upstreamBackends();
  } catch (err) {
    out.upstream = (err as Error).message;
  }
  out.gatewayOutputTail = t.gateway.output().split('\n').slice(-40).join('\n');
  return out;
}

/** Polls `probe` until it returns undefined (settled) or the deadline; returns the last complaint. */
async function until<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const complaint = await probe();
    if (complaint === undefined || Date.now() > end) return complaint;
    await sleep(100);
  }
}

async function settle(t: FuzzTarget, ms: number): Promise<string[] | undefined> {
  return until(ms, async () => {
    if (!t.gateway.alive) return ['gateway exited'];
    const b = busy(await poolStates(t));
    return b.length > 0 ? b : undefined;
  });
}

/**
 * pool_size real clients on one pool at once, each holding a server with BEGIN until all of
 * them have answered SELECT 1: every server of the pool is used. Returns what went wrong.
 */
async function queryPool(t: FuzzTarget, pool: PoolSpec, ms: number): Promise<string | undefined> {
  const clients = Array.from({ length: pool.size }, () => {
    const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: 'app', database: pool.database, ssl: t.ssl('app'), connectionTimeoutMillis: ms });
    c.on('error', () => undefined);
    return c;
  });
  const progress = clients.map(() => 'connecting');
  let release!: () => void;
  const allIn = new Promise<void>((resolve) => (release = resolve));
  let inside = 0;
  const work = clients.map(async (c, i) => {
    await c.connect();
    progress[i] = 'BEGIN';
    await c.query('BEGIN');
    progress[i] = 'SELECT 1';
    const r = await c.query<{ one: number }>('SELECT 1 AS one');
    if (r.rows[0]?.one !== 1) throw new Error(`SELECT 1 answered ${JSON.stringify(r.rows)}`);
    progress[i] = 'waiting for the others';
    if (++inside === clients.length) release();
    await allIn;
    progress[i] = 'COMMIT';
    await c.query('COMMIT');
    progress[i] = 'done';
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('deadline'), ms)));
  const result = await Promise.race([Promise.all(work).then(() => undefined, (err: Error) => `error: ${err.message}`), deadline]);
  clearTimeout(timer);
  // Hung clients are cut off: that ends their sessions, and the pool gets its servers back.
  for (const c of clients) {
    const s = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    if (result !== undefined) s?.destroy();
  }
  await Promise.all(clients.map((c) => Promise.race([c.end().catch(() => undefined), sleep(2000)])));
  if (result === undefined) return undefined;
  return `${pool.database} (${pool.mode}, ${pool.size} clients): ${result === 'deadline' ? `no answer within ${ms} ms` : result}; clients were at: ${progress.join(', ')}`;
}

export async function runChecks(t: FuzzTarget, opts: CheckOptions, baseline: Baseline | undefined): Promise<CheckReport> {
  const started = Date.now();
  const report = (failure: CheckFailure | undefined, fds = 0, servers = 0, rssMb = 0): CheckReport => ({
    ok: failure === undefined,
    ...(failure ? { failure } : {}),
    fds,
    servers,
    rssMb,
    ms: Date.now() - started,
  });
  const fail = async (check: CheckFailure['check'], message: string): Promise<CheckReport> => report({ check, message, details: await diagnostics(t) });
  const gw = t.gateway;
  if (!gw.alive) return fail('alive', `the gateway exited: ${JSON.stringify(gw.exit ?? { code: gw.proc.exitCode, signal: gw.proc.signalCode })}`);
  try {
    const stuck = await settle(t, opts.settleMs);
    if (stuck) return fail(gw.alive ? 'settled' : 'alive', `after ${opts.settleMs} ms, still: ${stuck.join('; ')}`);
    for (const pool of POOLS) {
      const bad = await queryPool(t, pool, opts.queryMs);
      if (bad) return fail(gw.alive ? 'query' : 'alive', bad);
    }
    const stuckAfter = await settle(t, opts.settleMs);
    if (stuckAfter) return fail(gw.alive ? 'settled' : 'alive', `after the query check and ${opts.settleMs} ms, still: ${stuckAfter.join('; ')}`);
    // Upstream: one backend per server connection, no more (a leak) and no fewer (a dead one kept).
    let servers = 0;
    const mismatch = await until(opts.settleMs, async () => {
      servers = serverTotal(await poolStates(t));
      const backends = (await t.upstreamBackends()).length;
      return backends === servers ? undefined : `PostgreSQL has ${backends} backend(s) of role app, pgmoat ${servers} server connection(s)`;
    });
    if (mismatch) return fail('upstream', mismatch);
    // Descriptors: sockets closing after an ErrorResponse get up to 2 s; the deadline covers that.
    let fds = 0;
    let expected = 0;
    const leak = await until(opts.settleMs, async () => {
      servers = serverTotal(await poolStates(t));
      fds = gw.fds().total;
      if (!baseline) return undefined;
      expected = baseline.fdsWithoutServers + servers;
      return fds <= expected + opts.fdSlack ? undefined : `${fds} open descriptors, expected at most ${expected + opts.fdSlack} (baseline ${baseline.fdsWithoutServers} + ${servers} server connections + slack ${opts.fdSlack})`;
    });
    if (leak) return fail('fds', leak);
    const rssMb = gw.rssMb();
    if (rssMb > opts.maxRssMb) return fail('memory', `resident memory ${rssMb.toFixed(0)} MB, over ${opts.maxRssMb} MB`);
    return report(undefined, fds, servers, rssMb);
  } catch (err) {
    return fail(gw.alive ? 'settled' : 'alive', `check could not run: ${(err as Error).message}`);
  }
}

/** The first baseline: checks pass (servers opened, TLS and HTTP used once), then the fd count. */
export async function takeBaseline(t: FuzzTarget, opts: CheckOptions): Promise<Baseline> {
  const r = await runChecks(t, opts, undefined);
  if (!r.ok) throw new Error(`the gateway fails its checks before any fuzzing: ${r.failure!.check}: ${r.failure!.message}`);
  // Take the lowest of a few readings: the HTTP socket of the last scrape may still be open.
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    const servers = serverTotal(await poolStates(t));
    await sleep(100);
    low = Math.min(low, t.gateway.fds().total - servers);
  }
  return { fdsWithoutServers: low };
}
