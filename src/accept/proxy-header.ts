/**
 * The PROXY protocol header (HAProxy's, versions 1 and 2) that a TCP load balancer puts in front
 * of a connection to say who the client really is. Read from the first bytes of a connection, before
 * the SSLRequest or the TLS ClientHello, and only from peers the configuration trusts: anyone else
 * could claim any address.
 *
 * Incremental: given what has arrived so far, it says whether more is needed, where the header
 * ends and what it said, or why the bytes are no PROXY header. Both versions bound the header
 * (v1: 107 bytes; v2: 16 bytes plus the length it states, which is bounded here too), so a peer
 * that trickles bytes or claims a huge length costs nothing beyond that bound.
 */
import { isIP, SocketAddress } from 'node:net';

/** The v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** A v1 line's longest form, CRLF included ("PROXY TCP6 " + two full IPv6 + two ports). */
export const V1_MAX = 107;
const V2_FIXED = 16;
/**
 * The most address and TLV bytes accepted after a v2 header's fixed part. The specification lets a
 * sender use up to 65535; HAProxy's own TLVs (ALPN, authority, SSL details, unique id) fit in far
 * less, and a gateway has no use for more.
 */
export const V2_MAX_BODY = 1024;

export interface ProxyAddress {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  /** Not enough bytes yet to tell. */
  | { kind: 'more' }
  /** The bytes do not start with a PROXY header (a client that sent none). */
  | { kind: 'absent' }
  | { kind: 'invalid'; reason: string }
  /**
   * A header of `length` bytes. `source` and `destination` are what the load balancer saw; both are
   * undefined for v2 LOCAL (a health check of the balancer's own) and for v1 UNKNOWN or a v2 family
   * this gateway does not take (UNIX sockets, UDP), where the connection's own address stands.
   */
  | { kind: 'header'; version: 1 | 2; length: number; source: ProxyAddress | undefined; destination: ProxyAddress | undefined };

// Shared: the answer for every ordinary client's first bytes allocates nothing.
const MORE: ProxyHeaderResult = Object.freeze({ kind: 'more' });
const ABSENT: ProxyHeaderResult = Object.freeze({ kind: 'absent' });

/** Whether `buf` could still become `prefix` (it is a prefix of it, or starts with it). */
function startsAs(buf: Buffer, prefix: Buffer): 'yes' | 'maybe' | 'no' {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return 'no';
  return buf.length >= prefix.length ? 'yes' : 'maybe';
}

export function readProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return MORE;
  const v2 = startsAs(buf, V2_SIGNATURE);
  if (v2 === 'yes') return readV2(buf);
  const v1 = startsAs(buf, V1_PREFIX);
  if (v1 === 'yes') return readV1(buf);
  if (v2 === 'maybe' || v1 === 'maybe') return MORE;
  return ABSENT;
}

const PORT = /^(0|[1-9][0-9]{0,4})$/;

function port(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function readV1(buf: Buffer): ProxyHeaderResult {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    return buf.length >= V1_MAX ? { kind: 'invalid', reason: `a PROXY v1 line longer than ${V1_MAX} bytes` } : MORE;
  }
  const length = end + 2;
  if (length > V1_MAX) return { kind: 'invalid', reason: `a PROXY v1 line longer than ${V1_MAX} bytes` };
  const line = buf.toString('latin1', 0, end);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'header', version: 1, length, source: undefined, destination: undefined };
  if (parts.length !== 6) return { kind: 'invalid', reason: 'a PROXY v1 line that is not "PROXY TCP4|TCP6 source destination sport dport"' };
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return { kind: 'invalid', reason: `a PROXY v1 line with protocol "${proto}" (TCP4, TCP6 or UNKNOWN)` };
  if (isIP(src) !== family || isIP(dst) !== family) return { kind: 'invalid', reason: `a PROXY v1 line whose addresses are not ${proto} addresses` };
  const sp = port(sport);
  const dp = port(dport);
  if (sp === undefined || dp === undefined) return { kind: 'invalid', reason: 'a PROXY v1 line with a port that is not 0-65535' };
  // The form Node gives remoteAddress, as for v2.
  const norm = (a: string): string => (family === 6 ? new SocketAddress({ address: a, family: 'ipv6' }).address : a);
  return { kind: 'header', version: 1, length, source: { address: norm(src), port: sp }, destination: { address: norm(dst), port: dp } };
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** In the form Node gives a socket's remoteAddress ("::1", "::ffff:127.0.0.1"), so that both read alike. */
function ipv6(buf: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function readV2(buf: Buffer): ProxyHeaderResult {
  if (buf.length < V2_FIXED) return MORE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: `a PROXY v2 signature with version ${verCmd >> 4}` };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: 'invalid', reason: `a PROXY v2 header with command ${command} (LOCAL or PROXY)` };
  const famProto = buf[13]!;
  const bodyLength = buf.readUInt16BE(14);
  if (bodyLength > V2_MAX_BODY) return { kind: 'invalid', reason: `a PROXY v2 header of ${bodyLength} bytes after its fixed part (at most ${V2_MAX_BODY} accepted)` };
  const length = V2_FIXED + bodyLength;
  if (buf.length < length) return MORE;
  // LOCAL: the balancer's own connection (a health check); the addresses, if any, mean nothing.
  if (command === 0) return { kind: 'header', version: 2, length, source: undefined, destination: undefined };
  if (famProto === 0x11) {
    if (bodyLength < 12) return { kind: 'invalid', reason: 'a PROXY v2 TCP4 header too short for its addresses' };
    return {
      kind: 'header',
      version: 2,
      length,
      source: { address: ipv4(buf, 16), port: buf.readUInt16BE(24) },
      destination: { address: ipv4(buf, 20), port: buf.readUInt16BE(26) },
    };
  }
  if (famProto === 0x21) {
    if (bodyLength < 36) return { kind: 'invalid', reason: 'a PROXY v2 TCP6 header too short for its addresses' };
    return {
      kind: 'header',
      version: 2,
      length,
      source: { address: ipv6(buf, 16), port: buf.readUInt16BE(48) },
      destination: { address: ipv6(buf, 32), port: buf.readUInt16BE(50) },
    };
  }
  // UNSPEC, UDP or UNIX: a connection the balancer could not describe as TCP; its own address stands.
  return { kind: 'header', version: 2, length, source: undefined, destination: undefined };
}
