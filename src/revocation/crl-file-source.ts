/**
 * The CRL file (`tls.crl`) as a RevocationSource. It holds the list in force, takes new ones from
 * the watch (crl-watch.ts) and from reloads, never lets one move backwards (crl-admission.ts),
 * records the newest per issuer in the state file (crl-state.ts) and warns while the list is
 * past its nextUpdate. The list it starts with was read and admitted with the configuration
 * (runtime/runtime-config.ts), so that a CRL older than the one enforced stops a start or a reload.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import { CrlRollbackError, admitRevocationList } from './crl-admission.js';
import { sameFloor } from './crl-order.js';
import { readCrlState, writeCrlState } from './crl-state.js';
import { CrlWatcher, type LoadedCrl } from './crl-watch.js';
import { isStale, type RevocationList } from './revocation-list.js';
import type { Revocation, RevocationChange, RevocationFreshness, RevocationListener, RevocationSource } from './source.js';

/** How often a stale CRL is reported again while it stays stale. */
const STALE_WARNING_INTERVAL_MS = 60_000;

export interface CrlFileSettings {
  readonly crlPath: string;
  /** Where the newest CRL per issuer is recorded; undefined keeps it in memory only. */
  readonly statePath: string | undefined;
  /** The client CA bundle the CRL is verified against. */
  readonly caPem: string;
}

/** The CRL in force and how old it is (Gateway.crlStatus). */
export interface CrlStatus {
  path: string | undefined;
  thisUpdate: Date | undefined;
  nextUpdate: Date | undefined;
  /** Seconds since thisUpdate; undefined without a CRL. */
  ageSeconds: number | undefined;
  stale: boolean;
  revokedCount: number;
  /** When the gateway last loaded it (ms since the epoch). */
  loadedAt: number | undefined;
}

export const NO_CRL_STATUS: CrlStatus = { path: undefined, thisUpdate: undefined, nextUpdate: undefined, ageSeconds: undefined, stale: false, revokedCount: 0, loadedAt: undefined };

export class CrlFileSource implements RevocationSource {
  readonly name = 'crl';
  private settings: CrlFileSettings;
  private list: RevocationList;
  private loadedAt: number;
  private watcher: CrlWatcher | undefined;
  private started = false;
  private readonly listeners = new Set<RevocationListener>();
  /** State files already reported as unwritable (once each: the floor stays in memory). */
  private readonly unwritableState = new Set<string>();
  private lastStaleWarning = 0;

  constructor(
    settings: CrlFileSettings,
    list: RevocationList,
    private readonly log: Logger,
  ) {
    this.settings = settings;
    this.list = list;
    this.loadedAt = Date.now();
  }

  /** The list in force (RuntimeConfig.revocation follows it). */
  get current(): RevocationList {
    return this.list;
  }

  get path(): string {
    return this.settings.crlPath;
  }

  lookup(serial: string): Revocation | undefined {
    return this.list.revoked.get(serial);
  }

  serials(): Iterable<string> {
    return this.list.revoked.keys();
  }

  freshness(): RevocationFreshness | undefined {
    const l = this.list;
    if (l.crlCount === 0) return undefined;
    const sequence = l.crls.flatMap((m) => (m.crlNumber === undefined ? [] : [{ issuer: m.issuer, number: m.crlNumber }]));
    return { source: this.name, thisUpdate: l.thisUpdate, nextUpdate: l.nextUpdate, loadedAt: this.loadedAt, sequence, revokedCount: l.revoked.size };
  }

  status(now = Date.now()): CrlStatus {
    const l = this.list;
    const has = l.crlCount > 0;
    return {
      path: this.settings.crlPath,
      thisUpdate: l.thisUpdate,
      nextUpdate: l.nextUpdate,
      ageSeconds: has && l.thisUpdate ? Math.max(0, Math.round((now - l.thisUpdate.getTime()) / 1000)) : undefined,
      stale: has && isStale(l, now),
      revokedCount: l.revoked.size,
      loadedAt: has ? this.loadedAt : undefined,
    };
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.started = true;
    this.loadedAt = Date.now();
    this.persistFloor();
    this.startWatcher();
    this.warnIfStale(Date.now(), true);
  }

  stop(): void {
    this.started = false;
    this.watcher?.stop();
    this.watcher = undefined;
  }

  poll(now: number): void {
    this.watcher?.poll(now);
    this.warnIfStale(now, false);
  }

