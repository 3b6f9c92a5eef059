/**
 * What a server connection still owes its client, in order: one entry per request that gets a
 * response (Parse, Bind, Describe, Execute, Close, Sync, Query, FunctionCall). Entries are
 * reused slots of a ring, so tracking costs no allocation per message.
 */

/** How the response to a request reaches the client. */
export const PASS = 0; // the client's own request: its response goes through
export const HIDE = 1; // pgmoat's own request (an inserted Parse or Close): its response is dropped
export const SYNTH = 2; // a request pgmoat answered itself (skipped Parse, Close of a cached statement)
export type ResponseAction = typeof PASS | typeof HIDE | typeof SYNTH;

export interface RequestEntry {
  kind: number;
  action: ResponseAction;
  /** Server-side statement name for inserted Parse entries (to forget it if the Parse fails). */
  statement: string | undefined;
}

export class RequestQueue {
  private slots: RequestEntry[] = [];
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(kind: number, action: ResponseAction, statement?: string): void {
    if (this.count === this.slots.length) this.grow();
    const slot = this.slots[(this.head + this.count) % this.slots.length]!;
    slot.kind = kind;
    slot.action = action;
    slot.statement = statement;
    this.count++;
  }

  peek(): RequestEntry | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Removes the head; the returned slot is valid until the next push. */
  shift(): RequestEntry | undefined {
    if (this.count === 0) return undefined;
    const slot = this.slots[this.head]!;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    return slot;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const size = Math.max(8, this.slots.length * 2);
    const next: RequestEntry[] = [];
    for (let i = 0; i < this.count; i++) next.push(this.slots[(this.head + i) % this.slots.length]!);
    while (next.length < size) next.push({ kind: 0, action: PASS, statement: undefined });
    this.slots = next;
    this.head = 0;
  }
}
