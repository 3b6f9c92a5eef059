/**
 * The CA's inventory in PostgreSQL (schema in store-schema.ts): connecting with a bounded wait,
 * reading the inventory back as the same Inventory the JSON file gives, and writing only what a
 * transaction changed, with a NOTIFY for each serial it revoked. `pg` is loaded on first use, so
 * commands on a directory without a store never load it.
 */
import type { Client, ClientConfig } from 'pg';
import { PgmoatError } from '../util/errors.js';
import { readSecretFile } from '../util/private-file.js';
import { normalizeSerial } from '../util/serial.js';
import * as x509 from './x509.js';
import type { AdoptedRevocation, Inventory, InventoryEntry } from './inventory.js';
import { sansOfCertificate } from './san.js';
import { redactUrl, type StorePointer } from './store-pointer.js';
import { applyStoreSchema, checkSchemaVersion, REVOCATION_CHANNEL, STORE_LOCK_KEY } from './store-schema.js';

/** How long a connection attempt may take before the command gives up (no hang on a dead host). */
const CONNECT_TIMEOUT_MS = 10_000;
/** Any one statement, the advisory lock wait included: a store that stops answering ends the command. */
const STATEMENT_TIMEOUT_MS = 60_000;

export interface StoreConnection {
  /** The URL with its password replaced by ***: the only form printed or logged. */
  readonly where: string;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

function reasonOf(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const msg = e.message && e.message !== '' ? e.message : (e.code ?? String(err));
  return e.code && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}

/** libpq's connect_timeout (seconds) from the URL when it sets a positive one; 0 (wait forever) is not honoured. */
function connectTimeoutOf(url: string): number {
  let seconds = NaN;
  try {
    seconds = Number(new URL(url).searchParams.get('connect_timeout') ?? NaN);
  } catch {
    // checked elsewhere
  }
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : CONNECT_TIMEOUT_MS;
}

/** Opens one connection to the store. Unreachable, refused or rejected logins: STORE_UNREACHABLE. */
export async function connectStore(pointer: StorePointer, opts: { connectTimeoutMs?: number } = {}): Promise<StoreConnection> {
  const where = redactUrl(pointer.url);
  const password = pointer.password_file === undefined ? undefined : readSecretFile(pointer.password_file, 'store password file');
  const { default: pg } = await import('pg');
  const config: ClientConfig = {
    connectionString: pointer.url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? connectTimeoutOf(pointer.url),
    query_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'pgmoat-ca',
  };
  const client: Client = new pg.Client(config);
  // pg reads the URL after the config, so a password given here must be set on the client itself.
  if (password !== undefined) client.password = password;
  // An error on an idle connection (the server went away) must not crash the process: the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new PgmoatError('STORE_UNREACHABLE', `cannot reach the pgmoat store at ${where}: ${reasonOf(err)}`, {
      hint: 'check the URL and credentials recorded in the CA directory (store.json) and that the server is up; nothing was changed',
    });
  }
  return {
    where,
    async query(text, values) {
      try {
        return await client.query(text, values);
      } catch (err) {
        throw new PgmoatError('STORE_FAILED', `the pgmoat store at ${where} failed: ${reasonOf(err)}`, { cause: err });
      }
    },
    async end() {
      await client.end().catch(() => undefined);
    },
  };
}

/** Runs `work` on a fresh connection and closes it whatever happens. */
export async function withStore<T>(pointer: StorePointer, work: (db: StoreConnection) => Promise<T>): Promise<T> {
  const db = await connectStore(pointer);
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

const iso = (v: unknown): string => (v as Date).toISOString();
const isoOrUndefined = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : iso(v));
const textOrUndefined = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

function entryFromRow(r: Record<string, unknown>): InventoryEntry {
  const e: InventoryEntry = {
    name: String(r['identity']),
    environment: String(r['environment']),
    kind: r['kind'] as InventoryEntry['kind'],
    serial: String(r['serial']),
    status: r['status'] as InventoryEntry['status'],
    notBefore: iso(r['not_before']),
    notAfter: iso(r['not_after']),
    fingerprint256: String(r['fingerprint256']),
    certificate: String(r['pem']),
  };
  const revokedAt = isoOrUndefined(r['revoked_at']);
  if (revokedAt !== undefined) e.revokedAt = revokedAt;
  const reason = textOrUndefined(r['reason']);
  if (reason !== undefined) e.reason = reason as NonNullable<InventoryEntry['reason']>;
  const supersededBy = textOrUndefined(r['superseded_by']);
  if (supersededBy !== undefined) e.supersededBy = supersededBy;
  const supersededAt = isoOrUndefined(r['superseded_at']);
  if (supersededAt !== undefined) e.supersededAt = supersededAt;
  return e;
}

