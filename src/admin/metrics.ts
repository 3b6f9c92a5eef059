/**
 * The gateway's Prometheus metrics: one prom-client Registry per gateway (so that tests can run
 * several in one process). Events (handshakes, revocations, reloads) are counted as they happen;
 * everything else is read at scrape time: the pools, the limits' counters (access-control.ts), the
 * CRL and the live sessions.
 * This object is what the gateway holds as `metrics` (GatewayMetricsHooks).
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from '../pool/pool.js';
import type { CertCheck } from '../tls/client-tls.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import type { GatewayMetricsHooks, HandshakeOutcome, RateLimitKind } from '../access/hooks.js';
import { handshakeFailureReason, type HandshakeReason } from '../tls/handshake-failure.js';
import { IdentityTracker } from './identity-tracker.js';
import type { RevocationFreshness } from '../revocation/source.js';
import { poolMetrics } from './pool-series.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** The access-control counters (src/access/limits.ts LimitCounters), read at scrape time when present. */
interface LimitCountersView {
  handshakesRateLimited?: number;
  handshakesRateLimitedPerAddress?: number;
  identityCapRefused?: number;
  addressCapRefused?: number;
}

/** What the metrics read from the gateway. */
export interface MetricsSource {
  readonly pools: ReadonlyMap<string, Pool>;
  readonly revocations: { freshness(now: number): RevocationFreshness[] };
  readonly access?: { readonly counters?: LimitCountersView };
}

export interface MetricsOptions {
  version: string;
  /** Live admin console sessions: their count and identities. */
  adminIdentities?: () => PeerIdentity[];
  /** process_* and nodejs_* series from prom-client (default on). */
  processMetrics?: boolean;
}

const RATE_KINDS: readonly RateLimitKind[] = ['handshakes_per_second', 'handshakes_per_second_per_address', 'connections_per_identity', 'connections_per_address'];

function limitCount(c: LimitCountersView | undefined, kind: RateLimitKind): number {
  if (!c) return 0;
  switch (kind) {
    case 'handshakes_per_second':
      return c.handshakesRateLimited ?? 0;
    case 'handshakes_per_second_per_address':
      return c.handshakesRateLimitedPerAddress ?? 0;
    case 'connections_per_identity':
      return c.identityCapRefused ?? 0;
    case 'connections_per_address':
      return c.addressCapRefused ?? 0;
  }
}

export class GatewayMetrics implements GatewayMetricsHooks {
  readonly registry = new Registry();
  readonly identities = new IdentityTracker();
  private readonly tlsStarts = new WeakMap<object, number>();
  private readonly handshakes: Counter<'outcome' | 'reason'>;
  private readonly handshakeSeconds: Histogram<'outcome'>;
  private readonly revocations: Counter;
  private readonly revocationDelay: Histogram;
  private readonly reloads: Counter<'outcome'>;
  private readonly lastReloadOk: Gauge;

