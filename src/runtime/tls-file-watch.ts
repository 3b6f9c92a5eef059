/**
 * Watches one set of TLS files (certificate, key, CA bundle, key passphrase) and hands a new set
 * to its owner as soon as the files on disk are whole and consistent (tls/tls-material.ts), the
 * way crl-watch.ts follows the CRL: fs.watch on the directories (a rename replaces the inode, and
 * Kubernetes swaps a `..data` symlink, so any event there is a reason to look), a cheap stat
 * from the janitor as a fallback, events debounced.
 *
 * A set that does not check out (a key that does not match, a file cut short, an expired, not yet
 * valid or older certificate) is logged once per state of the files and the set in force stays.
 * While refused, the files are read again on every change and every RETRY_MS even when their stat
 * did not change (a write within one mtime tick keeps the size and mtime): that is also how a
 * certificate that was not valid yet is loaded once it is, although no file changes.
 *
 * The owner drives poll() from a timer it already has (the gateway's janitor); an owner without
 * one (the admin HTTP listener) asks for `selfPoll`, an unref'd timer of the watch's own.
 */
import { DebouncedLoader } from '../util/debounced-loader.js';
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { readPrivateFile, readSecretFile } from '../util/private-file.js';
import { checkTlsMaterial, leafSummary, type TlsMaterialText } from '../tls/tls-material.js';
import { unreadableFile } from '../util/file-problem.js';

const DEBOUNCE_MS = 50;
/** How often poll() stats the files. */
const POLL_INTERVAL_MS = 500;
/** How often a refused set is read again although no file seems to have changed. */
const RETRY_MS = 2_000;

/** Paths of one set; what is not set is not watched. */
export interface TlsFilePaths {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
  passphrase?: string | undefined;
}

type Part = keyof TlsFilePaths;
const PARTS: readonly Part[] = ['cert', 'key', 'ca', 'passphrase'];

/** Where a set's messages say it comes from: `tls` or `databases.<name>.tls`. */
export interface TlsFileWatchOptions {
  what: string;
  paths: TlsFilePaths;
  /** The set in force when the watch starts (as read at start or at the last reload). */
  inForce: TlsMaterialText;
  /** Puts a checked set in force; a throw leaves the one in force (TLS_RELOAD_FAILED). */
  apply: (next: TlsMaterialText) => void;
  log: Logger;
  /** Poll from a timer of the watch's own (an owner without a janitor). */
  selfPoll?: boolean;
}

/** The same paths, the same watch: a reload that keeps them keeps the watch. */
export function samePaths(a: TlsFilePaths, b: TlsFilePaths): boolean {
  return PARTS.every((p) => a[p] === b[p]);
}

function keyName(what: string, part: Part): string {
  return part === 'passphrase' ? `${what}.key_passphrase_file` : `${what}.${part}`;
}

export class TlsFileWatch {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly loader = new DebouncedLoader(() => this.loadOnce(), DEBOUNCE_MS);
  private lastKeys: string | undefined;
  private lastPoll = 0;
  private lastAttempt = 0;
  private polling = false;
  private stopped = false;
  private started = false;
  /** The last refusal logged (code, message, file states): the same one is not logged again. */
  private refused: string | undefined;
  private inForce: TlsMaterialText;

  constructor(private readonly o: TlsFileWatchOptions) {
    this.inForce = o.inForce;
  }

  get paths(): TlsFilePaths {
    return this.o.paths;
  }

  /** Starts watching, and reads the files once (they may have changed since they were read). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const dirs = new Set(PARTS.map((p) => this.o.paths[p]).filter((p): p is string => p !== undefined).map((p) => dirname(p)));
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', (err) => {
          this.o.log.warn({ event: 'tls_watch_failed', what: this.o.what, path: dir, reason: errorMessage(err) }, 'watching a TLS directory failed; polling continues');
          w.close();
          this.watchers = this.watchers.filter((x) => x !== w);
        });
        this.watchers.push(w);
      } catch (err) {
        this.o.log.warn({ event: 'tls_watch_failed', what: this.o.what, path: dir, reason: errorMessage(err) }, 'cannot watch a TLS directory; polling instead');
      }
    }
    if (this.o.selfPoll) {
      this.timer = setInterval(() => this.poll(Date.now()), POLL_INTERVAL_MS);
      this.timer.unref();
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.loader.stop();
  }

  /** A reload read the files again and put what it read in force. */
  reset(inForce: TlsMaterialText): void {
    this.inForce = inForce;
    this.lastKeys = undefined;
    this.refused = undefined;
    if (this.started) this.schedule();
  }

