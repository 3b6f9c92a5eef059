/**
 * Every certificate the gateway can tell about, for the expiry series and SHOW CERTS:
 *   - the CA inventory, when the directory of `tls.ca` is a pgmoat CA directory (it holds
 *     inventory.json, as `pgmoat init` lays it out): every certificate issued, used or not;
 *   - the gateway's own chain (`tls.cert`: the server certificate, then any intermediate) and the
 *     trusted CA certificates (`tls.ca`: roots and intermediates);
 *   - every verified client certificate seen in the last 24 hours (identity-tracker.ts), which is
 *     all there is of the clients without an inventory.
 * pgmoat has no setting naming a CA directory: `serve` only knows the files of `tls:`. So the
 * inventory is found beside `tls.ca` or not at all. It is read at scrape or SHOW time, again only
 * when the file changed; nothing here runs on the data path. A directory whose inventory lives in
 * a PostgreSQL store (store.json) is read from the store, at most every STORE_REFRESH_MS, in the
 * background for a scrape (which uses the copy it has) and awaited by SHOW CERTS.
 */
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pemBlocks } from '@pgmoat/client/internal';
import { caPath } from '../ca/ca-layout.js';
import { readInventory, type InventoryEntry } from '../ca/inventory.js';
import { sansOfCertificate } from '../ca/san.js';
import { loadInventory } from '../ca/inventory-store.js';
import { normalizeSerial } from '../util/serial.js';
import { isExpiring } from '../util/expiring.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import type { RevocationCheck } from '../revocation/source.js';
import type { Pool } from '../pool/pool.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import { IdentityTracker } from './identity-tracker.js';

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

interface InventoryCache {
  dir: string;
  mtimeMs: number;
  size: number;
  ino: number;
  entries: readonly InventoryEntry[];
}

/** An inventory entry as list() returns it, before the revocation and last-seen facts of the moment. */
interface InventoryCertificate {
  readonly known: Omit<KnownCertificate, 'revoked' | 'lastSeen'>;
  readonly markedRevoked: boolean;
}

/** How old a copy of a store's inventory may be before a listing reads it again. */
const STORE_REFRESH_MS = 5_000;

export class CertificateCatalog {
  /** Verified client certificates seen lately (pgmoat_client_certificate_not_after_timestamp_seconds). */
  readonly seen = new IdentityTracker();
  private configKey: unknown;
  private configCerts: Omit<KnownCertificate, 'revoked' | 'lastSeen'>[] = [];
  private inventory: InventoryCache | undefined;
  private storeCopy: { dir: string; entries: readonly InventoryEntry[] } | undefined;
  private storeTried: { dir: string; at: number } | undefined;
  private storeRead: Promise<void> | undefined;
  /** SANs per serial, parsed once from the inventory's PEM (a serial's certificate never changes). */
  private readonly sansBySerial = new Map<string, readonly string[]>();
  /**
   * The entries of the inventory last read, converted once (dates, serial, SANs): with 10,000
   * certificates the conversion per listing was a third of a dashboard request's time.
   */
  private converted: { from: readonly InventoryEntry[]; certificates: readonly InventoryCertificate[] } | undefined;

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

  /** The inventory's entries, re-read when the file changed; undefined without a readable one. */
  private inventoryEntries(): readonly InventoryEntry[] | undefined {
    const dir = this.caDirectory();
    if (!dir) return undefined;
    if (this.usesStore(dir)) {
      void this.refreshStoreInventory();
      return this.storeCopy?.dir === dir ? this.storeCopy.entries : undefined;
    }
    try {
      const st = statSync(caPath(dir, 'inventory'));
      const c = this.inventory;
      if (c && c.dir === dir && c.mtimeMs === st.mtimeMs && c.size === st.size && c.ino === st.ino) return c.entries;
      const entries = readInventory(dir).certificates;
      this.inventory = { dir, mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, entries };
      return entries;
    } catch {
      // Unreadable or damaged (or being replaced, which is atomic): the certificates seen still tell something.
      return this.inventory?.dir === dir ? this.inventory.entries : undefined;
    }
  }

