/**
 * The dashboard under `serve --workers N`: the primary serves it and asks its workers, as it does
 * for /metrics and /readyz. The operator check, the certificate catalog and a revoke need one
 * worker (they read or write the same files in each); the live views and counters are the sum
 * of every worker's share (pools per database and user, sessions per identity, refusals by
 * time). A page of certificates is built by one worker with every other worker's live sessions
 * and last sightings per serial added in, so that no worker ships its whole catalog. Pause,
 * resume and reload run on every worker. A revoke runs on one worker, and its answer waits until
 * the revocation is in force on every worker (each ends the certificate's sessions then) to say
 * how many sessions it ended in all. Every question has a deadline: a worker that does not
 * answer is named in the answer, never waited on forever.
 */
import type { Registry } from 'prom-client';
import { renewalCount } from '../admin/dashboard/local-source.js';
import { RECENT_REFUSALS } from '../admin/dashboard/refusal-ring.js';
import type { CertificateActivity, CertificatePage, CounterSample, DashboardAction, DashboardSource, LiveView, PoolRow, SessionRow } from '../admin/dashboard/types.js';
import { ERROR_CODES, type ErrorCode } from '../util/error-codes.js';
import { PgmoatError } from '../util/errors.js';
import type { DashboardCall } from './messages.js';

/** Views: as long as /readyz waits for a worker. */
export const VIEW_TIMEOUT_MS = 5_000;
/** Actions: PAUSE waits for the transactions in flight, so it gets longer. */
export const ACTION_TIMEOUT_MS = 30_000;

export type WorkerAnswer = { ok: true; value: unknown } | { ok: false; error: string; code?: string | undefined };

export interface DashboardWorker {
  /** "worker 2" */
  readonly name: string;
  /** Running and listening: a worker starting or restarting has nothing to show yet. */
  readonly running: boolean;
  /** Its process id: a replaced worker has another, and its counters start again at zero. */
  readonly pid?: number | undefined;
  ask(call: DashboardCall, timeoutMs: number): Promise<WorkerAnswer>;
}

export interface ClusterDashboardDeps {
  workers(): DashboardWorker[];
  /** The primary's own series: the renewal service runs in the primary. */
  own(): Registry[];
  /** The primary's part of a reload (admin.http, renewal:), as the console's RELOAD does. */
  reloadPrimary(): Promise<void>;
}

interface Gathered<T> {
  /** In the order of the workers, whatever order they answered in. */
  values: T[];
  by: DashboardWorker[];
  problems: string[];
}

async function gather<T>(workers: DashboardWorker[], call: DashboardCall, timeoutMs: number): Promise<Gathered<T>> {
  const answers: ({ value: T } | undefined)[] = [];
  const problems: string[] = [];
  await Promise.all(
    workers.map(async (w, i) => {
      if (!w.running) return void problems.push(`${w.name}: not running (starting or restarting)`);
      const a = await w.ask(call, timeoutMs);
      if (a.ok) answers[i] = { value: a.value as T };
      else problems.push(`${w.name}: ${a.error}`);
    }),
  );
  const kept = workers.flatMap((w, i) => (answers[i] ? [{ w, value: answers[i].value }] : []));
  return { values: kept.map((k) => k.value), by: kept.map((k) => k.w), problems: problems.sort() };
}

/** A worker's key among the counters' parts: a replaced worker (another pid) is another part. */
export function partKey(w: DashboardWorker): string {
  return w.pid === undefined ? w.name : `${w.name} pid ${w.pid}`;
}

function noAnswer(problems: string[]): PgmoatError {
  return new PgmoatError('DASHBOARD_WORKERS', `no worker answered: ${problems.join('; ') || 'no worker'}`);
}

/** A worker's failure, with its own code when it is one of ours (UNKNOWN_DATABASE, ALREADY_REVOKED...). */
function failure(a: Extract<WorkerAnswer, { ok: false }>, name: string): PgmoatError {
  const code = a.code !== undefined && a.code in ERROR_CODES ? (a.code as ErrorCode) : 'DASHBOARD_WORKERS';
  return new PgmoatError(code, code === 'DASHBOARD_WORKERS' ? `${name}: ${a.error}` : a.error);
}

