/**
 * IPv4/IPv6 addresses and networks for access rules. Addresses are bigints so one code path
 * serves both families. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack Node
 * server reports for IPv4 clients) is matched as the IPv4 address it carries, on either side.
 */
import { PgmoatError } from '../util/errors.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  /** The network address, host bits cleared. */
  network: bigint;
  prefix: number;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const MAPPED_PREFIX = 0xffffn;

function shown(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
}

function invalid(message: string): PgmoatError {
  return new PgmoatError('CIDR_INVALID', message);
}

function maskBits(family: IpFamily, prefix: number): bigint {
  const bits = BITS[family];
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

function parseIpv4(text: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (const part of m.slice(1)) {
    // Leading zeros are refused: inet_aton would read them as octal.
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

function parseIpv6(text: string): bigint | undefined {
  let body = text;
  let tail32: bigint | undefined;
  if (text.includes('.')) {
    // An embedded IPv4 address takes the last two groups: "::ffff:1.2.3.4", "::1.2.3.4".
    const lastColon = text.lastIndexOf(':');
    tail32 = parseIpv4(text.slice(lastColon + 1));
    if (tail32 === undefined) return undefined;
    const head = text.slice(0, lastColon + 1);
    body = head.endsWith('::') ? head : head.slice(0, -1);
  }
  const want = tail32 === undefined ? 8 : 6;
  const halves = body.split('::');
  let groups: number[];
  if (halves.length === 1) {
    const all = parseGroups(body);
    if (!all || all.length !== want) return undefined;
    groups = all;
  } else if (halves.length === 2) {
    const head = parseGroups(halves[0]!);
    const tail = parseGroups(halves[1]!);
    if (!head || !tail || head.length + tail.length > want - 1) return undefined;
    groups = [...head, ...new Array<number>(want - head.length - tail.length).fill(0), ...tail];
  } else {
    return undefined;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (tail32 !== undefined) value = (value << 32n) | tail32;
  return value;
}

/** A numeric IPv4 or IPv6 address (no zone, no host name); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (mapped IPv4 as ::ffff:a.b.c.d). */
export function formatIp(addr: IpAddress): string {
  if (addr.family === 4) return formatIpv4(addr.value);
  if (addr.value >> 32n === MAPPED_PREFIX) return `::ffff:${formatIpv4(addr.value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1; // RFC 5952: a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

function networkOf(addr: IpAddress, prefix: number): Cidr {
  return { family: addr.family, network: addr.value & maskBits(addr.family, prefix), prefix };
}

/**
 * `addr/prefix`. With allowBareAddress, a plain address is a single-host network.
 * Host bits are cleared (192.168.1.5/24 is 192.168.1.0/24), as pg_hba.conf does.
 */
export function parseCidr(text: string, options: { allowBareAddress?: boolean } = {}): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (!addr) throw invalid(`invalid IP address ${shown(addrText)}`);
  if (slash < 0) {
    if (!options.allowBareAddress) throw invalid(`${shown(text)} has no "/prefix" length`);
    return networkOf(addr, BITS[addr.family]);
  }
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || prefix > BITS[addr.family]) {
    throw invalid(`invalid prefix length in ${shown(text)} (0 to ${BITS[addr.family]} for IPv${addr.family})`);
  }
  return networkOf(addr, prefix);
}

/** An address and a netmask, as the two-field form of pg_hba.conf. The mask must be contiguous. */
export function parseAddrMask(addrText: string, maskText: string): Cidr {
  const addr = parseIp(addrText);
  if (!addr) throw invalid(`invalid IP address ${shown(addrText)}`);
  const mask = parseIp(maskText);
  if (!mask) throw invalid(`invalid IP mask ${shown(maskText)}`);
  if (mask.family !== addr.family) throw invalid(`IP address and mask do not match (${shown(addrText)} ${shown(maskText)})`);
  const all = maskBits(addr.family, BITS[addr.family]);
  const inverted = all ^ mask.value;
  if ((inverted & (inverted + 1n)) !== 0n) throw invalid(`IP mask ${shown(maskText)} is not contiguous`);
  let prefix = 0;
  for (let v = mask.value; v !== 0n; v = (v << 1n) & all) prefix++;
  return networkOf(addr, prefix);
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.network })}/${cidr.prefix}`;
}

function unmapAddress(addr: IpAddress): IpAddress {
  if (addr.family === 6 && addr.value >> 32n === MAPPED_PREFIX) return { family: 4, value: addr.value & 0xffffffffn };
  return addr;
}

function unmapCidr(cidr: Cidr): Cidr {
  if (cidr.family === 6 && cidr.prefix >= 96 && cidr.network >> 32n === MAPPED_PREFIX) {
    return { family: 4, network: cidr.network & 0xffffffffn, prefix: cidr.prefix - 96 };
  }
  return cidr;
}

/** Parses a peer address as Node reports it (an IPv6 zone suffix such as %eth0 is dropped). */
function parseClientAddress(text: string): IpAddress {
  const zone = text.indexOf('%');
  const addr = parseIp(zone >= 0 && text.includes(':') ? text.slice(0, zone) : text);
  if (!addr) throw invalid(`invalid client address ${shown(text)}`);
  return addr;
}

/**
 * Whether the network contains the address. An IPv4 client is an IPv4 client however the
 * socket reports it: a mapped address matches IPv4 networks (and IPv6 networks lying inside
 * ::ffff:0:0/96), never a wider IPv6 network such as ::/0, which is what PostgreSQL (whose
 * sockets are IPv6-only) does. Throws on an unparseable address (never a silent no-match).
 */
export function cidrContains(cidr: Cidr | string, address: string | IpAddress): boolean {
  const net = unmapCidr(typeof cidr === 'string' ? parseCidr(cidr, { allowBareAddress: true }) : cidr);
  const addr = unmapAddress(typeof address === 'string' ? parseClientAddress(address) : address);
  if (net.family !== addr.family) return false;
  const mask = maskBits(net.family, net.prefix);
  return (addr.value & mask) === (net.network & mask);
}
