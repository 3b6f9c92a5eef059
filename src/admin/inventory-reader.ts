/**
 * Reads a CA inventory off the event loop: one worker thread per process (inventory-reader-worker.ts),
 * started at a read and ended once no read came for IDLE_MS, so that the memory of parsing a large
 * inventory is given back (the catalog reads again only when the inventory changed). A thread that
 * dies is replaced at the next read; the reads it had in hand fail (the catalog keeps its last copy).
 */
import { Worker } from 'node:worker_threads';

/** One certificate of the inventory, as the catalog lists it (times in ms since the epoch). */
export interface InventoryRow {
  kind: 'client' | 'server';
  cn: string;
  environment: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  revokedAt: string | undefined;
  reason: string | undefined;
  /** Revoked in the inventory (the gateway's revocation list may know more). */
  markedRevoked: boolean;
  sans: readonly string[];
}

export interface InventoryReadRequest {
  id: number;
  dir: string;
}

export type InventoryReadReply = { id: number; rows: InventoryRow[] } | { id: number; error: string };

// Under tsx (tests, development) this module is .ts and so is its worker; built, both are .js.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './inventory-reader-worker.ts' : './inventory-reader-worker.js', import.meta.url);

/** How long the thread stays after its last answer, for the next read (a store's copy is read every 5 s while watched). */
const IDLE_MS = 30_000;

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve: (rows: InventoryRow[]) => void; reject: (err: Error) => void }>();

function failAll(err: Error): void {
  for (const w of waiting.values()) w.reject(err);
  waiting.clear();
}

function thread(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_URL);
  w.unref();
  w.on('message', (m: InventoryReadReply) => {
    const pending = waiting.get(m.id);
    if (!pending) return;
    waiting.delete(m.id);
    if ('rows' in m) pending.resolve(m.rows);
    else pending.reject(new Error(m.error));
  });
  // A thread ended for being idle is no longer `worker` and had nothing in hand.
  const gone = (err: Error): void => {
    if (worker !== w) return;
    worker = undefined;
    failAll(err);
  };
  w.on('error', gone);
  w.on('exit', (code) => gone(new Error(`the inventory reader thread ended (exit ${code})`)));
  worker = w;
  return w;
}

/** The inventory of a CA directory (its file, or the store it points to), read in the worker thread. */
export function readInventoryRows(dir: string): Promise<InventoryRow[]> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    // Only while a read is awaited may the thread keep the process alive.
    const w = thread();
    w.ref();
    clearTimeout(idleTimer);
    const settle = (): void => {
      if (waiting.size > 0 || !worker) return;
      worker.unref();
      const idle = worker;
      idleTimer = setTimeout(() => {
        if (worker !== idle || waiting.size > 0) return;
        worker = undefined;
        void idle.terminate();
      }, IDLE_MS).unref();
    };
    waiting.set(id, {
      resolve: (rows) => {
        resolve(rows);
        settle();
      },
      reject: (err) => {
        reject(err);
        settle();
      },
    });
    w.postMessage({ id, dir } satisfies InventoryReadRequest);
  });
}