function authorityKeyId(pem: string): string {
  try {
    return new x509.X509Certificate(pem).getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId ?? '';
  } catch {
    return '';
  }
}

const CERT_COLUMNS = 'serial, authority_key_id, kind, identity, environment, sans, status, reason, not_before, not_after, revoked_at, issued_at, superseded_by, superseded_at, fingerprint256, pem';

function rowValues(e: InventoryEntry, issuedAt: Date): unknown[] {
  return [
    e.serial,
    authorityKeyId(e.certificate),
    e.kind,
    e.name,
    e.environment,
    JSON.stringify(sansOfCertificate(e.certificate)),
    e.status,
    e.reason ?? null,
    e.notBefore,
    e.notAfter,
    e.revokedAt ?? null,
    issuedAt,
    e.supersededBy ?? null,
    e.supersededAt ?? null,
    e.fingerprint256,
    e.certificate,
  ];
}

const INSERT_CERT = `insert into pgmoat.certificates (${CERT_COLUMNS}) values ($1,$2,$3,$4,$5,$6::jsonb,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`;
// What a transaction may change on a recorded certificate: its standing, never its identity or PEM.
const UPDATE_CERT = 'update pgmoat.certificates set status = $2, reason = $3, revoked_at = $4, superseded_by = $5, superseded_at = $6 where serial = $1';

export interface CaState {
  crlNumber: number;
  crlDays: number;
  caFingerprint256: string;
}

export async function readCaState(db: StoreConnection): Promise<CaState | undefined> {
  const { rows } = await db.query('select crl_number, crl_days, ca_fingerprint256 from pgmoat.ca_state where id = 1');
  const r = rows[0];
  if (!r) return undefined;
  return { crlNumber: Number(r['crl_number']), crlDays: Number(r['crl_days']), caFingerprint256: String(r['ca_fingerprint256']) };
}

export function otherCaError(db: StoreConnection, dir: string): PgmoatError {
  return new PgmoatError('STORE_OTHER_CA', `the pgmoat store at ${db.where} holds the inventory of another CA than ${dir} (ca.crt's fingerprint differs); one store holds one CA`);
}

/**
 * The whole inventory of the store, in the order it was recorded. Refuses a store of another CA,
 * and one that holds no CA yet (a pointer to an empty store: the directory's inventory is elsewhere).
 */
export async function readStoreInventory(db: StoreConnection, caFingerprint: string, dir: string): Promise<Inventory> {
  const version = await checkSchemaVersion(db, db.where);
  const state = version === undefined ? undefined : await readCaState(db);
  if (!state) {
    throw new PgmoatError('STORE_FAILED', `the pgmoat store at ${db.where} holds no CA inventory, yet ${dir}/store.json points at it; run pgmoat ca migrate --to URL --dir ${dir} again, or restore inventory.json from inventory.json.migrated and remove store.json`);
  }
  if (state.caFingerprint256 !== caFingerprint) throw otherCaError(db, dir);
  const certs = await db.query(`select ${CERT_COLUMNS} from pgmoat.certificates order by seq`);
  const adopted = await db.query('select serial, revoked_at, reason from pgmoat.adopted_revocations order by serial');
  const inv: Inventory = {
    version: 1,
    crlNumber: state.crlNumber,
    crlDays: state.crlDays,
    certificates: certs.rows.map(entryFromRow),
  };
  if (adopted.rows.length > 0) {
    inv.adoptedRevocations = adopted.rows.map((r) => {
      const a: AdoptedRevocation = { serial: String(r['serial']), revokedAt: iso(r['revoked_at']) };
      const reason = textOrUndefined(r['reason']);
      if (reason !== undefined) a.reason = reason as NonNullable<AdoptedRevocation['reason']>;
      return a;
    });
  }
  return inv;
}

/**
 * Starts the store's side of a CA transaction: BEGIN, the store lock (held to COMMIT), and the
 * inventory as it is now.
 */
export async function beginStoreTransaction(db: StoreConnection, caFingerprint: string, dir: string): Promise<Inventory> {
  await db.query('begin');
  await db.query(`select pg_advisory_xact_lock(${STORE_LOCK_KEY})`);
  return readStoreInventory(db, caFingerprint, dir);
}

/**
 * Writes what the transaction changed between `before` and `after` (by serial), the CRL state,
 * and a NOTIFY on REVOCATION_CHANNEL for every serial that became revoked: delivered at COMMIT,
 * never for a transaction that rolls back. Returns the serials announced.
 */
