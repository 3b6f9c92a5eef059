/**
 * The dashboard's answers from this process: its pools and sessions, its certificate catalog,
 * its counters, and the actions run here (the console's own code: pool-control, live-control,
 * the CA's revoke). In a cluster worker the same answers go to the primary (cluster/worker.ts),
 * which merges them.
 */
import type { Registry } from 'prom-client';
import { openCa, parseReason, revoke } from '../../ca/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { PeerIdentity } from '../../tls/peer-identity.js';
import { identityName } from '../../tls/peer-identity.js';
import { isExpiring } from '../../util/expiring.js';
import { PgmoatError, errorMessage } from '../../util/errors.js';
import { parseSerial } from '../../util/serial.js';
import { checkAdminIdentity } from '../admin-login.js';
import { certificateStatus, type CertificateCatalog } from '../certificate-catalog.js';
import { resume } from '../live-control.js';
import { checkDatabase, controlPools } from '../pool-control.js';
import type { RefusalRing } from './refusal-ring.js';
import { addActivity, pageOfCertificates } from './certificates-view.js';
import { p99 } from './trends.js';
import type { CertificateActivity, CertificatePage, CertificateQuery, CertificateRow, CertificateSessions, CounterSample, DashboardAction, DashboardSource, LiveView, OperatorIdentity, PoolRow } from './types.js';

const NEAR_EXPIRY_MS = 7 * 24 * 3600 * 1000;
/** How long a revoke waits for its revocation to be in force here (under the primary's VIEW_TIMEOUT_MS). */
export const REVOKED_WAIT_MS = 4_000;

export interface LocalDashboardDeps {
  gateway: Gateway;
  catalog: CertificateCatalog;
  refusals: RefusalRing;
  /** Where the counters live (this process's metrics registry; the renewal counter too, when it runs here). */
  registries: () => Registry[];
  reload: () => Promise<void>;
}

async function counterValues(registries: Registry[], name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const out: { labels: Record<string, string | number>; value: number }[] = [];
  for (const r of registries) {
    const m = r.getSingleMetric(name);
    if (m) for (const v of (await m.get()).values) out.push({ labels: v.labels as Record<string, string | number>, value: v.value });
  }
  return out;
}

/** The renewals counted in `registries` (pgmoat_renewals_total{outcome="renewed"}). */
export async function renewalCount(registries: Registry[]): Promise<number> {
  return (await counterValues(registries, 'pgmoat_renewals_total')).filter((v) => v.labels.outcome === 'renewed').reduce((n, v) => n + v.value, 0);
}

/** A revoke's outcome the page shows; the CA's own errors (UNKNOWN_IDENTITY, ALREADY_REVOKED...) pass through. */
export async function revokeWithCa(dir: string | undefined, serial: string, reason: string): Promise<{ revoked: string[]; crlNumber: string }> {
  if (dir === undefined) {
    throw new PgmoatError('DASHBOARD_NO_CA', 'no CA directory beside tls.ca (nor renewal.ca_dir): revoke with pgmoat revoke --dir on the CA host');
  }
  if (parseSerial(serial) === undefined) throw new PgmoatError('DASHBOARD_BAD_REQUEST', `not a serial number: ${serial}`);
  const ca = await openCa(dir);
  const result = await revoke(ca, { target: serial, reason: parseReason(reason) });
  return { revoked: result.revoked.map((e) => e.serial), crlNumber: String(result.crl.crlNumber) };
}

/** The part of a certificate's row that never changes for its serial. */
type FixedRow = Pick<CertificateRow, 'serial' | 'name' | 'environment' | 'kind' | 'sans' | 'issued' | 'notBefore' | 'notAfter'>;

export class LocalDashboard {
  /** Rows' fixed parts by serial, kept from one listing to the next (the dates' ISO text was a third of a request at 10,000 rows). */
  private fixedRows = new Map<string, FixedRow>();

  constructor(private readonly d: LocalDashboardDeps) {}

  private get gw(): Gateway {
    return this.d.gateway;
  }

