/** The files of a CA directory. */
import { join } from 'node:path';

export const CA_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  crl: 'crl.pem',
  inventory: 'inventory.json',
  config: 'pgmoat.yaml',
  /** Two-level CA only: the issuing CA that signs certificates and the CRL (ca.crt/ca.key are then the root). */
  intermediateCert: 'intermediate.crt',
  intermediateKey: 'intermediate.key',
  /** Two-level CA only: root + intermediate, the gateway's tls.ca (the CRL is verified against it). */
  caBundle: 'ca-bundle.crt',
  /**
   * Two-level CA only: the CRL the root signs, listing revoked intermediates (written by
   * `pgmoat ca revoke-intermediate`, with the root key); crl.pem carries a copy of it.
   */
  rootCrl: 'root-crl.pem',
  /** Two-level CA only: intermediates replaced by `pgmoat ca rotate-intermediate` (SERIAL.crt, SERIAL.key). */
  retiredDir: 'retired-intermediates',
  /** Profile defaults (lifetimes), written by init; absent means the built-in defaults. */
  defaults: 'defaults.json',
  /**
   * Present when the inventory lives in a PostgreSQL store (written by pgmoat ca migrate): where
   * it is. The keys, certificates and crl.pem stay in the directory.
   */
  storePointer: 'store.json',
  /** inventory.json once migrated to a store: a backup, never read again. */
  migratedInventory: 'inventory.json.migrated',
} as const;

export type CaFile = keyof typeof CA_FILES;

export function caPath(dir: string, file: CaFile): string {
  return join(dir, CA_FILES[file]);
}

export const PRIVATE_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const DIR_MODE = 0o700;