  /**
   * A reload read `list` from `settings.crlPath`, against the list in force when it began. The
   * watch may have applied a newer CRL since: the newer of the two stays in force, so a reload
   * never puts back an older CRL. A new path or CA bundle restarts the watch.
   */
  reload(settings: CrlFileSettings, list: RevocationList): void {
    const before = this.settings;
    let next = list;
    if (list !== this.list && settings.crlPath === before.crlPath) {
      try {
        next = admitRevocationList(list, { crlPath: settings.crlPath, statePath: settings.statePath, caPem: settings.caPem, inForce: this.list });
      } catch (err) {
        if (!(err instanceof CrlRollbackError)) throw err;
        next = this.list;
      }
    }
    this.settings = settings;
    if (this.started && (settings.crlPath !== before.crlPath || settings.caPem !== before.caPem)) {
      this.watcher?.stop();
      this.startWatcher();
    }
    this.apply(next, Date.now(), Date.now(), false);
  }

  private startWatcher(): void {
    const { crlPath, caPem } = this.settings;
    const admit = (list: RevocationList): RevocationList =>
      admitRevocationList(list, { crlPath, statePath: this.settings.statePath, caPem, inForce: this.list });
    this.watcher = new CrlWatcher(crlPath, caPem, (crl) => this.loaded(crl), this.log, admit);
    this.watcher.start();
  }

  private loaded(crl: LoadedCrl): void {
    this.apply(crl.list, crl.loadedAt, crl.mtimeMs, true);
  }

  /** Puts `list` in force and tells the listeners; `fromWatch` logs the change (a reload has its own line). */
  private apply(list: RevocationList, loadedAt: number, publishedAt: number, fromWatch: boolean): void {
    const before = this.list.revoked;
    const added = [...list.revoked.keys()].filter((s) => !before.has(s));
    const removed = [...before.keys()].filter((s) => !list.revoked.has(s));
    this.list = list;
    this.loadedAt = loadedAt;
    this.persistFloor();
    if (fromWatch && (added.length > 0 || removed.length > 0)) {
      const fields = {
        event: 'crl_reloaded',
        path: this.settings.crlPath,
        revoked: list.revoked.size,
        newly_revoked: added,
        unrevoked: removed.length,
        crl_numbers: list.crls.map((c) => c.crlNumber?.toString() ?? null),
        next_update: list.nextUpdate?.toISOString(),
        delay_ms: Math.round(loadedAt - publishedAt),
      };
      // A newer CRL may lift a revocation (removeFromCRL, an expired hold): legitimate, but worth a look.
      if (removed.length > 0) this.log.warn(fields, `CRL reloaded: a newer CRL lifts ${removed.length} revocation(s)`);
      else this.log.info(fields, 'CRL reloaded');
    }
    this.warnIfStale(Date.now(), true);
    const change: RevocationChange = { source: this.name, added, removed, publishedAt };
    for (const listener of [...this.listeners]) listener(change);
  }

  /**
   * Records the floor of the list in force (the newest CRL per issuer) in the state file, so that
   * a restarted gateway refuses an older CRL too. A file it cannot write (a read-only CRL
   * directory) is reported once; the floor then protects this process only.
   */
  private persistFloor(): void {
    const { crlPath, statePath } = this.settings;
    const floor = this.list.floor;
    if (!statePath || floor.length === 0) return;
    try {
      if (sameFloor(readCrlState(statePath), floor)) return;
    } catch {
      // Not valid: rewritten below, and writeCrlState says what it replaced.
    }
    try {
      const { replacedInvalid } = writeCrlState(statePath, crlPath, floor);
      this.unwritableState.delete(statePath);
      if (replacedInvalid) {
        this.log.warn({ event: 'crl_state_replaced', path: statePath, reason: replacedInvalid.message }, 'the CRL state file was not valid; rewritten from the list in force');
      }
    } catch (err) {
      if (this.unwritableState.has(statePath)) return;
      this.unwritableState.add(statePath);
      this.log.warn(
        { event: 'crl_state_unwritable', path: statePath, crl: crlPath, reason: (err as NodeJS.ErrnoException).code ?? errorMessage(err) },
        'cannot record the newest CRL: an older CRL is refused until this gateway restarts, but not after; set tls.crl_state_file to a writable path',
      );
    }
  }

  private warnIfStale(now: number, force: boolean): void {
    const status = this.status(now);
    if (!status.stale) return;
    if (!force && now - this.lastStaleWarning < STALE_WARNING_INTERVAL_MS) return;
    this.lastStaleWarning = now;
    this.log.warn(
      { event: 'crl_stale', path: status.path, next_update: status.nextUpdate?.toISOString(), age_s: status.ageSeconds, revoked: status.revokedCount },
      'the CRL is past its nextUpdate: its revoked serials stay refused and every other client is let in; re-sign it with: pgmoat crl --dir <CA dir>',
    );
  }
}
