/**
 * The worker thread of inventory-reader.ts: reads a CA directory's inventory (file or PostgreSQL
 * store), checks it, parses each certificate's SANs once per serial, and posts back only what the
 * certificate catalog lists. With 10,000 certificates this is 12 MB of JSON and a few hundred
 * milliseconds of work that would otherwise stall every session of the gateway's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { loadInventory } from '../ca/inventory-store.js';
import { sansOfCertificate } from '../ca/san.js';
import { normalizeSerial } from '../util/serial.js';
import type { InventoryReadReply, InventoryReadRequest, InventoryRow } from './inventory-reader.js';

const port = parentPort;
if (!port) throw new Error('inventory-reader-worker.ts runs only as a worker thread');

/** A serial's certificate never changes: its SANs are parsed once for the life of the thread. */
const sansBySerial = new Map<string, readonly string[]>();

async function read(dir: string): Promise<InventoryRow[]> {
  const inventory = await loadInventory(dir);
  return inventory.certificates.map((e) => {
    let sans = sansBySerial.get(e.serial);
    if (sans === undefined) {
      sans = sansOfCertificate(e.certificate);
      sansBySerial.set(e.serial, sans);
    }
    return {
      kind: e.kind,
      cn: e.name,
      environment: e.environment,
      serial: normalizeSerial(e.serial),
      notBefore: Date.parse(e.notBefore),
      notAfter: Date.parse(e.notAfter),
      revokedAt: e.revokedAt,
      reason: e.reason,
      markedRevoked: e.status === 'revoked',
      sans,
    };
  });
}

port.on('message', (m: InventoryReadRequest) => {
  read(m.dir).then(
    (rows) => port.postMessage({ id: m.id, rows } satisfies InventoryReadReply),
    (err: unknown) => port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies InventoryReadReply),
  );
});
