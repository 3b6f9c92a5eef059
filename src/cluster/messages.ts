/**
 * The IPC between the primary and its workers (node:cluster's channel, JSON). Every message
 * of ours carries `pgmoat`, which tells it apart from prom-client's metrics requests on the same
 * channel.
 */
import type { PeerCommand } from '../admin/console.js';
import type { Readiness } from '../admin/readiness.js';
import type { CertificateActivity, CertificateQuery, DashboardAction, OperatorIdentity } from '../admin/dashboard/types.js';

export type { PeerCommand };

/** What the primary asks one worker. */
export type WorkerRequest = PeerCommand | { kind: 'readiness' } | { kind: 'dashboard'; call: DashboardCall };

/** One question of the dashboard to one worker (answered from its LocalDashboard, admin/dashboard/local-source.ts). */
export type DashboardCall =
  | { op: 'operator'; id: OperatorIdentity }
  | { op: 'live' }
  /** This worker's live sessions and last sightings per serial (small: no certificate rows). */
  | { op: 'activity' }
  /** One page of certificates built here, with the other workers' activity added in. */
  | { op: 'certificate-page'; query: CertificateQuery; others: CertificateActivity[] }
  | { op: 'sessions'; serial: string }
  | { op: 'counters' }
  | { op: 'act'; action: DashboardAction }
  /** Wait until a revoke another worker just wrote is in force here; answers LocalDashboard.revokedHere's outcome. */
  | { op: 'revoked'; serials: string[] };

export type WorkerToPrimary =
  | { pgmoat: 'listening' }
  | { pgmoat: 'cancel'; pid: number; secret: number }
  /** The admin console's SHUTDOWN: the whole gateway stops. */
  | { pgmoat: 'shutdown' }
  /** Run `cmd` on every other worker; answered with fanout-done. */
  | { pgmoat: 'fanout'; id: number; cmd: PeerCommand }
  /** `dashboard`: the answer to a DashboardCall, wrapped so that an undefined answer survives JSON. */
  | { pgmoat: 'reply'; id: number; error?: string; code?: string; readiness?: Readiness; dashboard?: { value: unknown } }
  /** This worker's first refused connection of a revoked serial (cluster/first-refusals.ts). */
  | { pgmoat: 'first-refusal'; serial: string; delayMs: number };

export type PrimaryToWorker =
  | { pgmoat: 'cancel'; pid: number; secret: number }
  | { pgmoat: 'request'; id: number; req: WorkerRequest }
  /** `errors`: one line per worker where the command failed. */
  | { pgmoat: 'fanout-done'; id: number; errors: string[] }
  /** Your first-refusal offer was the gateway's first for its serial: observe it. */
  | { pgmoat: 'first-refusal-won'; delayMs: number }
  /** The primary got a second SIGTERM or SIGINT: end the drain at once. */
  | { pgmoat: 'stop-now' };

function tagged(m: unknown): m is { pgmoat: string } {
  return typeof m === 'object' && m !== null && typeof (m as { pgmoat?: unknown }).pgmoat === 'string';
}

/** Our messages only; the shape is trusted (both ends are this code). */
export function isWorkerMessage(m: unknown): m is WorkerToPrimary {
  return tagged(m);
}

export function isPrimaryMessage(m: unknown): m is PrimaryToWorker {
  return tagged(m);
}
