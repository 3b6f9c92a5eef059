/**
 * Every certificate the gateway can tell about, for the expiry series and SHOW CERTS:
 *   - the CA inventory, when the directory of `tls.ca` is a pgmoat CA directory (it holds
 *     inventory.json, as `pgmoat init` lays it out): every certificate issued, used or not;
 *   - the gateway's own chain (`tls.cert`: the server certificate, then any intermediate) and the
 *     trusted CA certificates (`tls.ca`: roots and intermediates);
 *   - every verified client certificate seen in the last 24 hours (identity-tracker.ts), which is
 *     all there is of the clients without an inventory.
 * pgmoat has no setting naming a CA directory: `serve` only knows the files of `tls:`. So the
 * inventory is found beside `tls.ca` (or in `renewal.ca_dir`) or not at all. It is read in a worker
 * thread (inventory-reader.ts), so that 10,000 certificates do not stall the sessions: again only
 * when the file changed, or for a PostgreSQL store (store.json) when the copy is older than
 * STORE_REFRESH_MS. Listings use the copy there is; SHOW CERTS, the dashboard and a scrape await a
 * fresh one first.
 */
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pemBlocks } from '@pgmoat/client/internal';
import { caPath } from '../ca/ca-layout.js';
import { normalizeSerial } from '../util/serial.js';
import { isExpiring } from '../util/expiring.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import type { RevocationCheck } from '../revocation/source.js';
import type { Pool } from '../pool/pool.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import { IdentityTracker } from './identity-tracker.js';
import { readInventoryRows, type InventoryRow } from './inventory-reader.js';

export type CertificateKind = 'root' | 'intermediate' | 'server' | 'client';
/** Where pgmoat knows a certificate from. */
export type CertificateSource = 'inventory' | 'config' | 'seen';
export type CertificateStatus = 'valid' | 'expiring' | 'expired' | 'revoked';

export interface KnownCertificate {
  readonly kind: CertificateKind;
  readonly cn: string;
  /** '' for CA and server certificates, and for a client certificate that names none. */
  readonly environment: string;
  /** Canonical form (util/serial.ts). */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly source: CertificateSource;
  /** Last time a session used it (ms since the epoch), within the last 24 hours. */
  readonly lastSeen: number | undefined;
  /** Listed by a revocation source in force, or marked revoked in the inventory. */
  readonly revoked: boolean;
  /** From the inventory, for a certificate it marks revoked (ISO time, RFC 5280 reason name). */
  readonly revokedAt?: string | undefined;
  readonly reason?: string | undefined;
  /** subjectAltName entries as Node prints them (`DNS:db.example.com`, `URI:pgmoat://…`); from the inventory's PEM. */
  readonly sans?: readonly string[] | undefined;
}

export interface CatalogGateway {
  readonly runtime: RuntimeConfig;
  readonly revocations: RevocationCheck;
  readonly pools: ReadonlyMap<string, Pool>;
}

/** The status SHOW CERTS prints; "expiring" is util/expiring.ts's rule, the one `pgmoat list` uses. */
export function certificateStatus(c: Pick<KnownCertificate, 'notBefore' | 'notAfter' | 'revoked'>, now: number): CertificateStatus {
  if (c.revoked) return 'revoked';
  if (c.notAfter.getTime() - now <= 0) return 'expired';
  return isExpiring(c.notBefore, c.notAfter, now) ? 'expiring' : 'valid';
}

