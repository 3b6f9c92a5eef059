/**
 * The TLS layer: after the SSLRequest's 'S' (or directly, first byte 0x16), real ClientHellos
 * mutated (bit flips, truncation, extension), random records, a real handshake followed by
 * garbage records, handshakes with no certificate, a foreign-CA, expired, revoked or
 * serverAuth-only one, and a valid certificate that hangs up in the middle of its startup packet.
 */
import type { Prng } from './prng.js';
import { cutPoints, mutateBytes } from './mutate.js';
import { CLIENT_HELLOS } from './client-hellos.js';
import { GSSENC_REQUEST, SSL_REQUEST, cancelRequest, startup } from './wire.js';
import { startupVariant, validParams } from './gen-pre-tls.js';
import { writeSteps, type CertName, type Step } from './script.js';

function record(type: number, body: Buffer, version = 0x0303): Buffer {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(Math.min(body.length, 0xffff), 3);
  return Buffer.concat([h, body]);
}

function randomRecords(r: Prng): Buffer {
  const parts: Buffer[] = [];
  for (let k = r.range(1, 4); k > 0; k--) {
    const type = r.chance(0.8) ? r.pick([20, 21, 22, 23, 24]) : r.int(256);
    const body = r.bytes(r.size(2048));
    const rec = record(type, body, r.pick([0x0301, 0x0303, 0x0304, 0x0300, r.int(0x10000)]));
    // Now and then a header that claims more than follows (up to the 2^14 + 2048 limit and beyond).
    if (r.chance(0.2)) rec.writeUInt16BE(r.pick([0xffff, 0x4800, 0x4001, body.length + r.range(1, 100)]) & 0xffff, 3);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

function mutatedHello(r: Prng): { bytes: Buffer; note: string } {
  const hello = r.pick(CLIENT_HELLOS);
  const kind = r.weighted<string>([
    ['bytes', 6],
    ['truncate', 3],
    ['extend', 2],
    ['hello-plus-records', 2],
    ['length', 2],
  ]);
  switch (kind) {
    case 'truncate': {
      const at = r.int(hello.length);
      return { bytes: hello.subarray(0, at), note: `hello:truncate:${at}/${hello.length}` };
    }
    case 'extend':
      return { bytes: Buffer.concat([hello, r.bytes(r.size(1024) + 1)]), note: 'hello:extend' };
    case 'hello-plus-records':
      return { bytes: Buffer.concat([hello, randomRecords(r)]), note: 'hello:plus-records' };
    case 'length': {
      const b = Buffer.from(hello);
      // Record length (3), handshake length (6..8), or any 16-bit length inside.
      const at = r.pick([3, 6, 7, r.int(b.length - 1)]);
      b.writeUInt16BE(r.pick([0, 1, 0xffff, 0x4001, r.int(0x10000)]), Math.min(at, b.length - 2));
      return { bytes: b, note: `hello:length:${at}` };
    }
    default: {
      let b = mutateBytes(r, hello, r.range(1, 6));
      if (b.length > 0) b[0] = 0x16; // keep it a handshake record, so a direct connection reaches TLS
      else b = Buffer.from([0x16]);
      return { bytes: b, note: 'hello:bytes' };
    }
  }
}

function finish(r: Prng): Step {
  return r.weighted<Step>([
    [{ op: 'read', ms: r.chance(0.9) ? r.range(10, 150) : r.range(150, 600) }, 5],
    [{ op: 'end' }, 4],
    [{ op: 'destroy' }, 1],
  ]);
}

/** SSLRequest and its 'S', or nothing for a direct connection. */
function negotiate(direct: boolean): Step[] {
  return direct ? [] : [...writeSteps(SSL_REQUEST), { op: 'answer', expect: 'S' }];
}

const REFUSED_CERTS: CertName[] = ['none', 'foreign', 'expired', 'revoked', 'server-auth'];

export function genTls(r: Prng): Step[] {
  const direct = r.chance(0.25);
  const alpn = direct ? r.weighted<string[] | undefined>([[['postgresql'], 8], [undefined, 1], [['http/1.1'], 1]]) : r.chance(0.1) ? ['postgresql'] : undefined;
  const tls12 = r.chance(0.15);
  const kind = r.weighted<string>([
    ['hello', 25],
    ['records', 10],
    ['handshake-garbage', 10],
    ['refused-cert', 20],
    ['valid-startup-variant', 15],
    ['valid-hangup', 12],
    ['inside-tls', 8],
  ]);
  const steps: Step[] = [{ op: 'mark', note: `${kind}${direct ? ':direct' : ''}` }];
  switch (kind) {
    case 'hello': {
      const h = mutatedHello(r);
      steps[0] = { op: 'mark', note: `${h.note}${direct ? ':direct' : ''}` };
      steps.push(...negotiate(direct), ...writeSteps(h.bytes, cutPoints(r, h.bytes.length), r.int(3)), finish(r));
      return steps;
    }
    case 'records': {
      const b = direct ? Buffer.concat([record(22, r.bytes(r.size(300))), randomRecords(r)]) : randomRecords(r);
      steps.push(...negotiate(direct), ...writeSteps(b, cutPoints(r, b.length), r.int(3)), finish(r));
      return steps;
    }
    case 'handshake-garbage': {
      // A real handshake, then bytes under TLS: bad MACs, stray records, plaintext.
      const g = r.chance(0.6) ? randomRecords(r) : r.bytes(r.size(512) + 1);
      steps.push(...negotiate(direct), { op: 'tls', cert: 'app', alpn, tls12, resume: r.chance(0.7) });
      if (r.chance(0.5)) steps.push(...writeSteps(startup([['user', 'app'], ['database', 'txdb']])), { op: 'pause', ms: r.int(20) });
      steps.push(...writeSteps(g, [], 0, true), finish(r));
      return steps;
    }
    case 'refused-cert': {
      const cert = r.pick(REFUSED_CERTS);
      steps[0] = { op: 'mark', note: `refused-cert:${cert}${direct ? ':direct' : ''}` };
      steps.push(...negotiate(direct), { op: 'tls', cert, alpn, tls12, resume: r.chance(0.5) });
      const params: [string, string][] = [['user', r.pick(['app', 'fuzzadmin'])], ['database', r.pick(['txdb', 'sessdb', 'pgmoat'])]];
      const b = r.chance(0.8) ? startup(params) : mutateBytes(r, startup(params));
      steps.push(...writeSteps(b), { op: 'read', ms: r.range(50, 400) });
      return steps;
    }
    case 'valid-startup-variant': {
      const v = startupVariant(r);
      steps[0] = { op: 'mark', note: `tls-${v.note}${direct ? ':direct' : ''}` };
      steps.push(...negotiate(direct), { op: 'tls', cert: r.chance(0.9) ? 'app' : 'admin', alpn, tls12, resume: r.chance(0.8) });
      steps.push(...writeSteps(v.bytes, cutPoints(r, v.bytes.length), r.int(3)), finish(r));
      return steps;
    }
    case 'valid-hangup': {
      // A valid client that goes away at any byte of its startup packet.
      const whole = startup(validParams(r));
      const at = r.int(whole.length);
      steps[0] = { op: 'mark', note: `valid-hangup:${at}/${whole.length}${direct ? ':direct' : ''}` };
      steps.push(...negotiate(direct), { op: 'tls', cert: 'app', alpn, tls12, resume: r.chance(0.8) });
      if (at > 0) steps.push(...writeSteps(whole.subarray(0, at)));
      steps.push(r.chance(0.7) ? { op: 'end' } : r.chance(0.5) ? { op: 'destroy' } : { op: 'read', ms: r.range(20, 200) });
      return steps;
    }
    default: {
      // Startup-phase packets that make no sense once TLS is up.
      const b = r.pick([SSL_REQUEST, GSSENC_REQUEST, cancelRequest(r.u32() | 0, r.u32() | 0), Buffer.concat([SSL_REQUEST, startup(validParams(r))])]);
      steps.push(...negotiate(direct), { op: 'tls', cert: 'app', alpn, tls12, resume: r.chance(0.8) }, ...writeSteps(b), finish(r));
      return steps;
    }
  }
}
