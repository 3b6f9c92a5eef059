/**
 * The gateway's Prometheus metrics: one prom-client Registry per gateway (so that tests can run
 * several in one process). Events (handshakes, refusals, revocations, reloads) are counted as they
 * happen; everything else is read at scrape time: the pools, the limits' counters
 * (access-control.ts), the CRL, the live sessions and the certificates (certificate-catalog.ts).
 * This object is what the gateway holds as `metrics` (GatewayMetricsHooks).
 */
import { RefusalRing } from './dashboard/refusal-ring.js';
import { identityName } from '../tls/peer-identity.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from '../pool/pool.js';
import type { CertCheck } from '../tls/client-tls.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import type { ConnectionOutcome, GatewayMetricsHooks, HandshakeOutcome, RateLimitKind, RefusalEvent } from '../access/hooks.js';
import { handshakeFailureReason, type HandshakeReason } from '../tls/handshake-failure.js';
import type { RevocationFreshness } from '../revocation/source.js';
import type { Config } from '../config/schema.js';
import { CertificateCatalog, type CatalogGateway } from './certificate-catalog.js';
import { RevocationClock, type RevocationFeed } from './revocation-clock.js';
import { poolMetrics } from './pool-series.js';
import { ScrapeMetric, type Sample } from './scrape-metric.js';

/** How often nodejs_eventloop_lag_* samples the event loop (ms). */
const EVENT_LOOP_SAMPLE_MS = 100;

/** The access-control counters (src/access/limits.ts LimitCounters), read at scrape time when present. */
interface LimitCountersView {
  handshakesRateLimited?: number;
  handshakesRateLimitedPerAddress?: number;
  identityCapRefused?: number;
  addressCapRefused?: number;
}

/** What the metrics read from the gateway. */
export interface MetricsSource extends CatalogGateway {
  readonly pools: ReadonlyMap<string, Pool>;
  readonly revocations: CatalogGateway['revocations'] & RevocationFeed & { freshness(now: number): RevocationFreshness[] };
  readonly access?: { readonly counters?: LimitCountersView };
}

export interface MetricsOptions {
  version: string;
  /** Live admin console sessions: their count and identities. */
  adminIdentities?: () => PeerIdentity[];
  /** process_* and nodejs_* series from prom-client (default on). */
  processMetrics?: boolean;
  /** The certificates known (shared with SHOW CERTS); one of its own when not given. */
  catalog?: CertificateCatalog;
  /** Cluster workers: who decides which worker's refusal is a revoked serial's first (below). */
  firstRefusals?: FirstRefusalArbiter;
}

/**
 * Under `serve --workers N` every worker sees its own first refused connection of a revoked
 * serial; only one of them is the gateway's first. A worker's candidate goes to the arbiter (the
 * primary, src/cluster/), which calls firstRefusalObserved() on the worker whose candidate came
 * first, so that the histogram summed over the workers has one observation per serial.
 */
export interface FirstRefusalArbiter {
  candidate(serial: string, delayMs: number): void;
}

/** How long an expired certificate stays in pgmoat_certificate_expiry_seconds (SHOW CERTS keeps it). */
const EXPIRED_KEPT_MS = 7 * 86_400_000;

/** Labels of the environment-mismatch counter: environments the configuration names, else `other` (bounded). */
function environmentLabel(config: Config, env: string | undefined): string {
  if (env === undefined || env === '') return 'none';
  for (const db of Object.values(config.databases)) if (db.environment === env) return env;
  return 'other';
}

