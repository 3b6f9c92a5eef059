/**
 * The soak's verdict from its samples: values at the start (after warm-up) and at the end, and
 * the growth over the second half of the measured window, from a least-squares line through the
 * samples there (for the heap, through the lowest value of each of a few windows: heapUsed read
 * without a forced GC saws up and down with the collector, and its floor is what stays live).
 */

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  rssBytes: number;
  fds: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  waiting: number;
  maxWaitSeconds: number;
  transactions: number;
}

export interface Thresholds {
  /** RSS growth over the second half allowed: the larger of these. */
  rssGrowthBytes: number;
  rssGrowthFraction: number;
  heapGrowthBytes: number;
  heapGrowthFraction: number;
  fdGrowth: number;
  /** A client waiting for a server this long means a stuck pool. */
  stuckSeconds: number;
}

/**
 * Generous on purpose: a soak must catch memory or descriptors that keep growing, not the
 * allocator keeping the high-water mark of a burst (see README, Tests). Over the second half:
 * RSS 48 MB or 20 %, the heap floor 16 MB or 25 %, 16 descriptors.
 */
export const DEFAULT_THRESHOLDS: Thresholds = {
  rssGrowthBytes: 48 * 1024 * 1024,
  rssGrowthFraction: 0.2,
  heapGrowthBytes: 16 * 1024 * 1024,
  heapGrowthFraction: 0.25,
  fdGrowth: 16,
  stuckSeconds: 20,
};

