/**
 * Mutations shared by the generators: byte-level ones (flip, overwrite, insert, delete,
 * truncate, extend) and structural ones on a list of typed messages (lengths, types, order,
 * duplicates, huge length claims). Structural mutations say whether the stream stays framed.
 */
import type { Prng } from './prng.js';
import { int32 } from './wire.js';

/** Length values that break parsers: off by a little, tiny, negative, huge. */
export function nastyLength(r: Prng, actual: number): number {
  return r.pick([
    () => actual + r.range(1, 8),
    () => Math.max(0, actual - r.range(1, 8)),
    () => r.range(0, 7),
    () => -1,
    () => -r.range(2, 0x7fff_ffff),
    () => 0x7fff_ffff,
    () => 0x4000_0000, // max_packet_size (1 GB) + 1 byte of header
    () => 0x3fff_ffff,
    () => 100_000_000,
    () => r.range(10_001, 1 << 20),
    () => r.u32() | 0,
  ])();
}

/** A few byte-level edits of `b` (never returns the input object). */
export function mutateBytes(r: Prng, b: Buffer, edits = r.range(1, 4)): Buffer {
  let out = Buffer.from(b);
  for (let e = 0; e < edits; e++) {
    const kind = r.int(out.length === 0 ? 1 : 7);
    switch (kind) {
      case 0: // insert random bytes
      {
        const at = r.int(out.length + 1);
        out = Buffer.concat([out.subarray(0, at), r.bytes(r.size(64) + 1), out.subarray(at)]);
        break;
      }
      case 1: // bit flip
      {
        const at = r.int(out.length);
        out[at] = out[at]! ^ (1 << r.int(8));
        break;
      }
      case 2: // overwrite with an interesting byte
      {
        const at = r.int(out.length);
        out[at] = r.pick([0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x27, 0x3b, 0x5c, r.int(256)]);
        break;
      }
      case 3: // delete a range
      {
        const at = r.int(out.length);
        const n = r.range(1, Math.min(16, out.length - at));
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + n)]);
        break;
      }
      case 4: // truncate
        out = out.subarray(0, r.int(out.length));
        break;
      case 5: // overwrite 4 bytes with a nasty int32 (length fields)
      {
        if (out.length < 4) break;
        const at = r.int(out.length - 3);
        int32(nastyLength(r, out.readInt32BE(at))).copy(out, at);
        break;
      }
      case 6: // duplicate a range
      {
        const at = r.int(out.length);
        const n = r.range(1, Math.min(64, out.length - at));
        out = Buffer.concat([out.subarray(0, at + n), out.subarray(at, at + n), out.subarray(at + n)]);
        break;
      }
    }
  }
  return out;
}

/** Frontend message types, valid ones and some that are not. */
export const FRONTEND_TYPES = [...'QPBDESCHFdcfXp'].map((c) => c.charCodeAt(0));
const OTHER_TYPES = [0x00, 0xff, 0x5a, 0x52, 0x4b, 0x16, 0x41, 0x7a];

export interface MessageMutation {
  bytes: Buffer;
  /** Every message still whole with a sane length: the connection may go on after it. */
  framed: boolean;
  note: string;
}

function setLength(m: Buffer, len: number): Buffer {
  const c = Buffer.from(m);
  c.writeInt32BE(len | 0, 1);
  return c;
}

/**
 * One structural mutation of a list of typed messages. Mutations that keep every length right
 * return a framed stream; the others (lengths, truncation, huge claims, stray bytes) do not,
 * and the caller hangs up or reads after them.
 */
