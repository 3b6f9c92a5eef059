/**
 * Revocations from the CA's PostgreSQL store (`ca.store` in pgmoat.yaml) as a RevocationSource:
 * one connection that LISTENs on the revocation channel, so that a `pgmoat revoke` on any host
 * reaches every gateway within a round trip.
 *
 * - Order on every (re)connect: LISTEN first, then read the whole revoked list. A revocation
 *   committed while the gateway was away is in that read; one committed after it arrives as a
 *   NOTIFY. Nothing falls between the two.
 * - A NOTIFY is only a hint (anyone who can connect may send one): the serial it names is looked
 *   up in the table, and only a revoked row there counts.
 * - The list only grows while the process runs: a row that disappears or turns valid again is
 *   not un-revoked (trust material never moves backwards; a restart reads the store afresh).
 * - While the store is unreachable the list last read stays enforced; the source reconnects with
 *   backoff, and its freshness (thisUpdate = when the list was last known complete) ages, which
 *   /metrics shows and a warn line repeats.
 * - A store that stops answering without closing is found by a check query with a deadline.
 */
import type { Logger } from 'pino';
import type { Client, Notification } from 'pg';
import { REVOCATION_CHANNEL, REVOKED_LIST_SQL, REVOKED_ONE_SQL } from '../ca/store-schema.js';
import { errorMessage } from '../util/errors.js';
import { normalizeSerial, parseSerial } from '../util/serial.js';
import { isRevocationReason } from './revocation-list.js';
import type { Revocation, RevocationFreshness, RevocationListener, RevocationSource } from './source.js';

export interface StoreSourceSettings {
  /** The connection string; may hold a password, so it is never logged (`where` is). */
  readonly url: string;
  /** The URL with its password replaced: the only form that goes into log lines. */
  readonly where: string;
  /** `ca.password_file`: a reload that changes it (or the URL) gets a new source. */
  readonly passwordFile: string | undefined;
  /** Read at every connection attempt (a password_file may be rotated); undefined: the URL's, PGPASSWORD or ~/.pgpass. */
  readonly password: () => string | undefined;
}

/** Connecting, the check and each query may take this long before the connection counts as lost. */
const STORE_TIMEOUT_MS = 5_000;
/** How often a live connection is checked (a store that stops answering without closing). */
const CHECK_INTERVAL_MS = 5_000;
/** How often the whole list is read again while connected (a NOTIFY lost inside PostgreSQL). */
const RESYNC_INTERVAL_MS = 60_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** How often the warning about an unreachable store is repeated. */
const STALE_WARNING_INTERVAL_MS = 30_000;

type State = 'stopped' | 'connecting' | 'live' | 'down';


function revocationOf(row: Record<string, unknown>): Revocation | undefined {
  const serial = typeof row['serial'] === 'string' ? normalizeSerial(row['serial']) : undefined;
  if (!serial) return undefined;
  const at = row['revoked_at'];
  const reason = row['reason'];
  return {
    serial,
    revokedAt: at instanceof Date ? at : undefined,
    reason: isRevocationReason(reason) ? reason : undefined,
  };
}

export class StoreRevocationSource implements RevocationSource {
  readonly name = 'store';
  private readonly revoked = new Map<string, Revocation>();
  private readonly listeners = new Set<RevocationListener>();
  private state: State = 'stopped';
  private client: Client | undefined;
  /** Bumped at every connection attempt: events of an older client are ignored. */
  private generation = 0;
  /** When the list was last known complete (a full read, or a passed check while LISTENing). */
  private confirmedAt: number | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private nextAttemptAt = 0;
  private nextCheckAt = 0;
  private nextResyncAt = 0;
  private checking = false;
  private lostAt: number | undefined;
  private lastStaleWarning = 0;

  constructor(
    readonly settings: StoreSourceSettings,
    private readonly log: Logger,
  ) {}

  /** Whether the LISTEN connection is up and its list read (for tests and /metrics). */
  get live(): boolean {
    return this.state === 'live';
  }

  lookup(serial: string): Revocation | undefined {
    return this.revoked.get(serial);
  }

  serials(): Iterable<string> {
    return this.revoked.keys();
  }

