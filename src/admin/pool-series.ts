/**
 * Per-pool series, computed at scrape time from the pools' collections and counters. Labels are
 * the pool key: `database` (the name clients ask for) and `user` (the upstream role).
 */
import type { Pool } from '../pool/pool.js';
import { ScrapeMetric, histogramSamples, type Labels, type Sample } from './scrape-metric.js';

function labelsOf(p: Pool): Labels {
  return { database: p.database, user: p.role };
}

function perPool(pools: () => Iterable<Pool>, value: (p: Pool) => number): () => Sample[] {
  return () => {
    const out: Sample[] = [];
    for (const p of pools()) out.push({ labels: labelsOf(p), value: value(p) });
    return out;
  };
}

/** Per-pool samples split by one more label: `values` gives each of its values and the number. */
function perPoolBy(pools: () => Iterable<Pool>, label: string, values: (p: Pool) => [string, number][]): () => Sample[] {
  return () => {
    const out: Sample[] = [];
    for (const p of pools()) {
      const l = labelsOf(p);
      for (const [v, value] of values(p)) out.push({ labels: { ...l, [label]: v }, value });
    }
    return out;
  };
}

export function poolMetrics(pools: () => Iterable<Pool>): ScrapeMetric[] {
  const now = (): number => Date.now();
  return [
    new ScrapeMetric(
      'pgmoat_clients',
      'Client connections by pool and state: idle (logged in, no server), waiting (for a server), active (linked to a server).',
      'gauge',
      perPoolBy(pools, 'state', (p) => [
        ['idle', p.idleClients.size],
        ['waiting', p.waitingClients.length],
        ['active', p.activeClients.size],
      ]),
    ),
    new ScrapeMetric(
      'pgmoat_servers',
      "Server connections by pool and state, in PgBouncer's words: idle, active (linked to a client), tested (running a reset, check or settings query), login (connecting).",
      'gauge',
      perPoolBy(pools, 'state', (p) => [
        ['idle', p.idleServers.length],
        ['active', p.activeServers.size],
        ['tested', p.internalServers.size],
        ['login', p.connecting],
      ]),
    ),
    new ScrapeMetric(
      'pgmoat_client_max_wait_seconds',
      'How long the longest-waiting client of the pool has been waiting for a server (0 when none waits).',
      'gauge',
      perPool(pools, (p) => {
        const first = p.waitingClients[0];
        return first ? Math.max(0, now() - first.waitingSince) / 1000 : 0;
      }),
      'max',
    ),
    new ScrapeMetric('pgmoat_client_wait_seconds_total', 'Time clients spent waiting for a server, summed when each wait ended.', 'counter', perPool(pools, (p) => p.stats.waitMsTotal / 1000)),
    new ScrapeMetric('pgmoat_pool_paused', '1 while the pool is paused (PAUSE), else 0.', 'gauge', perPool(pools, (p) => (p.paused ? 1 : 0)), 'max'),
    new ScrapeMetric('pgmoat_transactions_total', 'Transactions completed (a ReadyForQuery that leaves the server idle with nothing pending).', 'counter', perPool(pools, (p) => p.stats.transactions)),
    new ScrapeMetric('pgmoat_queries_total', 'Queries completed (ReadyForQuery relayed to a client).', 'counter', perPool(pools, (p) => p.stats.queries)),
    new ScrapeMetric(
      'pgmoat_client_received_bytes_total',
      'Bytes received from the clients of the pool.',
      'counter',
      perPool(pools, (p) => {
        let n = p.stats.bytesIn;
        for (const c of p.clients()) n += c.bytesIn;
        return n;
      }),
    ),
    new ScrapeMetric(
      'pgmoat_client_sent_bytes_total',
      'Bytes sent to the clients of the pool.',
      'counter',
      perPool(pools, (p) => {
        let n = p.stats.bytesOut;
        for (const c of p.clients()) n += c.socket.bytesWritten;
        return n;
      }),
    ),
    new ScrapeMetric(
      'pgmoat_server_connects_total',
      'Server connections opened to the upstream, by outcome (ok, failed).',
      'counter',
      perPoolBy(pools, 'outcome', (p) => {
        const failed = p.stats.serverConnectFailures;
        return [
          ['ok', Math.max(0, p.stats.serverConnects - failed - p.connecting)],
          ['failed', failed],
        ];
      }),
    ),
    new ScrapeMetric(
      'pgmoat_query_duration_seconds',
      "Query duration: from the client's last bytes before the answer to the server's ReadyForQuery (includes any wait for a server).",
      'histogram',
      () => [...pools()].flatMap((p) => histogramSamples('pgmoat_query_duration_seconds', labelsOf(p), p.timings.query)),
    ),
    new ScrapeMetric(
      'pgmoat_transaction_duration_seconds',
      "Transaction duration: from the client's first query of the transaction to the ReadyForQuery that ends it.",
      'histogram',
      () => [...pools()].flatMap((p) => histogramSamples('pgmoat_transaction_duration_seconds', labelsOf(p), p.timings.transaction)),
    ),
  ];
}
