/**
 * Inputs the fuzzer found that wedged a pool, made minimal and kept as scripts, so that every
 * run of `npm test` replays them (known-cases.test.ts). Each logs in with a valid certificate,
 * sends one input and hangs up; after it, every server of every pool must still answer.
 */
import { SSL_REQUEST, fe, int32 } from './wire.js';
import type { Script, Step } from './script.js';

function login(database: string): Step[] {
  return [
    { op: 'write', hex: SSL_REQUEST.toString('hex') },
    { op: 'answer', expect: 'S' },
    { op: 'tls', cert: 'app', resume: false },
    { op: 'login', params: [['user', 'app'], ['database', database]] },
  ];
}

/** A CopyData header claiming 100,000,000 bytes, 10 bytes of it, then a hang-up. */
const HALF_COPY_DATA = Buffer.concat([Buffer.from('d'), int32(100_000_000), Buffer.alloc(10, 0x41)]);

export const KNOWN_CASES: { name: string; script: Script }[] = [
  {
    name: 'transaction mode: a client hangs up inside a CopyData message (the server must not go back to the pool mid-message)',
    script: { id: 1, layer: 'post-login', target: 'txdb', steps: [...login('txdb'), { op: 'mark', note: 'half-copy-data' }, { op: 'write', hex: HALF_COPY_DATA.toString('hex') }, { op: 'end' }] },
  },
  {
    name: 'session mode: a client hangs up inside a CopyData message (the reset query must not be sent into it)',
    script: { id: 2, layer: 'post-login', target: 'sessdb', steps: [...login('sessdb'), { op: 'mark', note: 'half-copy-data' }, { op: 'write', hex: HALF_COPY_DATA.toString('hex') }, { op: 'end' }] },
  },
  {
    name: 'transaction mode: an extended-protocol error with no Sync after it, then a hang-up (the server skips messages until a Sync)',
    script: {
      id: 3,
      layer: 'post-login',
      target: 'txdb',
      steps: [
        ...login('txdb'),
        { op: 'mark', note: 'parse-error-no-sync' },
        { op: 'write', hex: fe.parse('', 'SELECT nosuchcolumn').toString('hex') },
        // Long enough for the ErrorResponse to come back before the hang-up.
        { op: 'read', ms: 300 },
        { op: 'end' },
      ],
    },
  },
  {
    // Found by a 50,000-input run (seed 777): the Query after the failed Execute closed the batch
    // in pgmoat's books, while PostgreSQL skipped it too, waiting for a Sync.
    name: 'transaction mode: a malformed Execute, then simple Queries and no Sync, then a hang-up (the server skips the Queries too)',
    script: {
      id: 4,
      layer: 'post-login',
      target: 'txdb',
      steps: [
        ...login('txdb'),
        { op: 'mark', note: 'execute-error-then-query' },
        {
          op: 'write',
          hex: Buffer.concat([Buffer.from('E'), int32(10), Buffer.from('BEGIN\0', 'latin1'), fe.query('SELECT 1'), fe.query('END')]).toString('hex'),
        },
        { op: 'read', ms: 300 },
        { op: 'end' },
      ],
    },
  },
];