  constructor(
    private readonly source: MetricsSource,
    opts: MetricsOptions,
  ) {
    const registers = [this.registry];
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.handshakes = new Counter({
      name: 'pgmoat_tls_handshakes_total',
      help: 'Client TLS handshakes by outcome (accepted, refused: completed but the certificate was refused, failed: did not complete) and reason.',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.handshakeSeconds = new Histogram({
      name: 'pgmoat_tls_handshake_duration_seconds',
      help: 'Client TLS handshake duration, from handing the socket to TLS to the end of the handshake.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.revocations = new Counter({ name: 'pgmoat_revocations_enforced_total', help: 'Live sessions ended because their certificate was revoked.', registers });
    this.revocationDelay = new Histogram({
      name: 'pgmoat_revocation_delay_seconds',
      help: 'Time from the CRL being written to the session of a revoked certificate being ended.',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.reloads = new Counter({ name: 'pgmoat_config_reloads_total', help: 'Configuration reloads (SIGHUP or RELOAD) by outcome (ok, refused).', labelNames: ['outcome'], registers });
    this.reloads.inc({ outcome: 'ok' }, 0);
    this.reloads.inc({ outcome: 'refused' }, 0);
    this.lastReloadOk = new Gauge({ name: 'pgmoat_config_last_reload_successful', help: '1 when the last configuration reload was applied (or none was tried), 0 when it was refused.', registers, aggregator: 'min' });
    this.lastReloadOk.set(1);
    new Gauge({ name: 'pgmoat_build_info', help: 'pgmoat version (always 1).', labelNames: ['version'], registers, aggregator: 'first' }).set({ version: opts.version }, 1);

    const pools = (): Iterable<Pool> => this.source.pools.values();
    for (const m of poolMetrics(pools)) m.register(this.registry);
    new ScrapeMetric('pgmoat_rate_limited_total', 'Connections and logins turned away by a limit, by kind.', 'counter', () =>
      RATE_KINDS.map((kind) => ({ labels: { kind }, value: limitCount(this.source.access?.counters, kind) })),
    ).register(this.registry);
    new ScrapeMetric('pgmoat_admin_sessions', 'Live admin console sessions.', 'gauge', () => [{ labels: {}, value: opts.adminIdentities?.().length ?? 0 }]).register(this.registry);
    this.registerCrl();
    new ScrapeMetric(
      'pgmoat_client_certificate_not_after_timestamp_seconds',
      'notAfter of each verified client certificate connected now or seen in the last 24 hours (alert on expiry).',
      'gauge',
      () => this.certificateSamples(opts.adminIdentities),
      'max',
    ).register(this.registry);
  }

  private registerCrl(): void {
    // How fresh the CRL file source's list is (revocation/source.ts); nothing without a CRL.
    const crl = (): RevocationFreshness | undefined => this.source.revocations.freshness(Date.now()).find((f) => f.source === 'crl');
    const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{ labels: {}, value }]);
    const seconds = (d: Date | undefined): number | undefined => (d ? d.getTime() / 1000 : undefined);
    // Under `serve --workers N` every worker reports the same CRL: the primary keeps the highest.
    new ScrapeMetric('pgmoat_crl_revoked_entries', 'Serials listed as revoked in the CRL in force.', 'gauge', () => one(crl()?.revokedCount), 'max').register(this.registry);
    new ScrapeMetric('pgmoat_crl_this_update_timestamp_seconds', 'thisUpdate of the CRL in force.', 'gauge', () => one(seconds(crl()?.thisUpdate)), 'max').register(this.registry);
    new ScrapeMetric('pgmoat_crl_next_update_timestamp_seconds', 'nextUpdate of the CRL in force.', 'gauge', () => one(seconds(crl()?.nextUpdate)), 'max').register(this.registry);
    new ScrapeMetric('pgmoat_crl_age_seconds', 'Seconds since the thisUpdate of the CRL in force.', 'gauge', () => {
      const t = crl()?.thisUpdate;
      return one(t ? Math.max(0, (Date.now() - t.getTime()) / 1000) : undefined);
    }, 'max').register(this.registry);
    // A gauge, though a CRL number is an integer of up to 20 octets: a double is exact to 2^53.
    new ScrapeMetric('pgmoat_crl_number', 'CRL number (RFC 5280 5.2.3) of the CRL in force, per issuer; absent for a CRL without one. An older CRL is refused.', 'gauge', () =>
      (crl()?.sequence ?? []).map((m) => ({ labels: { issuer: m.issuer }, value: Number(m.number) })), 'max').register(this.registry);
    new ScrapeMetric('pgmoat_crl_stale', '1 when the CRL in force is past its nextUpdate (still enforced; re-sign it with pgmoat crl), else 0.', 'gauge', () => {
      const c = crl();
      if (!c) return [];
      return one(c.nextUpdate !== undefined && Date.now() > c.nextUpdate.getTime() ? 1 : 0);
    }, 'max').register(this.registry);
  }

  private certificateSamples(adminIdentities: (() => PeerIdentity[]) | undefined): Sample[] {
    const now = Date.now();
    for (const pool of this.source.pools.values()) {
      for (const c of pool.clients()) if (c.info.identity) this.identities.record(c.info.identity, now);
    }
    for (const id of adminIdentities?.() ?? []) this.identities.record(id, now);
    return this.identities.recent(now).map((e) => ({ labels: { cn: e.cn, environment: e.environment, serial: e.serial }, value: e.notAfter.getTime() / 1000 }));
  }

  /** Prometheus text exposition. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // ---- GatewayMetricsHooks -------------------------------------------------------------

  tlsStarted(socket: object): void {
    this.tlsStarts.set(socket, performance.now());
  }

  tlsSecured(socket: object, check: CertCheck | undefined): void {
    if (check?.ok && check.identity) this.identities.record(check.identity);
    const outcome: HandshakeOutcome = check === undefined || !check.ok ? 'refused' : 'accepted';
    const reason: HandshakeReason = check === undefined ? 'protocol' : check.ok ? 'none' : check.reason;
    this.handshake(outcome, reason, this.elapsed(socket));
  }

  tlsFailed(socket: object | undefined, err: Error): void {
    this.handshake('failed', handshakeFailureReason(err), socket ? this.elapsed(socket) : undefined);
  }

  handshake(outcome: HandshakeOutcome, reason: HandshakeReason, seconds: number | undefined): void {
    this.handshakes.inc({ outcome, reason });
    if (seconds !== undefined) this.handshakeSeconds.observe({ outcome }, seconds);
  }

  revocationEnforced(delayMs: number): void {
    this.revocations.inc();
    if (delayMs >= 0) this.revocationDelay.observe(delayMs / 1000);
  }

  reloaded(outcome: 'ok' | 'refused'): void {
    this.reloads.inc({ outcome });
    this.lastReloadOk.set(outcome === 'ok' ? 1 : 0);
  }

  private elapsed(socket: object): number | undefined {
    const start = this.tlsStarts.get(socket);
    if (start === undefined) return undefined;
    this.tlsStarts.delete(socket);
    return (performance.now() - start) / 1000;
  }
}
