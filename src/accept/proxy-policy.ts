/**
 * Which connections may, must or must not start with a PROXY header (listen.proxy_protocol):
 * decided once per connection from the address of the peer that opened it.
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from '../auth/cidr.js';
import type { ProxyProtocolConfig } from '../config/schema.js';

/**
 * What a connection's first bytes may be:
 * - `off`: listen.proxy_protocol is not set; a PROXY header is a bad startup packet, as before.
 * - `refuse`: a peer outside `trusted`; it is an ordinary client, and a PROXY header from it is refused.
 * - `require`: a trusted balancer that must send a header (`required: true`).
 * - `allow`: a trusted balancer that may send one; without it, its own address counts.
 */
export type ProxyExpectation = 'off' | 'refuse' | 'require' | 'allow';

export interface ProxyPolicy {
  readonly trusted: readonly Cidr[];
  readonly required: boolean;
}

export function proxyPolicy(config: ProxyProtocolConfig | undefined): ProxyPolicy | undefined {
  if (config === undefined) return undefined;
  return { trusted: config.trusted.map((t) => parseCidr(t, { allowBareAddress: true })), required: config.required };
}

export function proxyExpectation(policy: ProxyPolicy | undefined, peer: string | undefined): ProxyExpectation {
  if (policy === undefined) return 'off';
  if (peer === undefined || peer === '') return 'refuse';
  // Parsed once for every network; an IPv6 zone (%eth0) is no part of the address.
  const zone = peer.indexOf('%');
  const addr = parseIp(zone >= 0 ? peer.slice(0, zone) : peer);
  // An address the parser cannot read is no balancer of ours.
  if (addr === undefined || !policy.trusted.some((c) => cidrContains(c, addr))) return 'refuse';
  return policy.required ? 'require' : 'allow';
}
