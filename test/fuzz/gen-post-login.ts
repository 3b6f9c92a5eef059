/**
 * After login: a real mutual-TLS session (node:tls, resumed when it can be), then several inputs
 * on it, each built from real frontend exchanges (simple and extended query, COPY in and out,
 * FunctionCall, Close, Flush, Terminate) and mutated structurally or not at all. An input that
 * keeps the stream framed is followed by a probe that must be answered; one that breaks the
 * framing ends the connection (hang-up, or a read and then a hang-up).
 */
import type { Prng } from './prng.js';
import { cutPoints, mutateMessages } from './mutate.js';
import { SSL_REQUEST, fe, isFramed } from './wire.js';
import { writeSteps, type Step } from './script.js';

/** Where a post-login script logs in; weights are the share of scripts. */
export interface LoginTarget {
  database: string;
  user: string;
  cert: 'app' | 'admin';
  weight: number;
  /** The admin console speaks only SHOW and friends. */
  admin?: boolean;
}

const NUMBERS = ['0', '1', '7', '42', '-1', '2147483647', '', 'x', '1e3', ' 3 '];

function pickName(r: Prng): string {
  return r.pick(['', '', 's1', 's2', 'S_1', 'fz']);
}

/** Real exchanges a client sends: each is a list of whole messages. */
function unit(r: Prng): Buffer[] {
  const kind = r.weighted<string>([
    ['select', 8],
    ['tx', 5],
    ['extended', 10],
    ['named', 8],
    ['describe', 4],
    ['portal', 4],
    ['flush', 3],
    ['copy-in', 5],
    ['copy-fail', 3],
    ['copy-out', 3],
    ['extended-copy', 2],
    ['function', 3],
    ['multi', 3],
    ['error', 4],
    ['empty', 1],
    ['sql-prepare', 2],
    ['set', 2],
    ['notify', 1],
    ['close', 3],
    ['terminate', 1],
  ]);
  const n = r.pick(NUMBERS);
  switch (kind) {
    case 'select':
      return [fe.query(r.pick(['SELECT 1', `SELECT ${r.int(1000)} AS n`, 'SELECT generate_series(1, 100)', "SELECT repeat('x', 5000)", 'SELECT now()']))];
    case 'tx':
      return [fe.query('BEGIN'), fe.query('SELECT 1'), fe.query(r.pick(['COMMIT', 'ROLLBACK', 'END']))];
    case 'extended':
      return [fe.parse('', 'SELECT $1::int AS v', [23]), fe.bind('', '', [n]), fe.describe('P', ''), fe.execute('', 0), fe.sync()];
    case 'named': {
      const name = pickName(r);
      return [fe.parse(name, 'SELECT $1::text || $2::text', [25, 25]), fe.sync(), fe.bind('', name, ['a', n]), fe.execute(''), fe.sync()];
    }
    case 'describe': {
      const name = pickName(r);
      return [fe.parse(name, 'SELECT $1::int + 1', []), fe.describe('S', name), fe.sync()];
    }
    case 'portal':
      return [fe.query('BEGIN'), fe.parse('', 'SELECT generate_series(1, 10)'), fe.bind('p1', '', []), fe.execute('p1', 3), fe.execute('p1', 3), fe.close('P', 'p1'), fe.sync(), fe.query('COMMIT')];
    case 'flush':
      return [fe.parse(pickName(r), 'SELECT 2'), fe.flush(), fe.bind('', '', []), fe.execute(''), fe.flush(), fe.sync()];
    case 'copy-in':
      return [fe.query('COPY fuzz_sink (v) FROM STDIN'), fe.copyData(`${r.int(100)}\n`), fe.copyData(`${r.int(100)}\n${r.int(100)}\n`), fe.copyDone()];
    case 'copy-fail':
      return [fe.query('COPY fuzz_sink (v) FROM STDIN'), fe.copyData('1\n'), fe.copyFail('fuzz says no')];
    case 'copy-out':
      return [fe.query(`COPY (SELECT generate_series(1, ${r.range(1, 50)})) TO STDOUT`)];
    case 'extended-copy':
      return [fe.parse('', 'COPY fuzz_sink (v) FROM STDIN'), fe.bind('', '', []), fe.execute(''), fe.copyData('5\n'), fe.copyDone(), fe.sync()];
    case 'function':
      // int4abs (1251) and int4pl (177), in text format.
      return r.chance(0.5) ? [fe.functionCall(1251, [n])] : [fe.functionCall(177, [n, '1'])];
    case 'multi':
      return [fe.query('SELECT 1; SELECT 2; SELECT 3')];
    case 'error':
      return r.chance(0.5) ? [fe.query('SELECT 1/0')] : [fe.parse('', 'SELECT nosuchcolumn'), fe.bind('', '', []), fe.execute(''), fe.sync()];
    case 'empty':
      return [fe.query('')];
    case 'sql-prepare':
      return [fe.query('PREPARE fzp AS SELECT 1'), fe.query('EXECUTE fzp'), fe.query('DEALLOCATE fzp')];
    case 'set':
      return [fe.query(`SET application_name = 'fz${r.int(10)}'`)];
    case 'notify':
      return [fe.query('LISTEN fz'), fe.query("NOTIFY fz, 'x'"), fe.query('UNLISTEN fz')];
    case 'close':
      return [fe.close(r.chance(0.5) ? 'S' : 'P', pickName(r)), fe.sync()];
    default:
      return [fe.terminate()];
  }
}

