/**
 * What every scenario works with: the options, the certificates, and one column per target,
 * each knowing how a client reaches it and which processes to measure.
 */
import type { BenchOptions } from '../options.js';
import type { Cell } from '../report/model.js';
import type { ClientFiles, Pki } from '../../test/harness/cert-factory.js';
import type { PgServer } from '../../test/harness/postgres.js';
import type { TargetFiles } from '../load/client-proc.js';
import type { RunningPooler } from '../targets/pooler.js';
import { BENCH_DB, BENCH_ROLE } from '../targets/postgres.js';

export interface BenchColumn {
  id: string;
  label: string;
  kind: 'direct-plain' | 'direct-tls' | 'pooler';
  /** Why this column has no figures at all (e.g. pgmoat without --workers). */
  unavailable?: string;
  /** The running pooler (replaced by restart()). */
  pooler?: RunningPooler;
  /** Stops the pooler and starts a fresh one (the idle-memory scenario wants a clean process). */
  restart?: () => Promise<void>;
  /** The scenarios this column is measured in (all when absent); in the others it is n/a with `onlyReason`. */
  only?: readonly string[];
  onlyReason?: string;
  /** Wraps each pgbench cell of this column (warm-up and measured runs), e.g. someone watching the dashboard meanwhile. */
  around?: (run: () => Promise<Cell>) => Promise<Cell>;
}

/** The columns as a scenario sees them: a column limited to other scenarios (`only`) is unavailable there. */
export function columnsFor(columns: readonly BenchColumn[], scenario: string): BenchColumn[] {
  return columns.map((c) => (c.only && !c.only.includes(scenario) ? { ...c, unavailable: c.onlyReason ?? 'not measured in this scenario' } : c));
}

export interface BenchContext {
  opts: BenchOptions;
  pki: Pki;
  client: ClientFiles;
  pg: PgServer;
  pgbenchBin: string;
  columns: BenchColumn[];
  /** Progress lines (stderr). */
  progress(line: string): void;
  /**
   * Transactions (pgbench, warm-ups included) and sessions (handshake runs) each column served,
   * to put a CPU profile's time per unit of work.
   */
  served: Map<string, number>;
}

export function countServed(ctx: BenchContext, col: BenchColumn, n: number | undefined): void {
  if (n) ctx.served.set(col.id, (ctx.served.get(col.id) ?? 0) + n);
}

function port(ctx: BenchContext, col: BenchColumn): number {
  if (col.kind === 'pooler') {
    if (!col.pooler) throw new Error(`${col.label} is not running`);
    return col.pooler.port;
  }
  return ctx.pg.port;
}

/** libpq conninfo for pgbench: plain for direct-plain, verify-full with the client certificate otherwise. */
export function conninfo(ctx: BenchContext, col: BenchColumn): string {
  const base = `host=127.0.0.1 port=${port(ctx, col)} dbname=${BENCH_DB} user=${BENCH_ROLE} gssencmode=disable`;
  if (col.kind === 'direct-plain') return `${base} sslmode=disable`;
  return `${base} sslmode=verify-full sslcert=${ctx.client.certPath} sslkey=${ctx.client.keyPath} sslrootcert=${ctx.pki.main.caPath}`;
}

/** The same target for the Node load generators (mutual TLS only). */
export function targetFiles(ctx: BenchContext, col: BenchColumn): TargetFiles {
  return {
    host: '127.0.0.1',
    port: port(ctx, col),
    user: BENCH_ROLE,
    database: BENCH_DB,
    certPath: ctx.client.certPath,
    keyPath: ctx.client.keyPath,
    caPath: ctx.pki.main.caPath,
    servername: 'localhost',
  };
}

export function poolerPids(col: BenchColumn): number[] {
  return col.pooler ? col.pooler.pids() : [];
}