export function mergeLive(views: LiveView[], problems: string[]): LiveView {
  const pools = new Map<string, PoolRow>();
  const sessions = new Map<string, { identity: string; database: string; count: number }>();
  for (const v of views) {
    for (const p of v.pools) {
      const key = `${p.database}\0${p.user}`;
      const m = pools.get(key);
      if (!m) {
        pools.set(key, { ...p });
        continue;
      }
      m.activeServers += p.activeServers;
      m.idleServers += p.idleServers;
      m.waitingClients += p.waitingClients;
      m.activeClients += p.activeClients;
      // Paused (or disabled) only when every worker is: a partial pause must not look done.
      m.paused &&= p.paused;
      m.disabled &&= p.disabled;
    }
    for (const s of v.sessions) {
      const key = `${s.identity}\0${s.database}`;
      const m = sessions.get(key);
      if (m) m.count += s.count;
      else sessions.set(key, { ...s });
    }
  }
  const refusals = views
    .flatMap((v) => v.refusals)
    .sort((a, b) => b.at - a.at)
    .slice(0, RECENT_REFUSALS);
  // Each worker reads the CRL itself: show the stalest.
  const crl = views.map((v) => v.crl).sort((a, b) => (b.ageSeconds ?? Infinity) - (a.ageSeconds ?? Infinity))[0] ?? { revokedCount: 0 };
  const stores = views.flatMap((v) => (v.store ? [v.store] : []));
  const store =
    stores.length === 0
      ? undefined
      : {
          connected: stores.every((s) => s.connected),
          ageSeconds: stores.some((s) => s.ageSeconds === undefined) ? undefined : Math.max(...stores.map((s) => s.ageSeconds!)),
        };
  return { pools: [...pools.values()], sessions: [...sessions.values()], refusals, crl, store, ...(problems.length > 0 ? { problems } : {}) };
}

/** The sum of the workers' readings (by partKey) and the primary's renewals; each part is kept for trends.ts. */
export function mergeCounters(byWorker: Record<string, CounterSample>, ownRenewals: number, problems: string[] = []): CounterSample {
  const parts: Record<string, CounterSample> = {};
  for (const [k, s] of Object.entries(byWorker)) parts[k] = { transactions: s.transactions, handshakes: s.handshakes, refusals: s.refusals, waitP99Ms: s.waitP99Ms, renewals: s.renewals };
  parts.primary = { transactions: 0, handshakes: 0, refusals: {}, waitP99Ms: 0, renewals: ownRenewals };
  const samples = Object.values(parts);
  const refusals: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.refusals)) refusals[k] = (refusals[k] ?? 0) + v;
  return {
    transactions: samples.reduce((n, s) => n + s.transactions, 0),
    handshakes: samples.reduce((n, s) => n + s.handshakes, 0),
    refusals,
    // No histogram crosses the IPC: the worst worker's 99th percentile.
    waitP99Ms: Math.max(0, ...samples.map((s) => s.waitP99Ms)),
    renewals: samples.reduce((n, s) => n + s.renewals, 0),
    parts,
    ...(problems.length > 0 ? { problems } : {}),
  };
}