function commonName(subject: string): string {
  for (const line of subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return '';
}

/** A certificate of the configuration; a self-signed one is a root. */
function configEntry(x: X509Certificate, kind: 'server' | 'ca'): Omit<KnownCertificate, 'revoked' | 'lastSeen'> {
  const selfSigned = x.subject === x.issuer && x.verify(x.publicKey);
  return {
    kind: kind === 'server' ? 'server' : selfSigned ? 'root' : 'intermediate',
    cn: commonName(x.subject),
    environment: '',
    serial: normalizeSerial(x.serialNumber),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    source: 'config',
  };
}

function certificatesOf(pem: string | undefined): X509Certificate[] {
  if (!pem) return [];
  const out: X509Certificate[] = [];
  for (const b of pemBlocks(pem)) {
    if (b.label !== 'CERTIFICATE') continue;
    try {
      out.push(new X509Certificate(b.der));
    } catch {
      // The gateway loaded this file, so a block it cannot parse is not one TLS uses either.
    }
  }
  return out;
}

/** An inventory entry as list() returns it, before the revocation and last-seen facts of the moment. */
interface InventoryCertificate {
  readonly known: Omit<KnownCertificate, 'revoked' | 'lastSeen'>;
  readonly markedRevoked: boolean;
}

/** What a copy of the inventory was read from: the directory, and the file's identity (none for a store). */
interface InventoryVersion {
  dir: string;
  /** mtime, size and inode of inventory.json; '' for a store, which is read again by age. */
  file: string;
  at: number;
}

/** How old a copy of a store's inventory may be before a listing reads it again. */
const STORE_REFRESH_MS = 5_000;
/** How long after a failed read the next may begin. */
const RETRY_MS = 5_000;

function toKnown(r: InventoryRow): InventoryCertificate {
  return {
    known: { kind: r.kind, cn: r.cn, environment: r.environment, serial: r.serial, notBefore: new Date(r.notBefore), notAfter: new Date(r.notAfter), source: 'inventory', revokedAt: r.revokedAt, reason: r.reason, sans: r.sans },
    markedRevoked: r.markedRevoked,
  };
}

export class CertificateCatalog {
  /** Verified client certificates seen lately (pgmoat_client_certificate_not_after_timestamp_seconds). */
  readonly seen = new IdentityTracker();
  private configKey: unknown;
  private configCerts: Omit<KnownCertificate, 'revoked' | 'lastSeen'>[] = [];
  /** The last copy read, and from what. */
  private copy: { version: InventoryVersion; certificates: readonly InventoryCertificate[] } | undefined;
  /** The version the last read began on (undefined after a failure: read again from RETRY_MS on). */
  private tried: InventoryVersion | undefined;
  private reading: Promise<void> | undefined;
  /** After a failed read (a damaged file, a store down, the thread gone), when to try again. */
  private retryAt = 0;

  constructor(
    private readonly gw: CatalogGateway,
    private readonly adminIdentities: () => PeerIdentity[] = () => [],
  ) {}

  /** The CA directory whose inventory is read: renewal.ca_dir, else the directory of tls.ca, whichever holds inventory.json first. */
  caDirectory(): string | undefined {
    const config = this.gw.runtime.config;
    // The renewal service's CA directory when the gateway runs one, else the directory of tls.ca.
    const candidates = [config.renewal?.ca_dir, config.tls.mode !== 'disable' && config.tls.ca ? dirname(config.tls.ca) : undefined];
    for (const dir of candidates) {
      if (dir === undefined) continue;
      try {
        if (statSync(caPath(dir, 'inventory')).isFile()) return dir;
      } catch {
        // no inventory there
      }
      try {
        if (statSync(caPath(dir, 'storePointer')).isFile()) return dir;
      } catch {
        // nor a store
      }
    }
    return undefined;
  }

  /** Which version of the inventory is there to read now; undefined without a CA directory. */
  private currentVersion(now: number): InventoryVersion | undefined {
    const dir = this.caDirectory();
    if (!dir) return undefined;
    try {
      const st = statSync(caPath(dir, 'inventory'));
      return { dir, file: `${st.mtimeMs}:${st.size}:${st.ino}`, at: now };
    } catch {
      // No inventory.json: the directory points to a store (store.json).
      return { dir, file: '', at: now };
    }
  }

  private isCurrent(had: InventoryVersion | undefined, now: InventoryVersion): boolean {
    if (!had || had.dir !== now.dir || had.file !== now.file) return false;
    // A store's copy ages; a file's stays current until the file changes.
    return now.file !== '' || now.at - had.at < STORE_REFRESH_MS;
  }

  /**
   * Reads the inventory again in the worker thread (inventory-reader.ts) when it changed (a file)
   * or the copy is old (a store), unless a read is under way (then waits for that one). A read that
   * fails leaves the last copy in use and is tried again after RETRY_MS; never throws.
   * Listings use the copy there is; SHOW CERTS, the dashboard and a scrape await this first.
   */
  async refreshInventory(now = Date.now()): Promise<void> {
    if (this.reading) return this.reading;
    const version = this.currentVersion(now);
    if (!version || this.isCurrent(this.tried, version) || now < this.retryAt) return;
    this.tried = version;
    this.reading = readInventoryRows(version.dir)
      .then((rows) => {
        this.copy = { version, certificates: rows.map(toKnown) };
      })
      .catch(() => {
        this.tried = undefined;
        this.retryAt = now + RETRY_MS;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  /** The last copy of the inventory of the CA directory in use (a read begins in the background when it is stale). */
  private inventoryCertificates(now: number): readonly InventoryCertificate[] | undefined {
    void this.refreshInventory(now);
    const dir = this.caDirectory();
    return dir !== undefined && this.copy?.version.dir === dir ? this.copy.certificates : undefined;
  }

  /** Whether the last listing came from a CA inventory. */
  hasInventory(): boolean {
    return this.inventoryCertificates(Date.now()) !== undefined;
  }

  private configCertificates(): Omit<KnownCertificate, 'revoked' | 'lastSeen'>[] {
    const tls = this.gw.runtime.clientTls;
    if (tls !== this.configKey) {
      this.configKey = tls;
      const chain = certificatesOf(tls?.cert);
      this.configCerts = [
        ...chain.map((x, i) => configEntry(x, i === 0 ? 'server' : 'ca')),
        ...certificatesOf(tls?.ca).map((x) => configEntry(x, 'ca')),
      ];
    }
    return this.configCerts;
  }

  /** Records the identities of the live sessions, then reads the recent ones. */
  private recentSeen(now: number): ReturnType<IdentityTracker['recent']> {
    for (const pool of this.gw.pools.values()) {
      for (const c of pool.clients()) if (c.info.identity) this.seen.record(c.info.identity, now);
    }
    for (const id of this.adminIdentities()) this.seen.record(id, now);
    return this.seen.recent(now);
  }

  /** When each serial was last seen by this process (the last 24 hours), without building the list. */
  lastSeen(now = Date.now()): Map<string, number> {
    return latestBySerial(this.recentSeen(now));
  }

  /**
   * Every known certificate, one per serial: the configuration's first, then the inventory's,
   * then those only seen. Revoked ones are included (and marked).
   */
  list(now = Date.now()): KnownCertificate[] {
    const seen = this.recentSeen(now);
    const lastSeen = latestBySerial(seen);
    const revokedNow = (serial: string): boolean => this.gw.revocations.lookup(serial) !== undefined;
    const out = new Map<string, KnownCertificate>();
    const add = (c: Omit<KnownCertificate, 'revoked' | 'lastSeen'>, revoked: boolean): void => {
      if (out.has(c.serial)) return;
      out.set(c.serial, { ...c, revoked: revoked || revokedNow(c.serial), lastSeen: lastSeen.get(c.serial) });
    };
    for (const c of this.configCertificates()) add(c, false);
    for (const c of this.inventoryCertificates(now) ?? []) add(c.known, c.markedRevoked);
    for (const s of seen) {
      add({ kind: 'client', cn: s.cn, environment: s.environment, serial: s.serial, notBefore: s.notBefore, notAfter: s.notAfter, source: 'seen' }, false);
    }
    return [...out.values()];
  }

  /** The seen identities (for the per-client notAfter series), revoked ones left out. */
  recentClients(now = Date.now()): ReturnType<IdentityTracker['recent']> {
    return this.recentSeen(now).filter((s) => this.gw.revocations.lookup(s.serial) === undefined);
  }
}

function latestBySerial(seen: ReturnType<IdentityTracker['recent']>): Map<string, number> {
  const lastSeen = new Map<string, number>();
  for (const s of seen) lastSeen.set(s.serial, Math.max(s.lastSeen, lastSeen.get(s.serial) ?? 0));
  return lastSeen;
}
