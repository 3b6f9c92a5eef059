/**
 * The dashboard's JSON shapes (the HTTP contract of /dashboard/api) and what the HTTP side asks
 * of the gateway: a DashboardSource, answered by the process itself (local-source.ts) or, under
 * `serve --workers N`, by the primary asking its workers (cluster/dashboard-source.ts).
 * Everything crosses the cluster's IPC channel as JSON: no Date, no Map.
 */

export interface PoolRow {
  database: string;
  user: string;
  mode: string;
  activeServers: number;
  idleServers: number;
  waitingClients: number;
  activeClients: number;
  paused: boolean;
  disabled: boolean;
}

export interface RefusalRow {
  /** ms since the epoch */
  at: number;
  reason: string;
  identity?: string | undefined;
  address: string;
}

export interface LiveView {
  pools: PoolRow[];
  sessions: { identity: string; database: string; count: number }[];
  refusals: RefusalRow[];
  crl: { ageSeconds?: number | undefined; nextUpdate?: number | undefined; revokedCount: number };
  store?: { connected: boolean; ageSeconds?: number | undefined } | undefined;
  /**
   * Set by the handler (live-view.ts), after any merge: `sessions` holds at most MAX_SESSION_GROUPS
   * groups, the largest first; these say how many groups, sessions and identities there are in all.
   */
  sessionGroups?: number | undefined;
  sessionCount?: number | undefined;
  identityCount?: number | undefined;
  /** Under `serve --workers N`: the workers whose part is missing from this view, and why. */
  problems?: string[] | undefined;
}

export type CertificateStatusName = 'valid' | 'expiring' | 'expired' | 'revoked';

/** One certificate, before paging (certificates-view.ts pages, sorts and filters these). */
export interface CertificateRow {
  serial: string;
  name: string;
  environment: string;
  kind: string;
  sans: string[];
  /** ISO times */
  issued: string;
  notBefore: string;
  notAfter: string;
  status: CertificateStatusName;
  revokedAt?: string | undefined;
  reason?: string | undefined;
  /** ms since the epoch, within the last 24 hours */
  lastSeen?: number | undefined;
  liveSessions: number;
  renewalWindow: boolean;
  nearExpiry: boolean;
}

export interface SessionRow {
  database: string;
  user: string;
  address: string;
  /** ms since the epoch */
  since: number;
}

/** Cumulative counts read for the trends, every TRENDS_STEP_S (trends.ts makes rates of them). */
export interface CounterSample {
  transactions: number;
  handshakes: number;
  refusals: Record<string, number>;
  /** Not cumulative: the 99th percentile of how long the clients waiting now have waited. */
  waitP99Ms: number;
  renewals: number;
  /**
   * Under `serve --workers N`: each process's own reading, keyed so that a replaced worker is a
   * new key. Trends take differences per part: a new worker's counters starting at zero are not
   * a drop of the sum.
   */
  parts?: Record<string, CounterSample> | undefined;
  /** Under `serve --workers N`: the workers whose counts are missing from this reading, and why. */
  problems?: string[] | undefined;
}

export type CertificateSortKey = 'expires' | 'name' | 'environment' | 'status' | 'issued' | 'last_seen' | 'sessions';
export type CertificateStatusFilter = 'valid' | 'revoked' | 'expiring' | 'all';

/** One page of certificates as /dashboard/api/certificates asks it (certificates-view.ts reads the query string). */
export interface CertificateQuery {
  offset: number;
  limit: number;
  sort: CertificateSortKey;
  dir: 'asc' | 'desc';
  q: string;
  status: CertificateStatusFilter;
}

/**
 * One process's share of the certificates' moving figures: its live sessions and its last sighting
 * per serial (serials with neither are left out). Under `serve --workers N` only these cross the
 * IPC from every worker; one worker then builds the page with the others' shares added in.
 */
export interface CertificateActivity {
  live: Record<string, number>;
  /** ms since the epoch */
  lastSeen: Record<string, number>;
}

/** One page of certificates, and (under `serve --workers N`) the workers missing from its live figures. */
export interface CertificatePage {
  /** Rows matching the filter, before paging. */
  total: number;
  /** At most the query's limit. */
  rows: CertificateRow[];
  problems?: string[] | undefined;
}

/** The live sessions a revoke would end, and (under `serve --workers N`) the workers missing from the list. */
export interface CertificateSessions {
  sessions: SessionRow[];
  problems?: string[] | undefined;
}

/** The verified certificate of an HTTPS client, as the console's rule needs it. */
export interface OperatorIdentity {
  cn: string | undefined;
  serial: string;
  /** ms since the epoch */
  notAfter: number;
}

export type DashboardAction =
  | { action: 'revoke'; serial: string; reason: string }
  | { action: 'pause'; database: string }
  | { action: 'resume'; database: string }
  | { action: 'reload' };

export interface DashboardSource {
  /** Why this certificate may not use the dashboard (the console's refusal message), or undefined. */
  operatorRefusal(id: OperatorIdentity): Promise<string | undefined>;
  live(): Promise<LiveView>;
  /** Filtered, sorted and paged where the rows are: only the page travels. */
  certificatePage(q: CertificateQuery): Promise<CertificatePage>;
  sessionsOf(serial: string): Promise<CertificateSessions>;
  counters(): Promise<CounterSample>;
  /** Throws a PgmoatError when the action fails; resolves with details for the answer. */
  act(action: DashboardAction): Promise<Record<string, unknown>>;
}