// Label sets of the series every connection touches, made once.
const ACCEPTED = { outcome: 'accepted', reason: 'none' } as const;
const LOGIN_REFUSED = { outcome: 'refused', reason: 'login-refused' } as const;
const ACCEPTED_OUTCOME = { outcome: 'accepted' } as const;

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
  readonly catalog: CertificateCatalog;
  private readonly handshakes: Counter<'outcome' | 'reason'>;
  private readonly handshakeSeconds: Histogram<'outcome'>;
  private readonly firstRefusals: FirstRefusalArbiter | undefined;
  private readonly refusals: Counter<'stage' | 'reason'>;
  /** The last refusals, for the dashboard (a fixed ring). */
  readonly recentRefusals = new RefusalRing();
  private readonly environmentMismatches: Counter<'certificate_environment' | 'database_environment'>;
  private readonly revocations: Counter;
  private readonly revocationDelay: Histogram<'event'>;
  private readonly revocationClock: RevocationClock;
  private readonly reloads: Counter<'outcome'>;
  private readonly lastReloadOk: Gauge;

  constructor(
    private readonly source: MetricsSource,
    opts: MetricsOptions,
  ) {
    const registers = [this.registry];
    this.catalog = opts.catalog ?? new CertificateCatalog(source, opts.adminIdentities);
    this.revocationClock = new RevocationClock(source.revocations);
    this.firstRefusals = opts.firstRefusals;
    // prom-client samples the event loop delay every 10 ms by default: 100 wake-ups a second in
    // every process, about 4 ms of CPU a second on an idle gateway (per worker under --workers N).
    // A stall still shows in full (it delays the next sample); only the sampling is coarser.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.handshakes = new Counter({
      name: 'pgmoat_tls_handshakes_total',
      help:
        'Client TLS handshakes by outcome (accepted: the certificate passed and the login was not refused; refused: completed but the certificate was refused, or reason login-refused: the certificate passed and the login was then refused; failed: did not complete) and reason.',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.handshakeSeconds = new Histogram({
      name: 'pgmoat_tls_handshake_duration_seconds',
      help: 'Client TLS handshake duration, from handing the socket to TLS to the end of the handshake, by the certificate verdict (accepted, refused, failed).',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.revocations = new Counter({ name: 'pgmoat_revocations_enforced_total', help: 'Live sessions ended because their certificate was revoked.', registers });
    this.revocationDelay = new Histogram({
      name: 'pgmoat_revocation_delay_seconds',
      help: 'Time from the CRL being written to the revocation taking effect: event session_ended (a live session of the revoked certificate ended), first_refusal (its first connection refused; one per certificate, across the workers of serve --workers).',
      labelNames: ['event'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.refusals = new Counter({
      name: 'pgmoat_login_refusals_total',
      help: 'Connections refused, by stage (accept, handshake, login) and reason (the audit line\'s reason).',
      labelNames: ['stage', 'reason'],
      registers,
    });
    this.environmentMismatches = new Counter({
      name: 'pgmoat_environment_mismatches_total',
      help: 'Logins refused because the certificate\'s environment is not the database\'s, by both environments (those the configuration names; none, other).',
      labelNames: ['certificate_environment', 'database_environment'],
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
    this.registerStore();
    new ScrapeMetric(
      'pgmoat_client_certificate_not_after_timestamp_seconds',
      'notAfter of each verified, unrevoked client certificate connected now or seen in the last 24 hours (alert on expiry).',
      'gauge',
      () => this.catalog.recentClients().map((e) => ({ labels: { cn: e.cn, environment: e.environment, serial: e.serial }, value: e.notAfter.getTime() / 1000 })),
      'max',
    ).register(this.registry);
    this.registerCertificates();
  }

  private registerCertificates(): void {
    // Listed once per series; the inventory is read again only when it changed (certificate-catalog.ts).
    const read = (): { labels: Record<string, string>; expiry: number; age: number }[] => {
      const now = Date.now();
      return this.catalog
        .list(now)
        // A certificate expired for a week leaves the series too: an inventory only grows, the series must not.
        .filter((c) => !c.revoked && c.notAfter.getTime() > now - EXPIRED_KEPT_MS)
        .map((c) => ({
          labels: { kind: c.kind, cn: c.cn, environment: c.environment, serial: c.serial },
          expiry: (c.notAfter.getTime() - now) / 1000,
          age: (now - c.notBefore.getTime()) / 1000,
        }));
    };
    new ScrapeMetric(
      'pgmoat_certificate_expiry_seconds',
      'Seconds until notAfter (negative once expired, for a week) of every unrevoked certificate known: the CA inventory when the directory of tls.ca holds one, the gateway\'s own chain, the CA certificates of tls.ca, and client certificates seen in the last 24 hours. kind: root, intermediate, server, client.',
      'gauge',
      () => read().map((s) => ({ labels: s.labels, value: s.expiry })),
      'max',
    ).register(this.registry);
    new ScrapeMetric('pgmoat_certificate_age_seconds', 'Seconds since notBefore of the same certificates as pgmoat_certificate_expiry_seconds.', 'gauge', () =>
      read().map((s) => ({ labels: s.labels, value: s.age })), 'max').register(this.registry);
    new ScrapeMetric('pgmoat_certificate_inventory_available', '1 when the certificate series come from a CA inventory (the directory of tls.ca), 0 when only from the configuration and the certificates seen.', 'gauge', () =>
      [{ labels: {}, value: this.catalog.hasInventory() ? 1 : 0 }], 'max').register(this.registry);
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

  private registerStore(): void {
    // The CA store's LISTEN source (revocation/store-source.ts); nothing without ca.store.
    const store = (): RevocationFreshness | undefined => this.source.revocations.freshness(Date.now()).find((f) => f.source === 'store');
    const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{ labels: {}, value }]);
    new ScrapeMetric('pgmoat_revocation_store_connected', '1 while the connection that LISTENs for revocations from the CA store (ca.store) is up and its list read, else 0.', 'gauge', () => {
      const s = store();
      return s ? one(s.connected === true ? 1 : 0) : [];
    }, 'min').register(this.registry);
    new ScrapeMetric('pgmoat_revocation_store_age_seconds', 'Seconds since the revoked list from the CA store was last known complete: about 0 while connected, growing while the store is unreachable (the last list read stays enforced).', 'gauge', () => {
      const t = store()?.thisUpdate;
      return one(t ? Math.max(0, (Date.now() - t.getTime()) / 1000) : undefined);
    }, 'max').register(this.registry);
    new ScrapeMetric('pgmoat_revocation_store_revoked_entries', 'Serials the CA store lists as revoked, as this gateway enforces them.', 'gauge', () => one(store()?.revokedCount), 'max').register(this.registry);
  }

  /** Prometheus text exposition. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    // The certificate series list the inventory as it is now (read off the event loop when it changed).
    await this.catalog.refreshInventory();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // ---- GatewayMetricsHooks -------------------------------------------------------------

  tlsSecured(seconds: number | undefined, check: CertCheck): void {
    if (!check.ok) {
      this.handshake('refused', check.reason, seconds);
      return;
    }
    if (check.identity) this.catalog.seen.record(check.identity);
    if (seconds !== undefined) this.handshakeSeconds.observe(ACCEPTED_OUTCOME, seconds);
    // The count waits for connectionDecided: a login refused after the handshake is no accepted handshake.
  }

  connectionDecided(check: CertCheck | undefined, outcome: ConnectionOutcome): void {
    // A refused certificate was counted by tlsSecured; without TLS there is no handshake.
    if (!check?.ok) return;
    this.handshakes.inc(outcome === 'accepted' ? ACCEPTED : LOGIN_REFUSED);
  }

  refused(e: RefusalEvent): void {
    this.refusals.inc({ stage: e.stage, reason: e.reason });
    const who = e.check?.identity;
    this.recentRefusals.push({ at: Date.now(), reason: e.reason, identity: who ? identityName(who) : undefined, address: e.remote ?? '' });
    if (e.environments) {
      const config = this.source.runtime.config;
      this.environmentMismatches.inc({
        certificate_environment: environmentLabel(config, e.environments.certificate),
        database_environment: environmentLabel(config, e.environments.database),
      });
    }
    const serial = e.reason === 'revoked' ? e.check?.identity?.serial : undefined;
    const delayMs = serial !== undefined ? this.revocationClock.firstRefusal(serial) : undefined;
    if (delayMs === undefined) return;
    if (this.firstRefusals) this.firstRefusals.candidate(serial!, delayMs);
    else this.firstRefusalObserved(delayMs);
  }

  /** This process's refusal was the gateway's first of a revoked serial, `delayMs` after its revocation. */
  firstRefusalObserved(delayMs: number): void {
    this.revocationDelay.observe({ event: 'first_refusal' }, Math.max(0, delayMs) / 1000);
  }

  tlsFailed(seconds: number | undefined, err: Error): void {
    this.handshake('failed', handshakeFailureReason(err), seconds);
  }

  handshake(outcome: HandshakeOutcome, reason: HandshakeReason, seconds: number | undefined): void {
    this.handshakes.inc({ outcome, reason });
    if (seconds !== undefined) this.handshakeSeconds.observe({ outcome }, seconds);
  }

  revocationEnforced(delayMs: number): void {
    this.revocations.inc();
    if (delayMs >= 0) this.revocationDelay.observe({ event: 'session_ended' }, delayMs / 1000);
  }

  reloaded(outcome: 'ok' | 'refused'): void {
    this.reloads.inc({ outcome });
    this.lastReloadOk.set(outcome === 'ok' ? 1 : 0);
  }

  /** Stops listening to the revocation sources (Admin.close). */
  close(): void {
    this.revocationClock.close();
  }
}
