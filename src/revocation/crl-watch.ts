/**
 * Watches the CRL file (`tls.crl`) and hands each new, verified revocation list to the CRL file
 * source (crl-file-source.ts), without a full config reload. `pgmoat revoke` rewrites crl.pem by an atomic rename, so the
 * watch is on the directory (a watch on the file would follow the old inode). fs.watch is not
 * reliable everywhere (network file systems, some containers): poll() is a cheap stat the
 * gateway's janitor calls as a fallback. Events are debounced; a file that fails to load, to
 * verify, or to be newer than the list in force (`admit`, crl-admission.ts) is logged as an
 * error (`crl_reload_failed`, with `code` and for a rollback `reason_code`) and the running
 * list stays.
 */
import { DebouncedLoader } from '../util/debounced-loader.js';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage, isPgmoatError } from '../util/errors.js';
import { fileProblem } from '../util/file-problem.js';
import { loadRevocationList, type RevocationList } from './revocation-list.js';
import { CrlRollbackError } from './crl-admission.js';

const DEBOUNCE_MS = 20;
/** How often poll() really stats the file. */
const POLL_INTERVAL_MS = 500;

export interface LoadedCrl {
  list: RevocationList;
  /** crl.pem's mtime (ms since the epoch): when the revocation was written. */
  mtimeMs: number;
  loadedAt: number;
}

function fileKey(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

export class CrlWatcher {
  private watcher: FSWatcher | undefined;
  private readonly loader = new DebouncedLoader(() => this.loadOnce(), DEBOUNCE_MS);
  private lastKey: string | undefined;
  private lastPoll = 0;
  private polling = false;
  private stopped = false;

  constructor(
    readonly path: string,
    private readonly caPem: string,
    private readonly onLoaded: (crl: LoadedCrl) => void,
    private readonly log: Logger,
    /** Raises the list's floor over the one in force, or throws when it is older (crl-admission.ts). */
    private readonly admit: (list: RevocationList) => RevocationList = (list) => list,
  ) {}

  /** Starts watching, and loads the file once (it may have changed since the config was read). */
  start(): void {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ event: 'crl_watch_failed', path: this.path, reason: errorMessage(err) }, 'watching the CRL directory failed; polling continues');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn({ event: 'crl_watch_failed', path: this.path, reason: errorMessage(err) }, 'cannot watch the CRL directory; polling instead');
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    this.loader.stop();
  }

  /** Called by the janitor: a stat at most every POLL_INTERVAL_MS, a load when the file changed. */
  poll(now: number): void {
    if (this.stopped || this.polling || now - this.lastPoll < POLL_INTERVAL_MS) return;
    this.lastPoll = now;
    this.polling = true;
    stat(this.path).then(
      (s) => {
        this.polling = false;
        if (fileKey(s) !== this.lastKey) this.schedule();
      },
      () => {
        this.polling = false; // missing for a moment (mid-rename) or gone: the running list stays
      },
    );
  }

  private schedule(): void {
    this.loader.schedule();
  }

  private async loadOnce(): Promise<void> {
    let key: string;
    let text: string;
    let mtimeMs: number;
    try {
      const before = await stat(this.path);
      key = fileKey(before);
      if (key === this.lastKey) return;
      text = await readFile(this.path, 'utf8');
      mtimeMs = before.mtimeMs;
    } catch (err) {
      // Missing for a moment during a rename: the rename's own event loads it again.
      this.log.warn({ event: 'crl_reload_failed', path: this.path, code: 'FILE_UNREADABLE', reason: fileProblem(err) }, 'cannot read the CRL; the running list stays');
      return;
    }
    // Remember it even when it fails to verify, so a bad file is reported once, not at every poll.
    this.lastKey = key;
    let list: RevocationList;
    try {
      list = this.admit(await loadRevocationList(text, this.caPem, this.path));
    } catch (err) {
      const code = isPgmoatError(err) ? err.code : 'CRL_INVALID';
      const extra = err instanceof CrlRollbackError ? err.fields : {};
      this.log.error(
        { event: 'crl_reload_failed', path: this.path, code, ...extra, reason: errorMessage(err) },
        err instanceof CrlRollbackError ? 'an older CRL was refused; the newer list in force stays' : 'the new CRL was refused; the running list stays',
      );
      return;
    }
    if (!this.stopped) this.onLoaded({ list, mtimeMs, loadedAt: Date.now() });
  }
}
