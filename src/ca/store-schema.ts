/**
 * The PostgreSQL store of a CA's inventory and revocations: its schema, the SQL the gateways read
 * revocations with, and the NOTIFY channel a revocation is announced on. The CA (postgres-store.ts)
 * writes it; the gateway's revocation source only reads it. No `pg` import here: both sides pass
 * their own client, so this file costs nothing to load.
 */
import { PgmoatError } from '../util/errors.js';

/** The version of the schema below; a store with a higher one was made by a newer pgmoat. */
export const STORE_SCHEMA_VERSION = 1;

/** The schema's name is fixed: a database holds at most one pgmoat store. */
export const STORE_SCHEMA = 'pgmoat';

/** Sent inside the transaction that revokes (so delivered at commit); payload = the canonical serial. */
export const REVOCATION_CHANNEL = 'pgmoat_revocations';

/**
 * The advisory lock key every writer of the store takes (pg_advisory_xact_lock) for its whole
 * transaction: the store's counterpart of the CA directory lock. Any fixed 64-bit value would do;
 * this is 'pgmoat' in ASCII.
 */
export const STORE_LOCK_KEY = '0x70676d6f6174';

/**
 * Every statement is idempotent, so applying the schema again (a second migrate, a second
 * gateway) changes nothing. Serials are canonical hex (util/serial.ts); `identity` is the
 * certificate's name in the inventory (its CN); `sans` a JSON array of strings; `status` is
 * 'valid' or 'revoked'; `reason` an RFC 5280 reason name as `pgmoat revoke --reason` takes it,
 * null when unspecified.
 */
export const STORE_SCHEMA_SQL = `
create schema if not exists pgmoat;
create table if not exists pgmoat.store_meta (
  id int primary key check (id = 1),
  schema_version int not null
);
create table if not exists pgmoat.certificates (
  serial text primary key,
  authority_key_id text not null,
  kind text not null check (kind in ('client', 'server')),
  identity text not null,
  environment text not null,
  sans jsonb not null default '[]',
  status text not null check (status in ('valid', 'revoked')),
  reason text,
  not_before timestamptz not null,
  not_after timestamptz not null,
  revoked_at timestamptz,
  issued_at timestamptz not null,
  superseded_by text,
  superseded_at timestamptz,
  fingerprint256 text not null,
  pem text not null
);
create index if not exists certificates_revoked on pgmoat.certificates (serial) where status = 'revoked';
create table if not exists pgmoat.adopted_revocations (
  serial text primary key,
  revoked_at timestamptz not null,
  reason text
);
create table if not exists pgmoat.ca_state (
  id int primary key check (id = 1),
  crl_number bigint not null,
  crl_days int not null,
  ca_fingerprint256 text not null
);
insert into pgmoat.store_meta (id, schema_version) values (1, ${STORE_SCHEMA_VERSION}) on conflict (id) do nothing;
`;

/** Every revoked serial of the store (certificates it issued, and revocations adopted from a former CA). */
export const REVOKED_LIST_SQL = `select serial, revoked_at, reason from pgmoat.certificates where status = 'revoked'
union all select serial, revoked_at, reason from pgmoat.adopted_revocations`;

/** REVOKED_LIST_SQL for one serial ($1, canonical): no row when it is not revoked. */
export const REVOKED_ONE_SQL = `select serial, revoked_at, reason from pgmoat.certificates where status = 'revoked' and serial = $1
union all select serial, revoked_at, reason from pgmoat.adopted_revocations where serial = $1`;

/** The schema version of the store, or undefined when the database has no pgmoat store yet. */
export const SCHEMA_VERSION_SQL = `select case when to_regclass('pgmoat.store_meta') is null then null
  else (select schema_version from pgmoat.store_meta where id = 1) end as version`;

/** What both pg's Client and PoolClient offer; enough to apply and check the schema. */
export interface StoreQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Refuses a store whose schema is newer than this pgmoat's: it may hold rows or rules this
 * version would not keep. Returns the version found (undefined: no store yet).
 */
export async function checkSchemaVersion(db: StoreQueryable, where: string): Promise<number | undefined> {
  const { rows } = await db.query(SCHEMA_VERSION_SQL);
  const v = rows[0]?.['version'];
  if (v === null || v === undefined) return undefined;
  const version = Number(v);
  if (version > STORE_SCHEMA_VERSION) {
    throw new PgmoatError(
      'STORE_SCHEMA_NEWER',
      `the pgmoat store at ${where} has schema version ${version}, this pgmoat knows version ${STORE_SCHEMA_VERSION}; upgrade pgmoat`,
    );
  }
  return version;
}

/**
 * Creates the schema when missing (idempotent). Runs in its own transaction under the store
 * lock, so two processes applying it at once do not race on `create schema`.
 */
export async function applyStoreSchema(db: StoreQueryable, where: string): Promise<void> {
  await db.query('begin');
  try {
    await db.query(`select pg_advisory_xact_lock(${STORE_LOCK_KEY})`);
    await checkSchemaVersion(db, where);
    await db.query(STORE_SCHEMA_SQL);
    await db.query('commit');
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    throw err;
  }
}
