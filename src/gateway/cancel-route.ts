/**
 * Who owns a cancel key. A CancelRequest arrives on a new TCP connection, which a balancer may
 * hand to another gateway than the one holding the session, and a cluster's listener to any of
 * its workers. So the BackendKeyData pid a process hands out says who owns it:
 *
 * - without a peer group, pid % N is the owning worker's index (N workers; N = 1 in a single
 *   process): every positive 31-bit pid is usable;
 * - with `peer_id` set, the top 8 of the pid's 31 bits are the peer id (1..255) and the low 23
 *   bits, mod N, the worker's index. Any gateway reads the peer from a pid without knowing the
 *   other peers' worker counts.
 *
 * A process that gets a cancel for a pid it does not own hands it on: to another worker through
 * the primary, or to another peer over TCP (peer-cancel.ts). The owner alone does the
 * constant-time secret check and the upstream cancel, exactly as a single process does; the
 * secret never reaches anyone's log.
 */
import { randomInt } from 'node:crypto';
import type { WorkerShare } from '../runtime/worker-share.js';

/** What the gateway asks of it (Gateway.cancelRouter); absent in a single process without peers. */
export interface CancelRouter {
  /** A fresh random pid (1 .. 2^31-1) that this process owns. */
  allocate(): number;
  owns(pid: number): boolean;
  /** Hands a cancel for a pid this process does not own on (the secret is checked by the owner). */
  forward(pid: number, secret: number): void;
}

const MAX_PID = 2 ** 31 - 1;
/** The peer id sits above this many low bits. */
const PEER_SHIFT = 23;
const LOW_MASK = 2 ** PEER_SHIFT - 1;
/** The largest peer_id: 8 bits above the 23 low ones fill the 31 bits of a positive pid. */
export const PEER_ID_MAX = 2 ** (31 - PEER_SHIFT) - 1;

/** How this process encodes its pids: its peer id (undefined: no peer group) and its worker share. */
export interface PidLayout {
  readonly peerId?: number | undefined;
  readonly share?: WorkerShare | undefined;
}

/** The peer id a pid names (0 for a pid of a gateway without one, or not a valid pid). */
export function peerOf(pid: number): number {
  return pid > 0 ? Math.floor(pid / 2 ** PEER_SHIFT) : 0;
}

/** The index of the worker owning `pid` among `count` workers. */
export function ownerOf(pid: number, count: number, peerId?: number): number {
  return (peerId === undefined ? pid : pid & LOW_MASK) % count;
}

/** A pid owned by `s.index`: k * count + index with k >= 1 (never 0, below 2^31); without peers. */
export function encodePid(k: number, s: WorkerShare): number {
  return k * s.count + s.index;
}

/** How many k values encodePid accepts for `count` workers (k in 1 .. maxK). */
export function maxK(count: number): number {
  return Math.floor((MAX_PID - (count - 1)) / count);
}

/** A pid of peer `peerId` owned by worker `s.index`: low = k * count + index, k >= 0. */
export function encodePeerPid(peerId: number, k: number, s: WorkerShare): number {
  return peerId * 2 ** PEER_SHIFT + k * s.count + s.index;
}

/** How many k values encodePeerPid accepts for worker `index` of `count` (k in 0 .. maxPeerK - 1). */
export function maxPeerK(s: WorkerShare): number {
  return Math.floor((LOW_MASK - s.index) / s.count) + 1;
}

const SINGLE: WorkerShare = { index: 0, count: 1 };

export interface CancelHops {
  /** To the worker owning `pid` (through the primary); absent in a single process. */
  worker?(pid: number, secret: number): void;
  /** To peer `peerId` (peer-cancel.ts); absent without a peer group. */
  peer?(peerId: number, pid: number, secret: number): void;
}

export class PidRouter implements CancelRouter {
  private readonly share: WorkerShare;
  private readonly kLimit: number;

  constructor(
    private readonly layout: PidLayout,
    private readonly hops: CancelHops,
  ) {
    this.share = layout.share ?? SINGLE;
    this.kLimit = layout.peerId === undefined ? maxK(this.share.count) : maxPeerK(this.share);
  }

  allocate(): number {
    const { peerId } = this.layout;
    if (peerId === undefined) return encodePid(randomInt(1, this.kLimit + 1), this.share);
    return encodePeerPid(peerId, randomInt(0, this.kLimit), this.share);
  }

  private mineAsPeer(pid: number): boolean {
    return this.layout.peerId === undefined || peerOf(pid) === this.layout.peerId;
  }

  owns(pid: number): boolean {
    return pid > 0 && this.mineAsPeer(pid) && ownerOf(pid, this.share.count, this.layout.peerId) === this.share.index;
  }

  forward(pid: number, secret: number): void {
    // No process hands out a pid of 0 or below.
    if (pid <= 0) return;
    if (!this.mineAsPeer(pid)) return this.hops.peer?.(peerOf(pid), pid, secret);
    this.hops.worker?.(pid, secret);
  }
}