  /** The console's rule (admin-login.ts) on a certificate the HTTPS listener verified. */
  operatorRefusal(id: OperatorIdentity): string | undefined {
    const identity: PeerIdentity = {
      cn: id.cn,
      environment: undefined,
      uris: [],
      dnsNames: [],
      serial: id.serial,
      fingerprint256: '',
      notAfter: new Date(id.notAfter),
      notBefore: new Date(0),
      issuerCn: undefined,
    };
    try {
      checkAdminIdentity(this.gw.runtime, this.gw.revocations, identity);
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  live(now = Date.now()): LiveView {
    const disabled = this.gw.gate.disabled;
    const pools: PoolRow[] = [];
    const sessions = new Map<string, { identity: string; database: string; count: number }>();
    for (const p of this.gw.pools.values()) {
      pools.push({
        database: p.database,
        user: p.role,
        mode: p.settings.poolMode,
        activeServers: p.activeServers.size,
        idleServers: p.idleServers.length,
        waitingClients: p.waitingClients.length,
        activeClients: p.activeClients.size,
        paused: p.paused,
        disabled: disabled.has(p.database),
      });
      for (const c of p.clients()) {
        const identity = c.info.identity ? identityName(c.info.identity) : '(no certificate)';
        const key = `${identity}\0${p.database}`;
        const s = sessions.get(key);
        if (s) s.count++;
        else sessions.set(key, { identity, database: p.database, count: 1 });
      }
    }
    const fresh = this.gw.revocations.freshness(now);
    const crl = fresh.find((f) => f.source === 'crl');
    const store = fresh.find((f) => f.source === 'store');
    return {
      pools,
      sessions: [...sessions.values()],
      refusals: this.d.refusals.list(),
      crl: {
        ageSeconds: crl?.thisUpdate ? Math.max(0, Math.round((now - crl.thisUpdate.getTime()) / 1000)) : undefined,
        nextUpdate: crl?.nextUpdate?.getTime(),
        revokedCount: crl?.revokedCount ?? 0,
      },
      store: store ? { connected: store.connected === true, ageSeconds: store.thisUpdate ? Math.max(0, Math.round((now - store.thisUpdate.getTime()) / 1000)) : undefined } : undefined,
    };
  }

  private liveBySerial(): Map<string, number> {
    const n = new Map<string, number>();
    for (const p of this.gw.pools.values()) for (const c of p.clients()) if (c.info.identity) n.set(c.info.identity.serial, (n.get(c.info.identity.serial) ?? 0) + 1);
    return n;
  }

  /** This process's live sessions and last sightings per serial: what another process adds to its rows. */
  activity(now = Date.now()): CertificateActivity {
    return { live: Object.fromEntries(this.liveBySerial()), lastSeen: Object.fromEntries(this.d.catalog.lastSeen(now)) };
  }

  /** One page of the catalog, with `others` (the other workers' activity) added in before the filter and sort. */
  async certificatePage(q: CertificateQuery, others: readonly CertificateActivity[] = [], now = Date.now()): Promise<CertificatePage> {
    const rows = await this.certificates(now);
    addActivity(rows, others);
    return pageOfCertificates(rows, q);
  }

  async certificates(now = Date.now()): Promise<CertificateRow[]> {
    await this.d.catalog.refreshInventory(now);
    const live = this.liveBySerial();
    const before = this.fixedRows;
    const fixedRows = new Map<string, FixedRow>();
    const rows = this.d.catalog.list(now).map((c): CertificateRow => {
      const status = certificateStatus(c, now);
      const left = c.notAfter.getTime() - now;
      let fixed = before.get(c.serial);
      if (fixed === undefined) {
        const notBefore = c.notBefore.toISOString();
        fixed = { serial: c.serial, name: c.cn, environment: c.environment, kind: c.kind, sans: [...(c.sans ?? [])], issued: notBefore, notBefore, notAfter: c.notAfter.toISOString() };
      }
      fixedRows.set(c.serial, fixed);
      return {
        ...fixed,
        status,
        revokedAt: c.revokedAt,
        reason: c.reason,
        lastSeen: c.lastSeen,
        liveSessions: live.get(c.serial) ?? 0,
        renewalWindow: status !== 'revoked' && isExpiring(c.notBefore, c.notAfter, now),
        nearExpiry: status !== 'revoked' && left > 0 && left <= NEAR_EXPIRY_MS,
      };
    });
    this.fixedRows = fixedRows;
    return rows;
  }

  sessionsOf(serial: string): CertificateSessions {
    const out: CertificateSessions['sessions'] = [];
    for (const p of this.gw.pools.values()) {
      for (const c of p.clients()) {
        if (c.info.identity?.serial === serial) out.push({ database: p.database, user: p.role, address: c.info.remoteAddress, since: c.connectedAt });
      }
    }
    return { sessions: out };
  }

  async counters(now = Date.now()): Promise<CounterSample> {
    // Pools a reload removed took their transactions with them: the gateway keeps their count,
    // so that this sum only goes up (trends.ts reads a fall as a restart and counts all again).
    let transactions = this.gw.removedPoolTransactions;
    const waits: number[] = [];
    for (const p of this.gw.pools.values()) {
      transactions += p.stats.transactions;
      for (const c of p.waitingClients) waits.push(Math.max(0, now - c.waitingSince));
    }
    const registries = this.d.registries();
    const handshakes = (await counterValues(registries, 'pgmoat_tls_handshakes_total')).reduce((n, v) => n + v.value, 0);
    const refusals: Record<string, number> = {};
    for (const v of await counterValues(registries, 'pgmoat_login_refusals_total')) {
      const reason = String(v.labels.reason ?? 'unknown');
      refusals[reason] = (refusals[reason] ?? 0) + v.value;
    }
    return { transactions, handshakes, refusals, waitP99Ms: p99(waits), renewals: await renewalCount(registries) };
  }

  /**
   * Waits until every serial is revoked here and answers how many live sessions that ended in
   * this process. Nothing needs a nudge: the CRL file's watch (and the janitor's poll of it every
   * 250 ms) or the store's NOTIFY brings a revocation in by itself. After `timeoutMs` it answers
   * with the serials still not in force (the revoke itself is written: it is not undone).
   */
  async revokedHere(serials: readonly string[], timeoutMs = REVOKED_WAIT_MS): Promise<{ sessionsEnded: number; notInForce?: string[] }> {
    const deadline = Date.now() + timeoutMs;
    const missing = (): string[] => serials.filter((s) => this.gw.revocations.lookup(s) === undefined);
    let left = missing();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      left = missing();
    }
    const sessionsEnded = serials.reduce((n, s) => n + this.gw.access.enforcer.revokedSessions(s), 0);
    return left.length > 0 ? { sessionsEnded, notInForce: left } : { sessionsEnded };
  }

  async act(a: DashboardAction): Promise<Record<string, unknown>> {
    const config = this.gw.runtime.config;
    switch (a.action) {
      case 'revoke': {
        const r = await revokeWithCa(this.d.catalog.caDirectory(), a.serial, a.reason);
        const here = await this.revokedHere(r.revoked);
        const problems = here.notInForce ? [`not in force after ${REVOKED_WAIT_MS} ms: ${here.notInForce.join(', ')}`] : undefined;
        return { ...r, sessionsEnded: here.sessionsEnded, ...(problems ? { problems } : {}) };
      }
      case 'pause': {
        // Unlike the console's PAUSE, the answer does not wait for transactions (or, in session
        // mode, whole sessions) to release their servers: that may take as long as they run, and
        // an HTTP request must not. The live view shows the pool paused and its servers in use.
        checkDatabase(a.database, config);
        const inUse = [...this.gw.pools.values()].filter((p) => p.database === a.database).reduce((n, p) => n + p.members.activeServers.size, 0);
        controlPools('PAUSE', a.database, this.gw.pools.values(), config).catch(() => undefined);
        return { serversInUse: inUse };
      }
      case 'resume':
        await resume(this.gw, a.database);
        return {};
      case 'reload':
        await this.d.reload();
        return {};
    }
  }
}

/** A DashboardSource over one process. */
export function localSource(l: LocalDashboard): DashboardSource {
  return {
    operatorRefusal: async (id) => l.operatorRefusal(id),
    live: async () => l.live(),
    certificatePage: (q) => l.certificatePage(q),
    sessionsOf: async (serial) => l.sessionsOf(serial),
    counters: () => l.counters(),
    act: (a) => l.act(a),
  };
}
