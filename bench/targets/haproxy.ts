/**
 * A pooler column behind Debian's HAProxy (TCP mode, roundrobin, no PROXY header, no health
 * checks): the balancer hop production adds in front of several gateways. The column's port is
 * HAProxy's; its processes are HAProxy and every backend, so "pooler CPU per tx" counts the hop.
 */
import { haveHaproxy, startHaproxy } from '../../test/harness/haproxy.js';
import type { RunningPooler } from './pooler.js';
import { processTree } from './process-stats.js';

export const HAPROXY_INSTALL_HINT = 'HAProxy not found (/usr/sbin/haproxy): the HAProxy columns are skipped (apt-get install haproxy)';

export { haveHaproxy };

/** HAProxy in front of `backends` (already running); stopping it stops them too. */
export async function startBehindHaproxy(label: string, backends: RunningPooler[], maxconn: number): Promise<RunningPooler> {
  let hap;
  try {
    hap = await startHaproxy({ backends: backends.map((b, i) => ({ name: `b${i + 1}`, port: b.port })), balance: 'roundrobin', maxconn });
  } catch (err) {
    for (const b of backends) await b.stop();
    throw err;
  }
  const h = hap;
  return {
    label,
    port: h.port,
    logPath: backends[0]!.logPath,
    pids: () => [...processTree(h.pid), ...backends.flatMap((b) => b.pids())],
    async stop() {
      await h.stop();
      for (const b of backends) await b.stop();
    },
  };
}