  /** Called by the janitor: a stat at most every POLL_INTERVAL_MS; a refused set is retried every RETRY_MS. */
  poll(now: number): void {
    if (!this.started || this.stopped || this.polling || now - this.lastPoll < POLL_INTERVAL_MS) return;
    this.lastPoll = now;
    if (this.refused !== undefined && now - this.lastAttempt >= RETRY_MS) {
      this.lastKeys = undefined;
      this.schedule();
      return;
    }
    this.polling = true;
    this.statKeys().then(
      (keys) => {
        this.polling = false;
        if (keys !== this.lastKeys) this.schedule();
      },
      () => {
        this.polling = false; // a file missing for a moment (mid-rename): the set in force stays
      },
    );
  }

  private async statKeys(): Promise<string> {
    const parts: string[] = [];
    for (const p of PARTS) {
      const path = this.o.paths[p];
      if (path === undefined) continue;
      const s = await stat(path);
      parts.push(`${s.ino}:${s.size}:${s.mtimeMs}:${s.mode}`);
    }
    return parts.join('|');
  }

  private schedule(): void {
    this.loader.schedule();
  }

  private async read(): Promise<TlsMaterialText> {
    const { cert, key, ca, passphrase } = this.o.paths;
    const text = async (path: string | undefined, part: Part): Promise<string | undefined> => {
      if (path === undefined) return undefined;
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw unreadableFile(keyName(this.o.what, part), path, err);
      }
    };
    return {
      cert: await text(cert, 'cert'),
      // Small files, read rarely; the same 0600 rule as at start (util/private-file.ts).
      key: key !== undefined ? readPrivateFile(key, keyName(this.o.what, 'key')).toString('utf8') : undefined,
      passphrase: passphrase !== undefined ? readSecretFile(passphrase, keyName(this.o.what, 'passphrase')) : undefined,
      ca: await text(ca, 'ca'),
    };
  }

  private async loadOnce(): Promise<void> {
    if (this.stopped) return;
    let keys: string;
    try {
      keys = await this.statKeys();
    } catch {
      return; // missing for a moment during a rename: its own event brings us back
    }
    if (keys === this.lastKeys) return;
    this.lastKeys = keys;
    this.lastAttempt = Date.now();
    let next: TlsMaterialText;
    let leaf;
    try {
      next = await this.read();
    } catch (err) {
      this.refusedWith(err, keys);
      return;
    }
    if (PARTS.every((p) => next[p] === this.inForce[p])) {
      this.refused = undefined;
      return;
    }
    try {
      leaf = checkTlsMaterial(next, { cert: keyName(this.o.what, 'cert'), key: keyName(this.o.what, 'key'), ca: keyName(this.o.what, 'ca') }, { inForce: leafSummary(this.inForce.cert) }).leaf;
    } catch (err) {
      // Files read whole are told apart by what they hold, not by their stat: a stat taken while
      // a file was being written differs from the next one, and one refused set warns once.
      this.refusedWith(err, contentSignature(next));
      return;
    }
    if (this.stopped) return;
    try {
      this.o.apply(next);
    } catch (err) {
      this.refusedWith(new PgmoatError('TLS_RELOAD_FAILED', `${this.o.what}: the new files could not be put in force: ${errorMessage(err)}`, { cause: err }), keys);
      return;
    }
    const changed = PARTS.filter((p) => next[p] !== this.inForce[p]);
    this.inForce = next;
    this.refused = undefined;
    this.o.log.info(
      {
        event: 'tls_files_reloaded',
        what: this.o.what,
        changed,
        ...(leaf ? { fingerprint256: leaf.fingerprint256, serial: leaf.serial, not_after: leaf.notAfter.toISOString(), subject: leaf.subject } : {}),
      },
      `${this.o.what}: new TLS files in force for new connections (${changed.join(', ')})`,
    );
  }

  /** `state` tells this set of files from another (their stat, or what they hold). */
  private refusedWith(err: unknown, state: string): void {
    const code = isPgmoatError(err) ? err.code : 'TLS_RELOAD_FAILED';
    const reason = errorMessage(err);
    const signature = `${code}\0${reason}\0${state}`;
    if (signature === this.refused) return;
    this.refused = signature;
    // A pair caught between its two writes, or a file being written, is the normal course of a
    // rotation: a warning; so is a certificate not valid yet (it is loaded once valid). An expired
    // or older certificate, or a key others can read, is not.
    const serious = code === 'TLS_CERT_EXPIRED' || code === 'TLS_CERT_ROLLBACK' || code === 'KEY_PERMISSIONS' || code === 'TLS_RELOAD_FAILED';
    const fields = { event: 'tls_reload_refused', what: this.o.what, code, reason };
    const message =
      code === 'TLS_CERT_NOT_YET_VALID'
        ? `${this.o.what}: the certificate on disk is not valid yet; the set in force stays until it is`
        : `${this.o.what}: the TLS files on disk were not loaded; the set in force stays`;
    if (serious) this.o.log.error(fields, message);
    else this.o.log.warn(fields, message);
  }
}

/** What a set of files holds, for telling one refused set from another. */
function contentSignature(m: TlsMaterialText): string {
  const h = createHash('sha256');
  for (const p of PARTS) h.update(m[p] ?? '').update('\0');
  return h.digest('hex');
}