const ADMIN_SHOWS = ['POOLS', 'CLIENTS', 'SERVERS', 'STATS', 'DATABASES', 'CONFIG', 'VERSION', 'IDENTITIES', 'HELP'];

function adminUnit(r: Prng): Buffer[] {
  return r.chance(0.85)
    ? [fe.query(`SHOW ${r.pick(ADMIN_SHOWS)}`)]
    : r.pick([[fe.query('SHOW POOLS; SHOW STATS')], [fe.parse('', 'SHOW POOLS'), fe.sync()], [fe.query('')], [fe.sync()], [fe.flush()]]);
}

/** The messages of one input: one to three exchanges, sometimes interleaved. */
function inputMessages(r: Prng, admin: boolean): Buffer[] {
  const make = admin ? adminUnit : unit;
  const units: Buffer[][] = [];
  for (let k = r.weighted<number>([[1, 6], [2, 3], [3, 1]]); k > 0; k--) units.push(make(r));
  if (units.length > 1 && r.chance(0.2)) {
    // Interleave the exchanges message by message.
    const out: Buffer[] = [];
    const queues = units.map((u) => [...u]);
    while (queues.some((q) => q.length > 0)) {
      const q = r.pick(queues.filter((x) => x.length > 0));
      out.push(q.shift()!);
    }
    return out;
  }
  return units.flat();
}

export function genPostLogin(r: Prng, targets: readonly LoginTarget[], id: number): { steps: Step[]; target: string } {
  const target = r.weighted(targets.map((t) => [t, t.weight] as const));
  const direct = r.chance(0.2);
  const steps: Step[] = [];
  if (!direct) steps.push(...writeSteps(SSL_REQUEST), { op: 'answer', expect: 'S' });
  steps.push({ op: 'tls', cert: target.cert, alpn: direct ? ['postgresql'] : undefined, resume: r.chance(0.9) });
  const params: [string, string][] = [
    ['user', target.user],
    ['database', target.database],
  ];
  if (r.chance(0.3)) params.push(['application_name', `fz${r.int(5)}`]);
  if (!target.admin && r.chance(0.1)) params.push(['DateStyle', r.pick(['ISO, MDY', 'German'])]);
  steps.push({ op: 'login', params });

  // Inputs before the last keep the stream framed, so that the connection can go on after a
  // probe; the last may break the framing, and the connection ends with it.
  const inputs = r.weighted<number>([[1, 1], [2, 2], [4, 3], [6, 3], [10, 2], [16, 1]]);
  for (let k = 0; k < inputs; k++) {
    const last = k === inputs - 1;
    const msgs = inputMessages(r, target.admin === true);
    const mutate = r.chance(0.75);
    const m = mutate ? mutateMessages(r, msgs, !last) : { bytes: Buffer.concat(msgs), framed: true, note: 'valid' };
    steps.push({ op: 'mark', note: m.note });
    if (m.bytes.length > 0) steps.push(...writeSteps(m.bytes, cutPoints(r, m.bytes.length), r.int(3)));
    if (!last && isFramed(m.bytes)) {
      if (!target.admin && r.chance(0.03)) steps.push({ op: 'cancel-own' });
      steps.push(
        target.admin
          ? { op: 'probe', sql: 'SHOW VERSION', marker: 'pgmoat' }
          : { op: 'probe', sql: `SELECT 'fz${id}_${k}'`, marker: `fz${id}_${k}` },
      );
      continue;
    }
    // The last input: hang up at once, after a moment, or read the answers for a while first.
    const end = r.weighted<Step[]>([
      [[{ op: 'end' }], 4],
      [[{ op: 'pause', ms: r.int(30) }, { op: 'end' }], 2],
      [[{ op: 'destroy' }], 1],
      [[{ op: 'read', ms: r.range(20, 300) }, r.chance(0.7) ? { op: 'end' } : { op: 'destroy' }], 3],
    ]);
    steps.push(...end);
    break;
  }
  return { steps, target: target.database };
}
