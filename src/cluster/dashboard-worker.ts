/**
 * A worker's answers to the primary's dashboard (cluster/dashboard-source.ts): the same
 * LocalDashboard a single process serves, one call at a time over the IPC channel.
 */
import type { LocalDashboard } from '../admin/dashboard/local-source.js';
import type { DashboardCall } from './messages.js';

export async function answerDashboard(d: LocalDashboard, call: DashboardCall): Promise<unknown> {
  switch (call.op) {
    case 'operator':
      // null, not undefined: the primary must tell "allowed" from "no answer".
      return d.operatorRefusal(call.id) ?? null;
    case 'live':
      return d.live();
    case 'activity':
      return d.activity();
    case 'certificate-page':
      return d.certificatePage(call.query, call.others);
    case 'sessions':
      return d.sessionsOf(call.serial);
    case 'counters':
      return d.counters();
    case 'act':
      return d.act(call.action);
    case 'revoked':
      return d.revokedHere(call.serials);
  }
}
