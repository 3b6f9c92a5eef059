/**
 * Before TLS: what a client may send on a fresh TCP connection. StartupMessages valid and
 * broken (lengths, protocol versions, missing NULs, many or huge parameters), SSLRequest,
 * GSSENCRequest, CancelRequest, an SSLRequest with plaintext behind it, a direct-TLS first byte
 * with junk, random bytes, and hang-ups at any byte offset of a valid packet.
 */
import type { Prng } from './prng.js';
import { cutPoints, mutateBytes, nastyLength } from './mutate.js';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST, PROTOCOL_3_0, SSL_REQUEST, cancelRequest, int32, startup, startupBody, untyped } from './wire.js';
import { writeSteps, type Step } from './script.js';

const DATABASES = ['txdb', 'sessdb', 'pgmoat', 'nosuchdb', ''];
const USERS = ['app', 'fuzzadmin', 'postgres', '', 'x'.repeat(70)];

export function validParams(r: Prng): [string, string][] {
  const p: [string, string][] = [
    ['user', r.pick(USERS)],
    ['database', r.pick(DATABASES)],
  ];
  if (r.chance(0.3)) p.push(['application_name', r.pick(['psql', 'fuzz', '', 'é'.repeat(r.range(1, 40))])]);
  if (r.chance(0.1)) p.push(['options', r.pick(['-c search_path=public', '--statement_timeout=1', '-c', '\\'])]);
  if (r.chance(0.1)) p.push(['replication', r.pick(['true', 'database', 'off'])]);
  if (r.chance(0.1)) p.push([r.pick(['client_encoding', 'DateStyle', 'TimeZone', '_pq_.x', 'x']), r.pick(['UTF8', 'LATIN1', 'ISO', 'UTC', '', 'SQL_ASCII'])]);
  return p;
}

/** A StartupMessage, valid or broken in one structural way. */
export function startupVariant(r: Prng): { bytes: Buffer; note: string } {
  const params = validParams(r);
  const kind = r.weighted<string>([
    ['valid', 6],
    ['version', 4],
    ['length', 5],
    ['no-final-nul', 3],
    ['no-value-nul', 3],
    ['many-params', 2],
    ['huge-value', 2],
    ['dup-param', 2],
    ['no-user', 2],
    ['bytes', 6],
  ]);
  switch (kind) {
    case 'valid':
      return { bytes: startup(params), note: 'startup:valid' };
    case 'version': {
      const v = r.pick([0x0003_0001, 0x0003_0002, 0x0002_0000, 0x0004_0000, 0x04d2_162e, 0, -1, CANCEL_REQUEST_CODE, r.u32() | 0]);
      return { bytes: startup(params, v), note: `startup:version:${v}` };
    }
    case 'length': {
      const b = startup(params);
      const len = nastyLength(r, b.length);
      b.writeInt32BE(len | 0, 0);
      return { bytes: b, note: `startup:length:${len}` };
    }
    case 'no-final-nul': {
      const body = startupBody(params);
      return { bytes: untyped(PROTOCOL_3_0, body.subarray(0, body.length - 1)), note: 'startup:no-final-nul' };
    }
    case 'no-value-nul': {
      const body = Buffer.from(startupBody(params));
      const nuls: number[] = [];
      for (let i = 0; i < body.length; i++) if (body[i] === 0) nuls.push(i);
      body[r.pick(nuls)] = 0x41;
      return { bytes: untyped(PROTOCOL_3_0, body), note: 'startup:nul-replaced' };
    }
    case 'many-params': {
      const n = r.range(20, 600);
      const many: [string, string][] = [...params];
      for (let i = 0; i < n; i++) many.push([`p${i}`, 'v'.repeat(r.int(20))]);
      return { bytes: startup(many), note: `startup:many-params:${n}` };
    }
    case 'huge-value': {
      const size = r.pick([9_980, 10_000, 10_001, r.range(1, 20_000)]);
      return { bytes: startup([...params, ['application_name', 'a'.repeat(size)]]), note: `startup:huge-value:${size}` };
    }
    case 'dup-param':
      return { bytes: startup([...params, params[0]!]), note: 'startup:dup-param' };
    case 'no-user':
      return { bytes: startup(params.filter(([k]) => k !== 'user')), note: 'startup:no-user' };
    default:
      return { bytes: mutateBytes(r, startup(params)), note: 'startup:bytes' };
  }
}

