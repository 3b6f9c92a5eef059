/**
 * Which TLS file sets a configuration asks to follow, kept in step with it at start and at every
 * reload: the client side (`tls.cert`, `tls.key`, `tls.ca`, `tls.key_passphrase_file`) and the
 * upstream side of each database (`databases.<name>.tls`), each unless its `reload_on_change` is
 * false. A set the files agree on goes to the owner (the gateway) for new connections.
 */
import type { Logger } from 'pino';
import type { TlsMaterialText } from '../tls/tls-material.js';
import type { RuntimeConfig } from './runtime-config.js';
import { TlsFileWatch, samePaths, type TlsFilePaths } from './tls-file-watch.js';

export interface TlsWatchOwner {
  /** New client-side files: new handshakes use them. Throws when they cannot be put in force. */
  clientTlsChanged(next: TlsMaterialText): void;
  /** New upstream files of one database: new server connections use them. */
  upstreamTlsChanged(database: string, next: TlsMaterialText): void;
}

const CLIENT = '';

interface Wanted {
  what: string;
  paths: TlsFilePaths;
  inForce: TlsMaterialText;
  apply: (next: TlsMaterialText) => void;
}

function hasFiles(p: TlsFilePaths): boolean {
  return p.cert !== undefined || p.key !== undefined || p.ca !== undefined;
}

function wanted(rc: RuntimeConfig, owner: TlsWatchOwner): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const t = rc.config.tls;
  if (rc.clientTls && t.reload_on_change) {
    const paths = { cert: t.cert, key: t.key, ca: t.ca, passphrase: t.key_passphrase_file };
    const c = rc.clientTls;
    out.set(CLIENT, { what: 'tls', paths, inForce: { cert: c.cert, key: c.key, ca: c.ca, passphrase: c.passphrase }, apply: (next) => owner.clientTlsChanged(next) });
  }
  for (const [name, db] of Object.entries(rc.config.databases)) {
    const u = db.tls;
    const paths = { cert: u.cert, key: u.key, ca: u.ca, passphrase: u.key_passphrase_file };
    const inForce = rc.upstreamTls.get(name);
    if (!u.reload_on_change || !hasFiles(paths) || !inForce) continue;
    out.set(`db:${name}`, {
      what: `databases.${name}.tls`,
      paths,
      inForce: { cert: inForce.cert, key: inForce.key, ca: inForce.ca, passphrase: inForce.passphrase },
      apply: (next) => owner.upstreamTlsChanged(name, next),
    });
  }
  return out;
}

export class TlsWatches {
  private readonly watches = new Map<string, TlsFileWatch>();
  private started = false;

  constructor(
    private readonly owner: TlsWatchOwner,
    private readonly log: Logger,
  ) {}

  /** At start and at every reload: the files `rc` read are the sets in force now. */
  configure(rc: RuntimeConfig): void {
    const next = wanted(rc, this.owner);
    for (const [key, watch] of this.watches) {
      const w = next.get(key);
      if (w && samePaths(w.paths, watch.paths)) continue;
      watch.stop();
      this.watches.delete(key);
    }
    for (const [key, w] of next) {
      const existing = this.watches.get(key);
      if (existing) {
        existing.reset(w.inForce);
        continue;
      }
      const watch = new TlsFileWatch({ ...w, log: this.log });
      this.watches.set(key, watch);
      if (this.started) watch.start();
    }
  }

  start(): void {
    this.started = true;
    for (const w of this.watches.values()) w.start();
  }

  poll(now: number): void {
    for (const w of this.watches.values()) w.poll(now);
  }

  stop(): void {
    this.started = false;
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}