  private usesStore(dir: string): boolean {
    try {
      return statSync(caPath(dir, 'storePointer')).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Reads the inventory of a CA directory that keeps it in a PostgreSQL store, unless the copy
   * is fresh or a read is under way (then waits for that one). A store that cannot be read
   * leaves the last copy in use; never throws.
   */
  async refreshStoreInventory(now = Date.now()): Promise<void> {
    const dir = this.caDirectory();
    if (!dir || !this.usesStore(dir)) return;
    if (this.storeRead) return this.storeRead;
    // A failed read counts too: a store that is down is tried again later, not at every scrape.
    if (this.storeTried && this.storeTried.dir === dir && now - this.storeTried.at < STORE_REFRESH_MS) return;
    this.storeTried = { dir, at: now };
    this.storeRead = loadInventory(dir)
      .then((inv) => {
        this.storeCopy = { dir, entries: inv.certificates };
      })
      .catch(() => undefined)
      .finally(() => {
        this.storeRead = undefined;
      });
    return this.storeRead;
  }

  /** Whether the last listing came from a CA inventory. */
  hasInventory(): boolean {
    return this.inventoryEntries() !== undefined;
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

  /**
   * Every known certificate, one per serial: the configuration's first, then the inventory's,
   * then those only seen. Revoked ones are included (and marked).
   */
  list(now = Date.now()): KnownCertificate[] {
    const seen = this.recentSeen(now);
    const lastSeen = new Map<string, number>();
    for (const s of seen) lastSeen.set(s.serial, Math.max(s.lastSeen, lastSeen.get(s.serial) ?? 0));
    const revokedNow = (serial: string): boolean => this.gw.revocations.lookup(serial) !== undefined;
    const out = new Map<string, KnownCertificate>();
    const add = (c: Omit<KnownCertificate, 'revoked' | 'lastSeen'>, revoked: boolean): void => {
      if (out.has(c.serial)) return;
      out.set(c.serial, { ...c, revoked: revoked || revokedNow(c.serial), lastSeen: lastSeen.get(c.serial) });
    };
    for (const c of this.configCertificates()) add(c, false);
    for (const c of this.inventoryCertificates()) add(c.known, c.markedRevoked);
    for (const s of seen) {
      add({ kind: 'client', cn: s.cn, environment: s.environment, serial: s.serial, notBefore: s.notBefore, notAfter: s.notAfter, source: 'seen' }, false);
    }
    return [...out.values()];
  }

  private inventoryCertificates(): readonly InventoryCertificate[] {
    const entries = this.inventoryEntries();
    if (!entries) return [];
    if (this.converted?.from !== entries) {
      const certificates = entries.map((e): InventoryCertificate => ({
        known: { kind: e.kind, cn: e.name, environment: e.environment, serial: normalizeSerial(e.serial), notBefore: new Date(e.notBefore), notAfter: new Date(e.notAfter), source: 'inventory', revokedAt: e.revokedAt, reason: e.reason, sans: this.sansOf(e) },
        markedRevoked: e.status === 'revoked',
      }));
      this.converted = { from: entries, certificates };
    }
    return this.converted.certificates;
  }

  private sansOf(e: InventoryEntry): readonly string[] {
    let sans = this.sansBySerial.get(e.serial);
    if (sans === undefined) {
      sans = sansOfCertificate(e.certificate);
      this.sansBySerial.set(e.serial, sans);
    }
    return sans;
  }

  /** The seen identities (for the per-client notAfter series), revoked ones left out. */
  recentClients(now = Date.now()): ReturnType<IdentityTracker['recent']> {
    return this.recentSeen(now).filter((s) => this.gw.revocations.lookup(s.serial) === undefined);
  }
}
