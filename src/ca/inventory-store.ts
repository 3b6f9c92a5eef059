/**
 * Where a CA directory's inventory lives: inventory.json (the embedded default), or the
 * PostgreSQL store DIR/store.json points at. Every reader outside a CA transaction goes through
 * loadInventory, so each command works the same on either.
 */
import { readTextFile } from '../util/file-problem.js';
import { caPath } from './ca-layout.js';
import { fingerprint256 } from './certificate-profiles.js';
import { readInventory, type Inventory } from './inventory.js';
import { beginStoreTransaction, connectStore, readStoreInventory, withStore, writeStoreChanges } from './postgres-store.js';
import { readStorePointer } from './store-pointer.js';

/** The fingerprint a store records for its CA: the root's (ca.crt), whatever signs now. */
export function caFingerprintOf(dir: string): string {
  return fingerprint256(readTextFile(caPath(dir, 'caCert'), 'CA certificate'));
}

export async function loadInventory(dir: string): Promise<Inventory> {
  const pointer = readStorePointer(dir);
  if (!pointer) return readInventory(dir);
  const fp = caFingerprintOf(dir);
  return withStore(pointer, async (db) => {
    // One snapshot: entries and CRL state read together.
    await db.query('begin isolation level repeatable read read only');
    try {
      return await readStoreInventory(db, fp, dir);
    } finally {
      await db.query('rollback').catch(() => undefined);
    }
  });
}

/** The inventory side of a CA transaction (ca-transaction.ts holds the directory lock around it). */
export interface InventorySession {
  /** The inventory when the transaction began. */
  readonly inventory: Inventory;
  /** Whether inventory.json is the store (it is then written with the other files). */
  readonly isFile: boolean;
  /** Store: writes the changed rows and NOTIFYs, not yet committed. File: nothing. */
  write(after: Inventory, now: Date): Promise<void>;
  /** Store: COMMIT. A failure here means nothing of the inventory was recorded. */
  commit(): Promise<void>;
  /** Rolls back what is not committed and lets the connection go; safe to call more than once. */
  close(): Promise<void>;
}

export async function openInventorySession(dir: string, caCertPem: string): Promise<InventorySession> {
  const pointer = readStorePointer(dir);
  if (!pointer) {
    return { inventory: readInventory(dir), isFile: true, write: async () => undefined, commit: async () => undefined, close: async () => undefined };
  }
  const db = await connectStore(pointer);
  let open = true;
  let inventory: Inventory;
  try {
    inventory = await beginStoreTransaction(db, fingerprint256(caCertPem), dir);
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    await db.end();
    throw err;
  }
  const before = structuredClone(inventory);
  return {
    inventory,
    isFile: false,
    async write(after, now) {
      await writeStoreChanges(db, before, after, now);
    },
    async commit() {
      // A failure is STORE_FAILED (connectStore's query): the caller puts its files back.
      await db.query('commit');
      open = false;
    },
    async close() {
      if (open) await db.query('rollback').catch(() => undefined);
      open = false;
      await db.end();
    },
  };
}
