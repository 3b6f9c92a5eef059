/**
 * `pgmoat ca migrate --to URL`: the directory's inventory moves into a PostgreSQL store. Three
 * steps, each safe to be killed after: (1) one transaction copies every entry, adopted revocation
 * and the CRL state; (2) DIR/store.json is written atomically (from then on the store is used);
 * (3) inventory.json becomes inventory.json.migrated. Until (2) the directory works as before;
 * after it the store does; running migrate again finishes whatever is left.
 */
import { existsSync, renameSync } from 'node:fs';
import { fsyncDir } from '../util/atomic-file.js';
import { PgmoatError } from '../util/errors.js';
import { assertCaDir } from './authority.js';
import { withCaLock } from './ca-lock.js';
import { caPath } from './ca-layout.js';
import { readInventory } from './inventory.js';
import { caFingerprintOf } from './inventory-store.js';
import { copyInventoryToStore, readCaState, readStoreInventory, withStore } from './postgres-store.js';
import { checkSchemaVersion } from './store-schema.js';
import { readStorePointer, redactUrl, writeStorePointer, type StorePointer } from './store-pointer.js';

export interface MigrateResult {
  dir: string;
  /** The store URL, password redacted. */
  where: string;
  certificates: number;
  adoptedRevocations: number;
  /** False when the store already held exactly this inventory (an earlier run got that far). */
  copied: boolean;
  /** True when the directory already pointed at this store and only the rename was left (or nothing). */
  resumed: boolean;
}

function samePointer(a: StorePointer, b: StorePointer): boolean {
  return a.url === b.url && a.password_file === b.password_file;
}

/**
 * For `pgmoat init --store`: refuses, before anything is created, a store that cannot be reached,
 * was made by a newer pgmoat, or already holds a CA (a store holds one CA).
 */
export async function checkStoreIsFree(pointer: StorePointer): Promise<void> {
  await withStore(pointer, async (db) => {
    if ((await checkSchemaVersion(db, db.where)) === undefined) return;
    if (await readCaState(db)) {
      throw new PgmoatError('STORE_NOT_EMPTY', `the pgmoat store at ${db.where} already holds a CA's inventory; a store holds one CA (use another database, or migrate that CA's directory)`);
    }
  });
}

export async function migrateToStore(dirArg: string, pointer: StorePointer): Promise<MigrateResult> {
  const dir = assertCaDir(dirArg);
  const where = redactUrl(pointer.url);
  return withCaLock(dir, async (lock) => {
    const inventoryPath = caPath(dir, 'inventory');
    const migratedPath = caPath(dir, 'migratedInventory');
    const fp = caFingerprintOf(dir);
    const existing = readStorePointer(dir);
    if (existing) {
      if (!samePointer(existing, pointer)) {
        throw new PgmoatError('ALREADY_MIGRATED', `${dir} already keeps its inventory in the pgmoat store at ${redactUrl(existing.url)} (store.json); a CA has one store`);
      }
      // Killed between the pointer and the rename: the store is in use; check it, then finish.
      const inv = await withStore(pointer, (db) => readStoreInventory(db, fp, dir));
      if (existsSync(inventoryPath)) {
        lock.assertHeld();
        renameSync(inventoryPath, migratedPath);
        fsyncDir(dir);
      }
      return { dir, where, certificates: inv.certificates.length, adoptedRevocations: inv.adoptedRevocations?.length ?? 0, copied: false, resumed: true };
    }
    const inv = readInventory(dir);
    const copied = await withStore(pointer, (db) => copyInventoryToStore(db, inv, fp, dir));
    lock.assertHeld();
    writeStorePointer(dir, pointer);
    renameSync(inventoryPath, migratedPath);
    fsyncDir(dir);
    return { dir, where, certificates: inv.certificates.length, adoptedRevocations: inv.adoptedRevocations?.length ?? 0, copied, resumed: false };
  });
}