/** Slope (units per second) of the least-squares line through (t, v). */
export function slope(points: readonly { t: number; v: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let st = 0;
  let sv = 0;
  for (const p of points) {
    st += p.t;
    sv += p.v;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The lowest value of each of `windows` equal slices of `points`, at the slice's middle. */
export function windowFloors(points: readonly { t: number; v: number }[], windows: number): { t: number; v: number }[] {
  if (points.length === 0) return [];
  const t0 = points[0]!.t;
  const span = points[points.length - 1]!.t - t0;
  if (span <= 0) return [...points];
  const out: { t: number; v: number }[] = [];
  for (let w = 0; w < windows; w++) {
    const lo = t0 + (span * w) / windows;
    const hi = t0 + (span * (w + 1)) / windows;
    const inside = points.filter((p) => p.t >= lo && (w === windows - 1 ? p.t <= hi : p.t < hi));
    if (inside.length === 0) continue;
    out.push({ t: (lo + hi) / 2, v: Math.min(...inside.map((p) => p.v)) });
  }
  return out;
}

export interface Trend {
  start: number;
  end: number;
  /** Units per minute over the second half. */
  slopePerMinute: number;
  /** The fitted growth across the second half. */
  secondHalfGrowth: number;
  limit: number;
  ok: boolean;
}

function trend(points: { t: number; v: number }[], fitted: { t: number; v: number }[], limit: number): Trend {
  const half = points.length > 0 ? (points[0]!.t + points[points.length - 1]!.t) / 2 : 0;
  const second = fitted.filter((p) => p.t >= half);
  const s = slope(second);
  const span = second.length > 1 ? second[second.length - 1]!.t - second[0]!.t : 0;
  const growth = s * span;
  return {
    start: points[0]?.v ?? 0,
    end: points[points.length - 1]?.v ?? 0,
    slopePerMinute: s * 60,
    secondHalfGrowth: growth,
    limit,
    ok: growth <= limit,
  };
}

export interface Activity {
  transactions: number;
  failedTransactions: number;
  abortedClients: number;
  pgbenchExit: number | null;
  reloads: number;
  reloadsRefused: number;
  revocations: number;
  revocationsEnforced: number;
  renewals: number;
  refusedHandshakes: number;
  /** Things that went against expectation (a revoked client let in, a renewal refused...). */
  problems: string[];
}

export interface SoakReport {
  minutes: number;
  warmupSeconds: number;
  samples: number;
  rss: Trend;
  heapUsed: Trend;
  fds: Trend;
  activity: Activity;
  crashed: string | undefined;
  stuckPool: string | undefined;
  ok: boolean;
  failures: string[];
}

/** The report over the samples taken after warm-up. */
export function buildReport(input: {
  minutes: number;
  warmupSeconds: number;
  samples: readonly Sample[];
  activity: Activity;
  crashed: string | undefined;
  stuckPool: string | undefined;
  thresholds: Thresholds;
}): SoakReport {
  const th = input.thresholds;
  const measured = input.samples.filter((s) => s.t >= input.warmupSeconds);
  const pts = (f: (s: Sample) => number): { t: number; v: number }[] => measured.map((s) => ({ t: s.t, v: f(s) }));
  const rssPts = pts((s) => s.rssBytes);
  const heapPts = pts((s) => s.heapUsedBytes);
  const fdPts = pts((s) => s.fds);
  const rssStart = rssPts[0]?.v ?? 0;
  const heapFloors = windowFloors(heapPts, Math.max(4, Math.min(12, Math.floor(heapPts.length / 4))));
  const heapStart = heapFloors[0]?.v ?? 0;
  const rss = trend(rssPts, rssPts, Math.max(th.rssGrowthBytes, th.rssGrowthFraction * rssStart));
  const heapUsed = trend(heapPts, heapFloors, Math.max(th.heapGrowthBytes, th.heapGrowthFraction * heapStart));
  const fds = trend(fdPts, fdPts, th.fdGrowth);
  const failures: string[] = [];
  if (input.crashed) failures.push(`crash: ${input.crashed}`);
  if (input.stuckPool) failures.push(`stuck pool: ${input.stuckPool}`);
  if (measured.length < 4) failures.push(`only ${measured.length} samples after warm-up: too few to judge growth`);
  if (!rss.ok) failures.push(`RSS grew ${mb(rss.secondHalfGrowth)} over the second half (limit ${mb(rss.limit)})`);
  if (!heapUsed.ok) failures.push(`heap floor grew ${mb(heapUsed.secondHalfGrowth)} over the second half (limit ${mb(heapUsed.limit)})`);
  if (!fds.ok) failures.push(`open descriptors grew ${fds.secondHalfGrowth.toFixed(1)} over the second half (limit ${fds.limit})`);
  const a = input.activity;
  if (a.pgbenchExit !== 0) failures.push(`pgbench exited with ${a.pgbenchExit} (${a.abortedClients} clients aborted)`);
  if (a.transactions === 0) failures.push('pgbench completed no transaction');
  for (const p of a.problems) failures.push(p);
  return {
    minutes: input.minutes,
    warmupSeconds: input.warmupSeconds,
    samples: measured.length,
    rss,
    heapUsed,
    fds,
    activity: a,
    crashed: input.crashed,
    stuckPool: input.stuckPool,
    ok: failures.length === 0,
    failures,
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

export function formatReport(r: SoakReport): string {
  const a = r.activity;
  const row = (name: string, t: Trend, f: (n: number) => string): string =>
    `  ${name.padEnd(10)} start ${f(t.start).padStart(10)}   end ${f(t.end).padStart(10)}   second half: ${f(t.secondHalfGrowth).padStart(10)} (${f(t.slopePerMinute)}/min), limit ${f(t.limit)}  ${t.ok ? 'ok' : 'TOO MUCH'}`;
  const count = (n: number): string => n.toFixed(1);
  return [
    `pgmoat soak: ${r.minutes} min, ${r.samples} samples after ${r.warmupSeconds} s of warm-up`,
    row('RSS', r.rss, mb),
    row('heapUsed', r.heapUsed, mb),
    row('fds', r.fds, count),
    `  pgbench: ${a.transactions} transactions, ${a.failedTransactions} failed, ${a.abortedClients} clients aborted, exit ${a.pgbenchExit}`,
    `  reloads (SIGHUP): ${a.reloads} applied, ${a.reloadsRefused} refused`,
    `  revocations: ${a.revocations} (${a.revocationsEnforced} live sessions ended by the gateway); renewals: ${a.renewals}; refused handshakes: ${a.refusedHandshakes}`,
    `  crash: ${r.crashed ?? 'none'}; stuck pool: ${r.stuckPool ?? 'none'}`,
    r.ok ? 'RESULT: ok' : `RESULT: FAILED\n${r.failures.map((f) => `  - ${f}`).join('\n')}`,
  ].join('\n');
}
