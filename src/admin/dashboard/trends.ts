/**
 * The dashboard's trends: every TRENDS_STEP_S seconds, one reading of counters the gateway keeps
 * anyway (counters()), turned into per-step figures and kept for the last hour in fixed arrays.
 * The timer is unref'd and the work is a few additions per step: nothing runs per transaction.
 */
import type { CounterSample } from './types.js';

export const TRENDS_STEP_S = 10;
const POINTS = 3600 / TRENDS_STEP_S;

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
}

interface Point {
  t: number;
  tps: number;
  handshakes: number;
  refusals: Record<string, number>;
  waitP99Ms: number;
  renewals: number;
}

export class Trends {
  private readonly points: Point[] = [];
  private last: { at: number; sample: CounterSample } | undefined;
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

  /** One reading; the first one only sets the base of the next. A reading that fails is skipped. */
  async sample(now = Date.now()): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const s = await this.read();
      const prev = this.last;
      this.last = { at: now, sample: s };
      if (!prev) return;
      const secs = Math.max(0.001, (now - prev.at) / 1000);
      // A counter that went down (a worker restarted) counts from zero again.
      const delta = (a: number, b: number): number => (a >= b ? a - b : a);
      const refusals: Record<string, number> = {};
      for (const [reason, n] of Object.entries(s.refusals)) {
        const d = delta(n, prev.sample.refusals[reason] ?? 0);
        if (d > 0 || reason in prev.sample.refusals) refusals[reason] = d;
      }
      this.points.push({
        t: Math.round(now / 1000),
        tps: Math.round((delta(s.transactions, prev.sample.transactions) / secs) * 100) / 100,
        handshakes: delta(s.handshakes, prev.sample.handshakes),
        refusals,
        waitP99Ms: s.waitP99Ms,
        renewals: delta(s.renewals, prev.sample.renewals),
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
    };
  }
}

/** The 99th percentile (nearest rank) of `values`, 0 for none. */
export function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? 0;
}