export function clusterDashboard(d: ClusterDashboardDeps): DashboardSource {
  const views = async <T>(call: DashboardCall): Promise<Gathered<T>> => {
    const g = await gather<T>(d.workers(), call, VIEW_TIMEOUT_MS);
    if (g.values.length === 0) throw noAnswer(g.problems);
    return g;
  };

  /** The first running worker that answers; `retry` false: only the first running worker (a revoke is not run twice). */
  const one = async (call: DashboardCall, timeoutMs: number, retry = true): Promise<{ value: unknown; by: DashboardWorker }> => {
    const problems: string[] = [];
    for (const w of d.workers()) {
      if (!w.running) continue;
      const a = await w.ask(call, timeoutMs);
      if (a.ok) return { value: a.value, by: w };
      // The worker answered with a failure of the request itself: another worker would fail alike.
      if (a.code !== undefined) throw failure(a, w.name);
      problems.push(`${w.name}: ${a.error}`);
      if (!retry) break;
    }
    throw noAnswer(problems);
  };

  const everywhere = async (action: DashboardAction): Promise<Record<string, unknown>> => {
    const workers = d.workers();
    const failures: PgmoatError[] = [];
    const skipped: string[] = [];
    await Promise.all(
      workers.map(async (w) => {
        if (!w.running) return void skipped.push(`${w.name}: not running (it reads the configuration as it starts)`);
        const a = await w.ask({ op: 'act', action }, ACTION_TIMEOUT_MS);
        if (!a.ok) failures.push(failure(a, w.name));
      }),
    );
    if (action.action === 'reload') await d.reloadPrimary().catch((err: unknown) => void failures.push(new PgmoatError('DASHBOARD_WORKERS', `primary: ${err instanceof Error ? err.message : String(err)}`)));
    if (failures.length > 0) {
      const first = failures[0]!;
      // One failure of ours (UNKNOWN_DATABASE on every worker) keeps its code; a mix is a cluster failure.
      if (failures.every((f) => f.code === first.code && f.message === first.message)) throw first;
      throw new PgmoatError('DASHBOARD_WORKERS', failures.map((f) => f.message).join('; '));
    }
    return skipped.length > 0 ? { problems: skipped.sort() } : {};
  };

  return {
    async operatorRefusal(id) {
      try {
        const { value } = await one({ op: 'operator', id }, VIEW_TIMEOUT_MS);
        return typeof value === 'string' ? value : undefined;
      } catch (err) {
        // Fail closed: nobody could check the certificate.
        return `the certificate could not be checked: ${err instanceof Error ? err.message : String(err)}`;
      }
    },
    async live() {
      const g = await views<LiveView>({ op: 'live' });
      return mergeLive(g.values, g.problems);
    },
    async certificatePage(query) {
      // Only small answers cross the IPC: every worker's activity (live sessions and last
      // sightings per serial), then one page from one worker, which adds the others' activity to
      // its own rows before it filters, sorts and pages (every worker reads the same inventory).
      const g = await views<CertificateActivity>({ op: 'activity' });
      const tried: string[] = [];
      for (const [i, w] of g.by.entries()) {
        const others = g.values.filter((_, j) => j !== i);
        const a = await w.ask({ op: 'certificate-page', query, others }, VIEW_TIMEOUT_MS);
        if (a.ok) {
          const page = a.value as CertificatePage;
          return { total: page.total, rows: page.rows, ...(g.problems.length > 0 ? { problems: g.problems } : {}) };
        }
        if (a.code !== undefined) throw failure(a, w.name);
        // Its activity is in hand: the next worker's page still counts its sessions.
        tried.push(`${w.name}: ${a.error}`);
      }
      throw noAnswer([...g.problems, ...tried].sort());
    },
    async sessionsOf(serial) {
      const g = await views<{ sessions: SessionRow[] }>({ op: 'sessions', serial });
      const sessions = g.values.flatMap((v) => v.sessions).sort((a, b) => a.since - b.since);
      return { sessions, ...(g.problems.length > 0 ? { problems: g.problems } : {}) };
    },
    async counters() {
      const g = await views<CounterSample>({ op: 'counters' });
      const byWorker: Record<string, CounterSample> = {};
      g.by.forEach((w, i) => (byWorker[partKey(w)] = g.values[i]!));
      return mergeCounters(byWorker, await renewalCount(d.own()), g.problems);
    },
    async act(action) {
      if (action.action !== 'revoke') return everywhere(action);
      const { value, by } = await one({ op: 'act', action }, ACTION_TIMEOUT_MS, false);
      // The worker that revoked answers once the revocation is in force there; the answer waits
      // until it is in force on every other worker too (their CRL watch or the store's NOTIFY
      // brings it), so that it can say how many sessions it ended in all.
      const done = value as { revoked: string[]; sessionsEnded: number; problems?: string[] } & Record<string, unknown>;
      // By name: workers() makes new objects at every call.
      const others = d.workers().filter((w) => w.name !== by.name);
      const g = await gather<{ sessionsEnded: number; notInForce?: string[] }>(others, { op: 'revoked', serials: done.revoked }, VIEW_TIMEOUT_MS);
      const problems = [...(done.problems ?? []).map((p) => `${by.name}: ${p}`), ...g.problems];
      g.values.forEach((v, i) => v.notInForce && problems.push(`${g.by[i]!.name}: not in force: ${v.notInForce.join(', ')}`));
      const sessionsEnded = g.values.reduce((n, v) => n + v.sessionsEnded, done.sessionsEnded);
      const answer: Record<string, unknown> = { ...done, sessionsEnded };
      delete answer.problems;
      if (problems.length > 0) answer.problems = problems.sort();
      return answer;
    },
  };
}
