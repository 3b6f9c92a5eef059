/**
 * `peer_id` and `peers:` in pgmoat.yaml: the gateways behind one balancer that pass each other
 * the cancel requests for sessions they do not hold (gateway/cancel-route.ts, peer-cancel.ts).
 * docs/config-reference.md ("Peers") describes each key.
 */
import { z } from 'zod';
import { ALWAYS, bool, expecting, host, int, problem } from './fields.js';

/** 8 bits of the 31 of a cancel key's pid (gateway/cancel-route.ts). */
export const PEER_ID_MAX = 255;

const peerAddress = z.strictObject(
  {
    host: host(),
    port: int(1, 65535),
    send_proxy_v2: bool().default(false),
  },
  { error: expecting('expected a mapping (host, port, send_proxy_v2)') },
);

export function peerIdSchema() {
  return int(1, PEER_ID_MAX).optional();
}

/** `peers: { <id>: { host, port, send_proxy_v2? } }`: keys are the peer ids (YAML gives them as strings). */
export function peersSchema() {
  return z
    .record(z.string(), peerAddress, { error: expecting('expected a mapping of peer ids to { host, port }') })
    .superRefine((peers, rctx) => {
      if (typeof peers !== 'object' || peers === null) return;
      for (const id of Object.keys(peers)) {
        const n = Number(id);
        if (!/^[0-9]+$/.test(id) || !Number.isInteger(n) || n < 1 || n > PEER_ID_MAX) {
          rctx.addIssue(problem(`a peer id must be an integer from 1 to ${PEER_ID_MAX}, got "${id}"`, [id]));
        }
      }
    }, ALWAYS)
    .default({});
}

/** The peers list as the gateway uses it, by numeric id. */
export function peerMap<P>(peers: Record<string, P>): Map<number, P> {
  return new Map(Object.entries(peers).map(([id, p]) => [Number(id), p]));
}

/** `peers` without `peer_id`: the pids this gateway hands out would name no peer. */
export function peerProblems(config: { peer_id?: unknown; peers?: unknown }, rctx: z.RefinementCtx): void {
  if (config.peer_id !== undefined) return;
  if (typeof config.peers === 'object' && config.peers !== null && Object.keys(config.peers).length > 0) {
    rctx.addIssue(problem('peers needs peer_id: set this gateway\'s own id (1 to 255, unique in the group)', ['peer_id']));
  }
}
