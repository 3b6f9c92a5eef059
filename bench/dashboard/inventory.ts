/**
 * The dashboard column's inventory: a copy of the benchmark CA's public files (ca.crt, crl.pem,
 * inventory.json) in a directory of its own, its inventory grown by N client certificates that the
 * CA really signs, so that the certificates view sorts, filters and pages a fleet-sized list (the
 * catalog parses each PEM for its SANs, as it would in use). The gateway finds an inventory beside
 * `tls.ca`, so the dashboard column points `tls.ca` and `tls.crl` at the copy; the other pgmoat
 * columns, and the renewal scenario (which rewrites inventory.json at every renewal), keep the
 * small original.
 *
 * The certificates share one public key (the inventory never holds keys and no client uses them);
 * lifetimes, environments and ages vary so that some are in their renewal window, some near
 * expiry, and 3 % are marked revoked in the inventory (not on the CRL: the CRL every pgmoat
 * column checks stays the same size, so the data path compares alike).
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pki } from '../../test/harness/cert-factory.js';
import { caPath } from '../../src/ca/ca-layout.js';
import { buildClientCertificate, certificatePem } from '../../src/ca/certificate-profiles.js';
import { issuedEntry, readInventory, serializeInventory, unusedSerial } from '../../src/ca/inventory.js';
import { generateKeyPair } from '../../src/ca/keys.js';

const DAY = 86_400_000;
const ENVIRONMENTS = ['production', 'production', 'production', 'staging', 'dev'];

export interface DashboardCa {
  dir: string;
  caPath: string;
  crlPath: string;
  /** Certificates in the copy's inventory (the original ones and the added ones). */
  certificates: number;
  /** Wall time spent signing, for the progress line. */
  ms: number;
}

export async function dashboardInventory(pki: Pki, added: number): Promise<DashboardCa> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-bench-dashboard-ca-'));
  const ca = pki.main.authority;
  copyFileSync(caPath(pki.main.dir, 'caCert'), caPath(dir, 'caCert'));
  copyFileSync(pki.main.crlPath, caPath(dir, 'crl'));
  const inv = readInventory(pki.main.dir);
  const { publicKey } = await generateKeyPair('ec-p256');
  const now = Date.now();
  for (let i = 0; i < added; i++) {
    // Lifetimes of 30 to 395 days, issued up to a lifetime ago: spread over the expiry bar.
    const days = 30 + (i % 366);
    const notBefore = new Date(now - ((i * 7919) % days) * DAY - DAY / 2);
    const notAfter = new Date(notBefore.getTime() + days * DAY);
    const name = `svc-${String(i).padStart(5, '0')}`;
    const environment = ENVIRONMENTS[i % ENVIRONMENTS.length]!;
    const serial = unusedSerial(inv);
    const cert = await buildClientCertificate(ca, { name, environment, publicKey, serial, notBefore, notAfter });
    const entry = issuedEntry({ kind: 'client', name, environment, serial, notBefore, notAfter, certPem: certificatePem(cert) });
    if (i % 33 === 0) {
      entry.status = 'revoked';
      entry.revokedAt = new Date(now - (i % 90) * DAY).toISOString();
      entry.reason = i % 2 === 0 ? 'superseded' : 'keyCompromise';
    }
    inv.certificates.push(entry);
  }
  writeFileSync(caPath(dir, 'inventory'), serializeInventory(inv));
  return { dir, caPath: caPath(dir, 'caCert'), crlPath: caPath(dir, 'crl'), certificates: inv.certificates.length, ms: Date.now() - started };
}
