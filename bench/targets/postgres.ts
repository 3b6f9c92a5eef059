/**
 * The upstream for every target: one throwaway PostgreSQL (test/harness/postgres.ts) with TLS
 * and certificate login for role `bench` over TLS, trust over plain TCP on loopback (what the
 * poolers use upstream), and the pgbench tables.
 */
import { startPostgres, type PgServer } from '../../test/harness/postgres.js';
import type { Pki } from '../../test/harness/cert-factory.js';

export const BENCH_ROLE = 'bench';
export const BENCH_DB = 'bench';

const HBA = [
  'local all all trust',
  // Direct TLS: the client certificate's CN is the role, as with the poolers (verify-full).
  `hostssl ${BENCH_DB} ${BENCH_ROLE} 127.0.0.1/32 cert`,
  'hostnossl all all 127.0.0.1/32 trust',
  '',
].join('\n');

export async function startBenchPostgres(pki: Pki, maxConnections: number): Promise<PgServer> {
  return startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: HBA,
    settings: {
      max_connections: maxConnections,
      // The pgbench tables (scale 10: ~160 MB) stay in shared buffers.
      shared_buffers: '512MB',
    },
    setupSql: `CREATE ROLE ${BENCH_ROLE} LOGIN; CREATE DATABASE ${BENCH_DB} OWNER ${BENCH_ROLE};`,
  });
}

export function postgresVersion(pg: PgServer): string {
  return pg.sql('SHOW server_version');
}
