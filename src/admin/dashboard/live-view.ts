/**
 * The live view as the API answers it: at most MAX_SESSION_GROUPS identity x database groups, the
 * largest first, with the totals of all of them. 5,000 sessions of distinct identities are 5,000
 * groups; the page shows a few hundred, so the rest would only be JSON to build and send every 5 s.
 * Applied after any merge over workers: a group large in sum may be small on each worker.
 */
import type { LiveView } from './types.js';

export const MAX_SESSION_GROUPS = 500;

export function capSessionGroups(v: LiveView, max = MAX_SESSION_GROUPS): LiveView {
  const sessionCount = v.sessions.reduce((n, s) => n + s.count, 0);
  const identityCount = new Set(v.sessions.map((s) => s.identity)).size;
  const sessions =
    v.sessions.length <= max
      ? v.sessions
      : [...v.sessions].sort((a, b) => b.count - a.count || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0) || (a.database < b.database ? -1 : a.database > b.database ? 1 : 0)).slice(0, max);
  return { ...v, sessions, sessionGroups: v.sessions.length, sessionCount, identityCount };
}
