/**
 * A fixed-bucket histogram of durations in milliseconds, cheap enough for the data path: one
 * observe() is a short loop over a preallocated array, with no allocation and no label lookup.
 * The metrics endpoint reads it at scrape time and writes it out in seconds.
 */

/** Upper bounds in milliseconds (Date.now() resolution, so nothing below 1 ms). */
export const DURATION_BOUNDS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

export class DurationHistogram {
  /** counts[i]: observations <= DURATION_BOUNDS_MS[i] and above the previous bound; the last slot is +Inf. */
  readonly counts = new Float64Array(DURATION_BOUNDS_MS.length + 1);
  sumMs = 0;
  count = 0;

  observe(ms: number): void {
    if (!(ms >= 0)) ms = 0; // a clock step backwards must not corrupt the sums
    let i = 0;
    const n = DURATION_BOUNDS_MS.length;
    while (i < n && ms > DURATION_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.count++;
  }

  /** Cumulative counts per bound (Prometheus `le` semantics), the last one being +Inf. */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (const c of this.counts) {
      acc += c;
      out.push(acc);
    }
    return out;
  }
}
