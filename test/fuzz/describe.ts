/** A script in words, for a failure report: each write decoded as frontend messages where it can be. */
import type { Script, Step } from './script.js';

function printable(b: Buffer, max = 48): string {
  const s = b.subarray(0, max).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return b.length > max ? `${s}...` : s;
}

/** Typed messages as `Q(27) "SELECT 1."`; what does not parse is shown as hex. */
export function decodeFrontend(b: Buffer): string {
  const parts: string[] = [];
  let i = 0;
  while (b.length - i >= 5) {
    const type = b[i]!;
    const len = b.readInt32BE(i + 1);
    const printableType = type >= 0x20 && type < 0x7f ? String.fromCharCode(type) : `0x${type.toString(16)}`;
    const have = b.length - i - 1;
    if (len < 4 || len > have) {
      parts.push(`${printableType}(len ${len}, ${Math.max(0, have - 4)} body bytes follow) "${printable(b.subarray(i + 5, i + 5 + 32))}"`);
      i = b.length;
      break;
    }
    parts.push(`${printableType}(${len}) "${printable(b.subarray(i + 5, i + 1 + len))}"`);
    i += 1 + len;
  }
  if (i < b.length) parts.push(`bytes ${b.subarray(i, i + 32).toString('hex')}${b.length - i > 32 ? '...' : ''}`);
  return parts.join(' ');
}

function stepText(s: Step, loggedIn: boolean): string {
  switch (s.op) {
    case 'write':
    case 'write-raw': {
      const b = Buffer.from(s.hex, 'hex');
      const what = loggedIn && s.op === 'write' ? decodeFrontend(b) : `${b.length} bytes ${b.subarray(0, 48).toString('hex')}${b.length > 48 ? '...' : ''}`;
      return `${s.op} ${what}`;
    }
    case 'mark':
      return `-- input: ${s.note}`;
    case 'tls':
      return `tls cert=${s.cert}${s.alpn ? ` alpn=${s.alpn.join(',')}` : ''}${s.tls12 ? ' TLSv1.2' : ''}${s.resume ? ' (resume)' : ''}`;
    case 'login':
      return `login ${s.params.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'probe':
      return `probe ${s.sql}`;
    case 'answer':
      return `expect '${s.expect}'`;
    case 'pause':
    case 'read':
      return `${s.op} ${s.ms} ms`;
    default:
      return s.op;
  }
}

export function describeScript(script: Script): string {
  const lines = [`script ${script.id} (${script.layer}${script.target ? `, ${script.target}` : ''})`];
  let loggedIn = false;
  const steps = script.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'write' && loggedIn) {
      // Writes split by pauses are one stream to the peer: decode them joined, say how they were cut.
      const parts: Buffer[] = [Buffer.from(s.hex, 'hex')];
      const pauses: number[] = [];
      while (steps[i + 1]?.op === 'pause' && steps[i + 2]?.op === 'write') {
        pauses.push((steps[i + 1] as { ms: number }).ms);
        parts.push(Buffer.from((steps[i + 2] as { hex: string }).hex, 'hex'));
        i += 2;
      }
      const cut = parts.length > 1 ? ` [written in ${parts.length} pieces of ${parts.map((p) => p.length).join('+')} bytes, pauses ${pauses.join(',')} ms]` : '';
      lines.push(`  write ${decodeFrontend(Buffer.concat(parts))}${cut}`);
      continue;
    }
    lines.push(`  ${stepText(s, loggedIn)}`);
    if (s.op === 'login') loggedIn = true;
  }
  return lines.join('\n');
}
