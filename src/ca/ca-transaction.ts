/**
 * One read-modify-write of a CA directory, all under the CA lock: read the inventory, let the
 * caller change it and stage files, then write staged files, the inventory and (when asked) a
 * fresh CRL. If any write fails, what was already written is put back, so a failed command
 * leaves the CA directory as it was. With a PostgreSQL store (inventory-store.ts) the inventory
 * is read and written inside one store transaction that also holds the store's advisory lock;
 * the files are written before its COMMIT and put back when the COMMIT fails.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic-file.js';
import type { CertificateAuthority } from './authority.js';
import { withCaLock, type HeldLock } from './ca-lock.js';
import { caPath, DIR_MODE, PUBLIC_MODE } from './ca-layout.js';
import type { BuiltCrl } from './crl.js';
import { buildCrlFile } from './crl-set.js';
import { readRootCrlPem } from './intermediates.js';
import { serializeInventory, type Inventory } from './inventory.js';
import { openInventorySession, type InventorySession } from './inventory-store.js';

interface StagedFile {
  path: string;
  data: string | Uint8Array;
  mode: number;
  exclusive: boolean;
}

export interface CaTransaction {
  /** A private copy of the inventory; change it in place. */
  readonly inventory: Inventory;
  readonly now: Date;
  /** Files written at commit, in the order staged (stage a key before its certificate). */
  stageFile(path: string, data: string | Uint8Array, mode: number, opts?: { exclusive?: boolean }): void;
  /** Re-sign crl.pem at commit; `days` (when given) also becomes the CA's CRL lifetime. */
  rewriteCrl(days?: number): void;
  /**
   * Re-sign root-crl.pem at commit too (with the root key the caller opened), with the CRL
   * number crl.pem gets; implies rewriteCrl().
   */
  rewriteRootCrl(sign: (crlNumber: number, now: Date) => Promise<string>): void;
}

export interface TransactionResult<T> {
  value: T;
  crl: BuiltCrl | undefined;
}

interface Undo {
  run(): void;
}

function undoForFile(path: string): Undo {
  const previous = existsSync(path) ? { data: readFileSync(path), mode: statSync(path).mode & 0o777 } : undefined;
  return {
    run() {
      if (previous) writeFileAtomic(path, previous.data, previous.mode);
      else unlinkSync(path);
    },
  };
}

function ensureDir(dir: string, undo: Undo[]): void {
  if (existsSync(dir)) return;
  const created = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) undo.push({ run: () => rmSync(created, { recursive: true, force: true }) });
}

export async function withCaTransaction<T>(
  ca: CertificateAuthority,
  work: (tx: CaTransaction) => Promise<T>,
  opts: { now?: Date } = {},
): Promise<TransactionResult<T>> {
  return withCaLock(ca.dir, async (lock) => {
    // The directory lock stays even with a store: keys, certificates and crl.pem live here.
    const session = await openInventorySession(ca.dir, ca.certPem);
    try {
      return await runTransaction(ca, lock, session, work, opts);
    } finally {
      await session.close();
    }
  });
}

async function runTransaction<T>(
  ca: CertificateAuthority,
  lock: HeldLock,
  session: InventorySession,
  work: (tx: CaTransaction) => Promise<T>,
  opts: { now?: Date },
): Promise<TransactionResult<T>> {
  const inventoryPath = caPath(ca.dir, 'inventory');
  const before = session.inventory;
  const inventory: Inventory = structuredClone(before);
  const staged: StagedFile[] = [];
  let crlDays: number | undefined;
  let crlWanted = false;
  let signRoot: ((crlNumber: number, now: Date) => Promise<string>) | undefined;
  const now = opts.now ?? new Date();
  const tx: CaTransaction = {
    inventory,
    now,
    stageFile(path, data, mode, o = {}) {
      staged.push({ path, data, mode, exclusive: o.exclusive ?? false });
    },
    rewriteCrl(days) {
      crlWanted = true;
      if (days !== undefined) crlDays = days;
    },
    rewriteRootCrl(sign) {
      crlWanted = true;
      signRoot = sign;
    },
  };
  const value = await work(tx);

  for (const f of staged) {
    if (f.exclusive && existsSync(f.path)) {
      throw new PgmoatError('FILE_EXISTS', `${f.path} already exists; pgmoat will not overwrite it (move it away or choose another --out)`);
    }
  }
  let crl: BuiltCrl | undefined;
  let crlPem: string | undefined;
  let rootCrlPem: string | undefined;
  if (crlWanted) {
    if (crlDays !== undefined) inventory.crlDays = crlDays;
    inventory.crlNumber += 1;
    rootCrlPem = signRoot ? await signRoot(inventory.crlNumber, now) : undefined;
    const file = await buildCrlFile(ca, { entries: inventory.certificates, adopted: inventory.adoptedRevocations, crlNumber: inventory.crlNumber, days: inventory.crlDays, now, rootCrlPem: rootCrlPem ?? readRootCrlPem(ca.dir) });
    crl = file.main;
    crlPem = file.pem;
  }

  lock.assertHeld();
  // The store's rows and NOTIFYs go in first, uncommitted: the files below are written before
  // COMMIT and put back if it fails, so the CRL never lists what the store did not record.
  await session.write(inventory, now);
  const undo: Undo[] = [];
  try {
    for (const f of staged) {
      ensureDir(dirname(f.path), undo);
      undo.push(undoForFile(f.path));
      writeFileAtomic(f.path, f.data, f.mode);
    }
    for (const f of ['inventory', 'crl', 'rootCrl', 'serverKey', 'serverCert'] as const) removeStaleTemps(caPath(ca.dir, f));
    const inventoryText = serializeInventory(inventory);
    if (session.isFile && inventoryText !== serializeInventory(before)) {
      undo.push(undoForFile(inventoryPath));
      writeFileAtomic(inventoryPath, inventoryText, PUBLIC_MODE);
    }
    if (rootCrlPem !== undefined) {
      const rootCrlPath = caPath(ca.dir, 'rootCrl');
      undo.push(undoForFile(rootCrlPath));
      writeFileAtomic(rootCrlPath, rootCrlPem, PUBLIC_MODE);
    }
    if (crlPem !== undefined) {
      const crlPath = caPath(ca.dir, 'crl');
      undo.push(undoForFile(crlPath));
      writeFileAtomic(crlPath, crlPem, PUBLIC_MODE);
    }
    await session.commit();
  } catch (err) {
    for (const u of undo.reverse()) {
      try {
        u.run();
      } catch {
        // best effort: keep undoing the rest
      }
    }
    if (err instanceof PgmoatError) throw err;
    throw new PgmoatError('WRITE_FAILED', `cannot write ${describeFsError(err)}; nothing was changed`, { cause: err });
  }
  return { value, crl };
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.path ? `${e.path.replace(/\.\d+-[0-9a-f]{8}\.tmp$/, '')} (${e.code ?? 'error'})` : (e.message ?? String(err));
}
