/**
 * What one miss of the certificate cache costs (src/tls/peer-identity.ts): reading a client
 * certificate's purpose extensions with @peculiar/asn1-schema (src/tls/cert-usage.ts), and the
 * whole miss (identity, then usage) for a certificate Node hands over. A one-off measurement, not a
 * test: it prints CPU microseconds per call (process.cpuUsage, so that other processes on a shared
 * machine count less than in wall-clock time), the median of 7 rounds after a warm-up.
 *
 *   npx tsx bench/experiments/cert-usage-cost.ts
 *
 * The certificates are pgmoat's own client certificates (src/ca, EC P-256 and RSA-2048 keys).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { initCa, issueClient, openCa, type KeyType } from '../../src/ca/index.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { readCertUsage } from '../../src/tls/cert-usage.js';
import { certificateUsage } from '../../src/tls/peer-identity.js';

const ROUNDS = 7;
const CALLS = 1_000;

function microsPerCall(calls: number, run: (i: number) => void): number {
  for (let i = 0; i < 2_000; i++) run(i); // warm-up: let V8 optimise
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) run(r * calls + i);
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / calls);
  }
  return rounds.sort((a, b) => a - b)[ROUNDS >> 1]!;
}

/** A PeerCertificate as getPeerCertificate(false) gives it, with the fields peer-identity.ts reads. */
function peerCertificate(der: Buffer): PeerCertificate {
  const x = new X509Certificate(der);
  const fields = (dn: string): Record<string, string> => Object.fromEntries(dn.split('\n').map((l) => l.split('=') as [string, string]));
  return {
    subject: fields(x.subject),
    issuer: fields(x.issuer),
    subjectaltname: x.subjectAltName,
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    valid_from: x.validFrom,
    valid_to: x.validTo,
    raw: der,
  } as PeerCertificate;
}

const dir = mkdtempSync(join(tmpdir(), 'pgmoat-cert-usage-cost-'));
try {
  await initCa({ dir, caName: 'cost CA', keyType: 'ec-p256', hosts: ['localhost'] });
  const ca = await openCa(dir);
  for (const keyType of ['ec-p256', 'rsa-2048'] as KeyType[]) {
    const issued = await issueClient(ca, { name: `app-${keyType}`, environment: 'production', keyType, allowDuplicate: true });
    const der = Buffer.from(pemBlocks(issued.certPem)[0]!.der);
    const usage = microsPerCall(CALLS, () => readCertUsage(der));
    // Every call a miss: a fingerprint the cache has never seen (the cache evicts past 4096).
    const peer = peerCertificate(der);
    const miss = microsPerCall(CALLS, (i) => certificateUsage({ ...peer, fingerprint256: `${peer.fingerprint256}:${i}` }));
    console.log(`${keyType} client certificate (${der.length} bytes): readCertUsage ${usage.toFixed(1)} µs, cache miss ${miss.toFixed(1)} µs`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
