/**
 * The primary's side of pgmoat_revocation_delay_seconds{event="first_refusal"} under
 * `serve --workers N`: every worker times its own first refused connection of a revoked serial
 * (admin/revocation-clock.ts) and offers it here; the first offer of a serial wins, and only that
 * worker observes it, so that the histogram summed over the workers has one observation per
 * revoked certificate. A worker offers a serial at most once (its clock forgets it then), so a
 * serial is remembered only to turn away the other workers' offers, which come at most N - 1
 * times; the set is bounded, oldest serial out first, and a serial pushed out by `max` newer ones
 * could be observed once more by a worker that had not refused it yet.
 */
export const MAX_FIRST_REFUSALS = 65_536;

export class FirstRefusals {
  /** Insertion order is the order of first refusals: the first entry is the oldest. */
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_FIRST_REFUSALS) {}

  /** True for the first offer of `serial`, false for every later one. */
  claim(serial: string): boolean {
    if (this.seen.has(serial)) return false;
    this.seen.add(serial);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