export function mutateMessages(r: Prng, msgs: Buffer[], framedOnly = false): MessageMutation {
  const list: Buffer[] = msgs.map((m) => Buffer.from(m));
  const i = r.int(list.length);
  const m = list[i]!;
  const join = (): Buffer => Buffer.concat(list);
  const framedKinds: [string, number][] = [
    ['type-swap', 10],
    ['body-bytes', 10],
    ['body-replace', 4],
    ['drop', 4],
    ['dup', 4],
    ['swap-order', 4],
    ['random-message', 4],
  ];
  const brokenKinds: [string, number][] = [
    ['length', 10],
    ['truncate', 8],
    ['huge-claim', 8],
    ['stray-bytes', 4],
    ['bytes', 6],
  ];
  const kind = r.weighted<string>(framedOnly ? framedKinds : [...framedKinds, ...brokenKinds]);
  switch (kind) {
    case 'type-swap': {
      m[0] = r.chance(0.8) ? r.pick(FRONTEND_TYPES) : r.chance(0.5) ? r.pick(OTHER_TYPES) : r.int(256);
      return { bytes: join(), framed: true, note: `type-swap:${i}:${String.fromCharCode(m[0]!)}` };
    }
    case 'body-bytes': {
      // Edits inside the body that keep its length: the frame stays whole.
      const body = m.subarray(5);
      for (let k = r.range(1, 3); k > 0 && body.length > 0; k--) {
        const at = r.int(body.length);
        body[at] = r.chance(0.5) ? body[at]! ^ (1 << r.int(8)) : r.pick([0, 0xff, 0x7f, 0x80, r.int(256)]);
      }
      return { bytes: join(), framed: true, note: `body-bytes:${i}` };
    }
    case 'body-replace': {
      const body = r.chance(0.5) ? mutateBytes(r, m.subarray(5)) : r.bytes(r.size(512));
      const nm = Buffer.concat([m.subarray(0, 1), int32(4 + body.length), body]);
      list[i] = nm;
      return { bytes: join(), framed: true, note: `body-replace:${i}:${body.length}` };
    }
    case 'drop':
      list.splice(i, 1);
      return { bytes: join(), framed: true, note: `drop:${i}` };
    case 'dup':
      list.splice(i, 0, Buffer.from(m));
      return { bytes: join(), framed: true, note: `dup:${i}` };
    case 'swap-order': {
      const j = r.int(list.length);
      list[i] = list[j]!;
      list[j] = m;
      return { bytes: join(), framed: true, note: `swap:${i}:${j}` };
    }
    case 'random-message': {
      const t = r.chance(0.7) ? r.pick(FRONTEND_TYPES) : r.int(256);
      const body = r.bytes(r.size(256));
      list.splice(r.int(list.length + 1), 0, Buffer.concat([Buffer.from([t]), int32(4 + body.length), body]));
      return { bytes: join(), framed: true, note: `random-message:${String.fromCharCode(t)}:${body.length}` };
    }
    case 'length': {
      const len = nastyLength(r, m.readInt32BE(1));
      list[i] = setLength(m, len);
      return { bytes: join(), framed: false, note: `length:${i}:${String.fromCharCode(m[0]!)}:${len}` };
    }
    case 'truncate': {
      const all = join();
      const at = r.int(all.length);
      return { bytes: all.subarray(0, at), framed: false, note: `truncate:${at}/${all.length}` };
    }
    case 'huge-claim': {
      // A header claiming far more than follows, then a few bytes: the client hangs up inside
      // one message (the half message a pool must not hand to the next client).
      const t = r.weighted<number>([
        [0x64, 6], // CopyData
        [r.pick(FRONTEND_TYPES), 4],
        [r.int(256), 1],
      ]);
      const claim = r.pick([100_000_000, 1_000_000, r.range(70_000, 10_000_000), 0x3fff_fff0, 65_536]);
      const follow = r.bytes(r.size(200));
      const before = list.slice(0, i);
      const bytes = Buffer.concat([...before, Buffer.from([t]), int32(claim), follow]);
      return { bytes, framed: false, note: `huge-claim:${String.fromCharCode(t)}:${claim}:+${follow.length}` };
    }
    case 'stray-bytes': {
      const at = r.int(list.length + 1);
      list.splice(at, 0, r.bytes(r.range(1, 16)));
      return { bytes: join(), framed: false, note: `stray-bytes:${at}` };
    }
    default: {
      const bytes = mutateBytes(r, join());
      return { bytes, framed: false, note: 'bytes' };
    }
  }
}

/** Cut points for writing `n` bytes in pieces (none most of the time). */
export function cutPoints(r: Prng, n: number): number[] {
  if (n < 2 || r.chance(0.6)) return [];
  const k = r.chance(0.7) ? 1 : r.range(2, Math.min(8, n - 1));
  const out: number[] = [];
  for (let j = 0; j < k; j++) out.push(r.range(1, n - 1));
  return out;
}
