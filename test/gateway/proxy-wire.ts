/**
 * PROXY protocol headers made by hand for the tests (not with pgmoat's reader, so that a bug
 * there cannot hide itself), and a raw socket that may be bound to another loopback address.
 */
import { connect as netConnect, type Socket } from 'node:net';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export function v1(src: string, sport = 50000): Buffer {
  const fam = src.includes(':') ? 'TCP6' : 'TCP4';
  const dst = fam === 'TCP6' ? '::1' : '127.0.0.1';
  return Buffer.from(`PROXY ${fam} ${src} ${dst} ${sport} 6432\r\n`, 'latin1');
}

/** A v2 header: PROXY (command 1) over TCP4 or TCP6, LOCAL (command 0) with no addresses, or raw overrides. */
export function v2(opts: { src?: string; sport?: number; local?: boolean; verCmd?: number; bodyLength?: number; tlv?: Buffer } = {}): Buffer {
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head, 0);
  if (opts.local) {
    head[12] = opts.verCmd ?? 0x20;
    head[13] = 0x00;
    head.writeUInt16BE(opts.bodyLength ?? 0, 14);
    return head;
  }
  const src = opts.src ?? '192.0.2.7';
  const six = src.includes(':');
  let addrs: Buffer;
  if (six) {
    addrs = Buffer.alloc(36);
    ipv6Bytes(src).copy(addrs, 0);
    ipv6Bytes('::1').copy(addrs, 16);
    addrs.writeUInt16BE(opts.sport ?? 50001, 32);
    addrs.writeUInt16BE(6432, 34);
  } else {
    addrs = Buffer.alloc(12);
    Buffer.from(src.split('.').map(Number)).copy(addrs, 0);
    Buffer.from([127, 0, 0, 1]).copy(addrs, 4);
    addrs.writeUInt16BE(opts.sport ?? 50001, 8);
    addrs.writeUInt16BE(6432, 10);
  }
  const body = Buffer.concat([addrs, opts.tlv ?? Buffer.alloc(0)]);
  head[12] = opts.verCmd ?? 0x21;
  head[13] = six ? 0x21 : 0x11;
  head.writeUInt16BE(opts.bodyLength ?? body.length, 14);
  return Buffer.concat([head, body]);
}

function ipv6Bytes(text: string): Buffer {
  const [l, r] = text.split('::') as [string, string | undefined];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = r === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export async function openRaw(port: number, localAddress?: string): Promise<Socket> {
  const s = netConnect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return s;
}