function finish(r: Prng): Step[] {
  return [
    r.weighted<Step>([
      [{ op: 'read', ms: r.chance(0.9) ? r.range(10, 150) : r.range(150, 600) }, 5],
      [{ op: 'end' }, 4],
      [{ op: 'destroy' }, 1],
    ]),
  ];
}

export function genPreTls(r: Prng): Step[] {
  const kind = r.weighted<string>([
    ['startup', 30],
    ['prefix', 12],
    ['ssl-plaintext', 6],
    ['ssl-then-plaintext', 5],
    ['gssenc', 6],
    ['cancel', 8],
    ['direct-junk', 6],
    ['sequence', 8],
    ['random', 12],
    ['silent', 2],
  ]);
  const steps: Step[] = [];
  let note = kind;
  let bytes: Buffer;
  switch (kind) {
    case 'startup': {
      const v = startupVariant(r);
      bytes = v.bytes;
      note = v.note;
      break;
    }
    case 'prefix': {
      // A valid packet cut at any offset, then a hang-up or silence.
      const whole = r.pick([startup(validParams(r)), SSL_REQUEST, GSSENC_REQUEST, cancelRequest(r.u32() | 0, r.u32() | 0)]);
      const at = r.int(whole.length);
      bytes = whole.subarray(0, at);
      note = `prefix:${at}/${whole.length}`;
      break;
    }
    case 'ssl-plaintext':
      // Bytes right behind the SSLRequest, in the same write: they must never be taken as encrypted.
      bytes = Buffer.concat([SSL_REQUEST, r.chance(0.5) ? startup(validParams(r)) : r.bytes(r.range(1, 64))]);
      break;
    case 'ssl-then-plaintext':
      // After the 'S', plaintext instead of a ClientHello.
      steps.push({ op: 'mark', note }, ...writeSteps(SSL_REQUEST), { op: 'answer', expect: 'S' });
      steps.push(...writeSteps(r.chance(0.5) ? startup(validParams(r)) : r.bytes(r.size(600) + 1)), ...finish(r));
      return steps;
    case 'gssenc': {
      // GSSENCRequest (answered 'N'), then what a client falls back to.
      steps.push({ op: 'mark', note }, ...writeSteps(GSSENC_REQUEST), { op: 'answer', expect: 'N' });
      const next = r.pick([SSL_REQUEST, startup(validParams(r)), GSSENC_REQUEST, r.bytes(r.range(1, 40))]);
      steps.push(...writeSteps(next), ...finish(r));
      return steps;
    }
    case 'cancel': {
      const c = cancelRequest(r.u32() | 0, r.u32() | 0);
      bytes = r.chance(0.7) ? c : mutateBytes(r, c);
      if (r.chance(0.2)) bytes = Buffer.concat([bytes, r.bytes(r.range(1, 32))]);
      break;
    }
    case 'direct-junk':
      bytes = Buffer.concat([Buffer.from([0x16]), r.bytes(r.size(600))]);
      break;
    case 'sequence': {
      const parts: Buffer[] = [];
      for (let k = r.range(2, 5); k > 0; k--) parts.push(r.pick([SSL_REQUEST, GSSENC_REQUEST, startup(validParams(r)), untyped(r.u32() | 0, r.bytes(r.int(12))), int32(r.int(16))]));
      bytes = Buffer.concat(parts);
      break;
    }
    case 'silent':
      steps.push({ op: 'mark', note }, r.chance(0.5) ? { op: 'read', ms: r.range(50, 300) } : { op: 'end' });
      return steps;
    default:
      bytes = r.bytes(r.range(1, r.chance(0.9) ? 64 : 4096));
      break;
  }
  steps.push({ op: 'mark', note }, ...writeSteps(bytes, cutPoints(r, bytes.length), r.int(3)), ...finish(r));
  return steps;
}
