/** The last refusals of this process, for the dashboard's live view: a fixed ring, no growth. */
import type { RefusalRow } from './types.js';

export const RECENT_REFUSALS = 50;

export class RefusalRing {
  private readonly rows: (RefusalRow | undefined)[] = new Array<RefusalRow | undefined>(RECENT_REFUSALS);
  private next = 0;

  push(row: RefusalRow): void {
    this.rows[this.next] = row;
    this.next = (this.next + 1) % RECENT_REFUSALS;
  }

  /** Newest first. */
  list(): RefusalRow[] {
    const out: RefusalRow[] = [];
    for (let i = 1; i <= RECENT_REFUSALS; i++) {
      const r = this.rows[(this.next - i + RECENT_REFUSALS) % RECENT_REFUSALS];
      if (r) out.push(r);
    }
    return out;
  }
}

/** The newest `RECENT_REFUSALS` of several lists (the workers' rings). */
export function newestRefusals(lists: RefusalRow[][]): RefusalRow[] {
  return lists.flat().sort((a, b) => b.at - a.at).slice(0, RECENT_REFUSALS);
}