  freshness(now: number): RevocationFreshness | undefined {
    if (this.state === 'stopped' && this.confirmedAt === undefined) return undefined;
    // While live the list is current now; else as of the last moment it was known complete (never: undefined).
    const current = this.state === 'live' ? now : this.confirmedAt;
    return {
      source: this.name,
      thisUpdate: current === undefined ? undefined : new Date(current),
      nextUpdate: undefined,
      loadedAt: this.confirmedAt,
      sequence: [],
      revokedCount: this.revoked.size,
      connected: this.state === 'live',
    };
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.state !== 'stopped') return;
    void this.connect();
  }

  stop(): void {
    this.state = 'stopped';
    this.generation++;
    this.drop();
  }

  poll(now: number): void {
    if (this.state === 'down' && now >= this.nextAttemptAt) void this.connect();
    else if (this.state === 'live' && !this.checking && now >= this.nextCheckAt) void this.check(now);
    if (this.state !== 'live' && this.state !== 'stopped' && this.lostAt !== undefined && now - this.lastStaleWarning >= STALE_WARNING_INTERVAL_MS) {
      this.lastStaleWarning = now;
      const age = this.confirmedAt === undefined ? undefined : Math.round((now - this.confirmedAt) / 1000);
      this.log.warn(
        { event: 'revocation_store_stale', store: this.settings.where, age_seconds: age, revoked: this.revoked.size },
        age === undefined ? 'revocation store unreachable: no list read from it yet' : `revocation store unreachable: enforcing the list read ${age}s ago`,
      );
    }
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.state = 'connecting';
    this.drop();
    let client: Client | undefined;
    try {
      const { default: pg } = await import('pg');
      if (gen !== this.generation) return;
      client = new pg.Client({
        connectionString: this.settings.url,
        connectionTimeoutMillis: STORE_TIMEOUT_MS,
        query_timeout: STORE_TIMEOUT_MS,
        keepAlive: true,
        application_name: 'pgmoat-revocations',
      });
      const password = this.settings.password();
      if (password !== undefined) client.password = password;
      this.client = client;
      const c = client;
      c.on('error', (err: Error) => this.lost(gen, err));
      c.on('end', () => this.lost(gen, new Error('the connection was closed')));
      c.on('notification', (n: Notification) => this.hint(gen, c, n));
      await c.connect();
      await c.query(`LISTEN ${REVOCATION_CHANNEL}`);
      await this.readAll(gen, c, Date.now());
      if (gen !== this.generation) return;
      this.state = 'live';
      this.backoffMs = BACKOFF_MIN_MS;
      const now = Date.now();
      this.nextCheckAt = now + CHECK_INTERVAL_MS;
      this.nextResyncAt = now + RESYNC_INTERVAL_MS;
      const gap = this.lostAt === undefined ? undefined : Math.round((now - this.lostAt) / 100) / 10;
      this.lostAt = undefined;
      this.log.info({ event: 'revocation_store_listening', store: this.settings.where, revoked: this.revoked.size, gap_seconds: gap }, 'listening for revocations from the CA store');
    } catch (err) {
      this.lost(gen, err);
    }
  }

  /** Reads the whole revoked list; serials new to this process are revoked from now on. */
  private async readAll(gen: number, client: Client, startedAt: number): Promise<void> {
    const { rows } = await client.query<Record<string, unknown>>(REVOKED_LIST_SQL);
    if (gen !== this.generation) return;
    const added: Revocation[] = [];
    for (const row of rows) {
      const r = revocationOf(row);
      if (r && !this.revoked.has(r.serial)) added.push(r);
    }
    // The read began after LISTEN: the list was complete as of the moment it was asked for.
    this.confirmedAt = startedAt;
    this.add(added);
  }

  private hint(gen: number, client: Client, n: Notification): void {
    if (gen !== this.generation || n.channel !== REVOCATION_CHANNEL) return;
    const serial = parseSerial(n.payload ?? '');
    // A payload that names no serial is not pgmoat's: read the whole list rather than guess.
    const read = serial
      ? client.query<Record<string, unknown>>(REVOKED_ONE_SQL, [serial]).then(({ rows }) => {
          if (gen !== this.generation) return;
          const found = rows.map(revocationOf).filter((r): r is Revocation => r !== undefined && !this.revoked.has(r.serial));
          this.add(found);
        })
      : this.readAll(gen, client, Date.now());
    read.catch((err: unknown) => this.lost(gen, err));
  }

  private async check(now: number): Promise<void> {
    const gen = this.generation;
    const client = this.client;
    if (!client) return;
    this.checking = true;
    try {
      if (now >= this.nextResyncAt) {
        await this.readAll(gen, client, now);
        this.nextResyncAt = now + RESYNC_INTERVAL_MS;
      } else {
        await client.query('select 1');
        if (gen === this.generation) this.confirmedAt = now;
      }
      this.nextCheckAt = Date.now() + CHECK_INTERVAL_MS;
    } catch (err) {
      this.lost(gen, err);
    } finally {
      this.checking = false;
    }
  }

  private add(added: readonly Revocation[]): void {
    if (added.length === 0) return;
    for (const r of added) this.revoked.set(r.serial, r);
    const publishedAt = Math.min(...added.map((r) => r.revokedAt?.getTime() ?? Date.now()));
    this.log.info({ event: 'revocation_store_revoked', serials: added.map((r) => r.serial) }, `revoked by the CA store: ${added.map((r) => r.serial).join(', ')}`);
    const change = { source: this.name, added: added.map((r) => r.serial), removed: [], publishedAt };
    for (const l of [...this.listeners]) l(change);
  }

  private lost(gen: number, err: unknown): void {
    if (gen !== this.generation || this.state === 'stopped' || this.state === 'down') return;
    const was = this.state;
    this.state = 'down';
    this.drop();
    const now = Date.now();
    this.nextAttemptAt = now + this.backoffMs;
    this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    const first = this.lostAt === undefined;
    this.lostAt ??= now;
    // One warn line per outage (and the stale warning every 30 s); further failed attempts at debug.
    const fields = { event: was === 'live' ? 'revocation_store_lost' : 'revocation_store_unreachable', store: this.settings.where, reason: errorMessage(err), retry_ms: this.nextAttemptAt - now };
    if (first) {
      this.lastStaleWarning = now;
      this.log.warn(fields, 'revocation store connection lost: the last list read stays enforced; reconnecting');
    } else this.log.debug(fields, 'revocation store still unreachable');
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    client.removeAllListeners('end');
    // A late error from the dropped client must still have a listener.
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    // end() waits for the server's goodbye; a server that stopped answering never says it.
    void client.end().catch(() => undefined);
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    setTimeout(() => stream?.destroy(), STORE_TIMEOUT_MS).unref();
  }
}