export async function writeStoreChanges(db: StoreConnection, before: Inventory, after: Inventory, now: Date): Promise<string[]> {
  const was = new Map(before.certificates.map((e) => [e.serial, e]));
  const revoked: string[] = [];
  for (const e of after.certificates) {
    const prev = was.get(e.serial);
    if (!prev) {
      await db.query(INSERT_CERT, rowValues(e, now));
    } else if (JSON.stringify(prev) !== JSON.stringify(e)) {
      await db.query(UPDATE_CERT, [e.serial, e.status, e.reason ?? null, e.revokedAt ?? null, e.supersededBy ?? null, e.supersededAt ?? null]);
    }
    if (e.status === 'revoked' && prev?.status !== 'revoked') revoked.push(e.serial);
  }
  const adoptedBefore = new Set((before.adoptedRevocations ?? []).map((a) => a.serial));
  for (const a of after.adoptedRevocations ?? []) {
    if (adoptedBefore.has(a.serial)) continue;
    await db.query('insert into pgmoat.adopted_revocations (serial, revoked_at, reason) values ($1, $2, $3) on conflict (serial) do nothing', [a.serial, a.revokedAt, a.reason ?? null]);
    revoked.push(a.serial);
  }
  if (after.crlNumber !== before.crlNumber || after.crlDays !== before.crlDays) {
    await db.query('update pgmoat.ca_state set crl_number = $1, crl_days = $2 where id = 1', [after.crlNumber, after.crlDays]);
  }
  for (const serial of revoked) await db.query('select pg_notify($1, $2)', [REVOCATION_CHANNEL, normalizeSerial(serial)]);
  return revoked;
}

/** The same inventory whatever store it came through: for comparing a directory's with a store's. */
export function canonicalInventory(inv: Inventory): string {
  const sortKeys = (o: object): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  const time = (s: string | undefined): string | undefined => (s === undefined ? undefined : new Date(s).toISOString());
  return JSON.stringify({
    crlNumber: inv.crlNumber,
    crlDays: inv.crlDays,
    certificates: inv.certificates.map((e) =>
      sortKeys({ ...e, serial: normalizeSerial(e.serial), notBefore: time(e.notBefore), notAfter: time(e.notAfter), revokedAt: time(e.revokedAt), supersededAt: time(e.supersededAt) }),
    ),
    adopted: [...(inv.adoptedRevocations ?? [])].map((a) => sortKeys({ ...a, serial: normalizeSerial(a.serial), revokedAt: time(a.revokedAt) })).sort((a, b) => String(a['serial']).localeCompare(String(b['serial']))),
  });
}

/**
 * Copies a whole inventory into an empty store, in one transaction with the store lock; refuses
 * a store that holds another CA, or this CA's rows when they differ from `inv`. Returns false when
 * the store already held exactly this inventory (a migrate run again after a crash).
 */
export async function copyInventoryToStore(db: StoreConnection, inv: Inventory, caFingerprint: string, dir: string): Promise<boolean> {
  await applyStoreSchema(db, db.where);
  await db.query('begin');
  try {
    await db.query(`select pg_advisory_xact_lock(${STORE_LOCK_KEY})`);
    const state = await readCaState(db);
    if (state) {
      if (state.caFingerprint256 !== caFingerprint) throw otherCaError(db, dir);
      const held = await readStoreInventory(db, caFingerprint, dir);
      if (canonicalInventory(held) !== canonicalInventory(inv)) {
        throw new PgmoatError(
          'STORE_NOT_EMPTY',
          `the pgmoat store at ${db.where} already holds this CA's inventory and it differs from ${dir}/inventory.json (${held.certificates.length} certificate(s) there, ${inv.certificates.length} here); nothing was changed`,
          { hint: 'the directory may have been migrated before and used since: point store.json at the store, or migrate into an empty database' },
        );
      }
      await db.query('rollback');
      return false;
    }
    const { rows } = await db.query('select (select count(*) from pgmoat.certificates) + (select count(*) from pgmoat.adopted_revocations) as n');
    if (Number(rows[0]?.['n'] ?? 0) > 0) {
      throw new PgmoatError('STORE_NOT_EMPTY', `the pgmoat store at ${db.where} holds certificates but no CA state; refusing to mix inventories (migrate into an empty database)`);
    }
    await db.query('insert into pgmoat.ca_state (id, crl_number, crl_days, ca_fingerprint256) values (1, $1, $2, $3)', [inv.crlNumber, inv.crlDays, caFingerprint]);
    // The moment each certificate was recorded is not kept in inventory.json: its notBefore is the closest.
    for (const e of inv.certificates) await db.query(INSERT_CERT, rowValues({ ...e, serial: normalizeSerial(e.serial) }, new Date(e.notBefore)));
    for (const a of inv.adoptedRevocations ?? []) {
      await db.query('insert into pgmoat.adopted_revocations (serial, revoked_at, reason) values ($1, $2, $3)', [normalizeSerial(a.serial), a.revokedAt, a.reason ?? null]);
    }
    await db.query('commit');
    return true;
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    throw err;
  }
}
