/**
 * Cancel keys under `serve --workers N`. A CancelRequest arrives on a new TCP connection, which
 * the listener hands to any worker, not necessarily the one whose session it targets. So the
 * BackendKeyData pid a worker hands out says who owns it: pid % N is the owner's index. A worker
 * that gets a cancel for another worker's pid passes (pid, secret) to the primary, which passes
 * it to the owner only; the owner does the constant-time secret check and the upstream cancel,
 * exactly as a single process does. The secret thus never reaches a worker that does not own it.
 */
import { randomInt } from 'node:crypto';
import type { WorkerShare } from '../runtime/worker-share.js';

/** What the gateway asks of it (Gateway.cancelRouter); absent in a single process. */
export interface CancelRouter {
  /** A fresh random pid (1 .. 2^31-1) that this worker owns. */
  allocate(): number;
  owns(pid: number): boolean;
  /** Hands a cancel for another worker's pid on (the secret is checked by the owner). */
  forward(pid: number, secret: number): void;
}

const MAX_PID = 2 ** 31 - 1;

/** The index of the worker owning `pid`. */
export function ownerOf(pid: number, count: number): number {
  return pid % count;
}

/** A pid owned by `s.index`: k * count + index with k >= 1, so never 0 and below 2^31. */
export function encodePid(k: number, s: WorkerShare): number {
  return k * s.count + s.index;
}

/** How many k values encodePid accepts for `count` workers (k in 1 .. maxK). */
export function maxK(count: number): number {
  return Math.floor((MAX_PID - (count - 1)) / count);
}

export class WorkerCancelRouter implements CancelRouter {
  private readonly kLimit: number;

  constructor(
    private readonly share: WorkerShare,
    private readonly send: (pid: number, secret: number) => void,
  ) {
    this.kLimit = maxK(share.count);
  }

  allocate(): number {
    return encodePid(randomInt(1, this.kLimit + 1), this.share);
  }

  owns(pid: number): boolean {
    return pid > 0 && ownerOf(pid, this.share.count) === this.share.index;
  }

  forward(pid: number, secret: number): void {
    // Only a pid that some worker could own is worth the IPC (every positive pid is, here).
    if (pid > 0) this.send(pid, secret);
  }
}
