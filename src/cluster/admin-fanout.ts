/**
 * A worker's side of the admin commands that reach every worker: the admin console of the
 * worker a session landed on runs RELOAD, PAUSE, RESUME, RECONNECT and KILL itself, then asks
 * the primary to run it on every other worker and waits for their outcome (PAUSE answers once
 * every worker's pools are paused).
 */
import type { AdminPeers } from '../admin/console.js';
import type { PeerCommand, WorkerToPrimary } from './messages.js';

export class WorkerPeers implements AdminPeers {
  private nextId = 1;
  private readonly pending = new Map<number, (errors: string[]) => void>();

  constructor(private readonly send: (m: WorkerToPrimary) => void) {}

  run(cmd: PeerCommand): Promise<string[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ pgmoat: 'fanout', id, cmd });
    });
  }

  /** The primary's answer (fanout-done). */
  settle(id: number, errors: string[]): void {
    const resolve = this.pending.get(id);
    this.pending.delete(id);
    resolve?.(errors);
  }

  /** The primary is gone: nobody will answer. */
  abandon(): void {
    for (const resolve of this.pending.values()) resolve(['the primary process is gone']);
    this.pending.clear();
  }
}
