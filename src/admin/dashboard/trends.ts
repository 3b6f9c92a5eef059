/**
 * The dashboard's trends: every TRENDS_STEP_S seconds, one reading of counters the gateway keeps
 * anyway (counters()), turned into per-step figures and kept for the last hour in fixed arrays.
 * The timer is unref'd and the work is a few additions per step: nothing runs per transaction.
 */
import type { CounterSample } from './types.js';

export const TRENDS_STEP_S = 10;
const POINTS = 3600 / TRENDS_STEP_S;
/** A part (a worker) missing from this many readings in a row is forgotten: it was replaced. */
const FORGET_AFTER = 6;
const ZERO: CounterSample = { transactions: 0, handshakes: 0, refusals: {}, waitP99Ms: 0, renewals: 0 };

export interface TrendsView {
  step: number;
  series: {
    t: number[];
    tps: number[];
    handshakes: number[];
    refusals: Record<string, number[]>;
    waitP99Ms: number[];
    renewals: number[];
  };
  /** The times (t) of the points a worker's share is missing from (it did not answer that reading). */
  incomplete: number[];
}

interface Point {
  t: number;
  tps: number;
  handshakes: number;
  refusals: Record<string, number>;
  waitP99Ms: number;
  renewals: number;
  incomplete: boolean;
}

/** A counter that went down was reset (its process restarted): what it counts now is all new. */
const delta = (a: number, b: number): number => (a >= b ? a - b : a);

export class Trends {
  private readonly points: Point[] = [];
  /** The last reading of each part (one per worker; '' for a single process). */
  private readonly bases = new Map<string, { at: number; sample: CounterSample; missed: number }>();
  private lastAt: number | undefined;
  /** No reading has had every worker yet: a part seen for the first time may be an old process. */
  private unsure = true;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly read: () => Promise<CounterSample>) {}

  start(stepMs = TRENDS_STEP_S * 1000): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), stepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One reading; the first one only sets the base of the next. A reading that fails is skipped.
   * Differences are taken per part (per worker), never of the sum: a worker replaced by a new
   * one (counters from zero) must not read as a fall, nor as a rise of the sum's size. A part
   * missing from a reading keeps its base, so its counts land in the next point it answers.
   */
  async sample(now = Date.now()): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const s = await this.read();
      const parts = Object.entries(s.parts ?? { '': s });
      const prevAt = this.lastAt;
      this.lastAt = now;
      const complete = (s.problems?.length ?? 0) === 0;
      if (prevAt === undefined) {
        for (const [k, p] of parts) this.bases.set(k, { at: now, sample: p, missed: 0 });
        this.unsure = !complete;
        return;
      }
      let tps = 0;
      let handshakes = 0;
      let renewals = 0;
      const refusals: Record<string, number> = {};
      const seen = new Set<string>();
      for (const [k, p] of parts) {
        seen.add(k);
        // A part not known yet is a worker started since the last reading: all its counts are new.
        // Unless no reading had every worker yet: then it may be one that was slow to answer,
        // whose counts are older, and its first reading is only its base.
        const known = this.bases.get(k);
        if (!known && this.unsure) {
          this.bases.set(k, { at: now, sample: p, missed: 0 });
          continue;
        }
        const b = known ?? { at: prevAt, sample: ZERO, missed: 0 };
        tps += delta(p.transactions, b.sample.transactions) / Math.max(0.001, (now - b.at) / 1000);
        handshakes += delta(p.handshakes, b.sample.handshakes);
        renewals += delta(p.renewals, b.sample.renewals);
        for (const [reason, n] of Object.entries(p.refusals)) {
          const d = delta(n, b.sample.refusals[reason] ?? 0);
          if (d > 0 || reason in b.sample.refusals) refusals[reason] = (refusals[reason] ?? 0) + d;
        }
        this.bases.set(k, { at: now, sample: p, missed: 0 });
      }
      for (const [k, b] of this.bases) if (!seen.has(k) && ++b.missed > FORGET_AFTER) this.bases.delete(k);
      if (complete) this.unsure = false;
      this.points.push({
        t: Math.round(now / 1000),
        tps: Math.round(tps * 100) / 100,
        handshakes,
        refusals,
        waitP99Ms: s.waitP99Ms,
        renewals,
        incomplete: !complete,
      });
      if (this.points.length > POINTS) this.points.splice(0, this.points.length - POINTS);
    } catch {
      // The next step tries again; a trend with a gap says as much.
    } finally {
      this.busy = false;
    }
  }

  view(): TrendsView {
    const reasons = new Set<string>();
    for (const p of this.points) for (const r of Object.keys(p.refusals)) reasons.add(r);
    const refusals: Record<string, number[]> = {};
    for (const r of reasons) refusals[r] = this.points.map((p) => p.refusals[r] ?? 0);
    return {
      step: TRENDS_STEP_S,
      series: {
        t: this.points.map((p) => p.t),
        tps: this.points.map((p) => p.tps),
        handshakes: this.points.map((p) => p.handshakes),
        refusals,
        waitP99Ms: this.points.map((p) => p.waitP99Ms),
        renewals: this.points.map((p) => p.renewals),
      },
      incomplete: this.points.filter((p) => p.incomplete).map((p) => p.t),
    };
  }
}

/** The 99th percentile (nearest rank) of `values`, 0 for none. */
export function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? 0;
}
