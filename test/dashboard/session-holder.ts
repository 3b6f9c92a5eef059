/**
 * A child process that holds thousands of client sessions open through the gateway, for the
 * dashboard's scale test: direct TLS (ALPN postgresql) with a client certificate, a
 * StartupMessage, and then nothing until told. It runs apart from the test so that its
 * sockets, its TLS work and its memory are neither the test's nor the gateway's (the test reads
 * the gateway's RSS alone), and so that it can be started with a raised open-files limit.
 *
 *   node --import tsx session-holder.ts PLAN.json
 *
 * stdout, one JSON object a line: {"progress":n}, then {"ready":n,"failed":k,"errors":[...],"ms":t}.
 * stdin, one command a line: `ping N` (N SELECT 1 round trips on one session, one after the other;
 * answers {"pings":[ms...]}), `close` (Terminate every session, answers {"closed":n}, exits).
 * The end of stdin closes everything too, so a test that dies leaves no holder behind.
 */
import { readFileSync } from 'node:fs';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { createInterface } from 'node:readline';

export interface HolderPlan {
  port: number;
  caPem: string;
  keyPem: string;
  /** Role asked for in every StartupMessage (the identity map lets every CN use it). */
  user: string;
  identities: { name: string; certPem: string }[];
  databases: string[];
  /** Sessions per identity and database. */
  perGroup: number;
  /** Handshakes in flight at once. */
  concurrency: number;
}

const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HolderPlan;
const say = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

class Session {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((type: number, body: Buffer) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;

  constructor(readonly socket: TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      while (this.buf.length >= 5) {
        const len = this.buf.readUInt32BE(1);
        if (this.buf.length < 1 + len) break;
        const type = this.buf[0]!;
        const body = this.buf.subarray(5, 1 + len);
        this.buf = this.buf.subarray(1 + len);
        this.waiter?.(type, body);
      }
    });
    socket.on('error', (e) => this.failed?.(e));
    socket.on('close', () => this.failed?.(new Error('the gateway closed the connection')));
  }

  /** Resolves at ReadyForQuery; rejects on an ErrorResponse or a closed socket. */
  untilReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.failed = reject;
      this.waiter = (type, body) => {
        if (type === 0x5a) resolve(); // 'Z'
        else if (type === 0x45) reject(new Error(body.toString('utf8').split('\0').filter((f) => f.startsWith('M')).join(' ') || 'ErrorResponse'));
      };
    });
  }

  send(type: string, payload: Buffer): void {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(payload.length + 4, 1);
    this.socket.write(Buffer.concat([head, payload]));
  }
}

function cstrings(...parts: string[]): Buffer {
  return Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
}

async function open(ctx: SecureContext, database: string): Promise<Session> {
  const socket = connect({ host: '127.0.0.1', port: plan.port, secureContext: ctx, servername: 'localhost', ALPNProtocols: ['postgresql'] });
  socket.setNoDelay(true);
  const s = new Session(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstrings('user', plan.user, 'database', database, 'application_name', 'dashboard-scale'), Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length + 4);
  const ready = s.untilReady();
  socket.write(Buffer.concat([len, body]));
  await ready;
  return s;
}

const sessions: Session[] = [];
const errors: string[] = [];
let failed = 0;

async function openAll(): Promise<void> {
  const jobs: { ctx: SecureContext; database: string }[] = [];
  for (const id of plan.identities) {
    const ctx = createSecureContext({ cert: id.certPem, key: plan.keyPem, ca: plan.caPem });
    for (const database of plan.databases) for (let i = 0; i < plan.perGroup; i++) jobs.push({ ctx, database });
  }
  let next = 0;
  let lastSaid = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      try {
        sessions.push(await open(job.ctx, job.database));
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(String(err));
      }
      if (sessions.length - lastSaid >= 500) {
        lastSaid = sessions.length;
        say({ progress: sessions.length });
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, jobs.length) }, lane));
  say({ ready: sessions.length, failed, errors, ms: Date.now() - started });
}

async function ping(n: number): Promise<number[]> {
  const s = sessions[0];
  if (!s) return [];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const ready = s.untilReady();
    s.send('Q', cstrings('SELECT 1'));
    await ready;
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

let closing = false;
function closeAll(): void {
  if (closing) return;
  closing = true;
  for (const s of sessions) {
    s.socket.removeAllListeners('close');
    s.socket.on('error', () => undefined);
    s.send('X', Buffer.alloc(0));
    s.socket.end();
  }
  say({ closed: sessions.length });
  // Let the Terminates leave before the process goes.
  setTimeout(() => process.exit(0), 200).unref();
}

await openAll();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'ping') void ping(Number(arg ?? 100)).then((pings) => say({ pings }), (err) => say({ pings: [], error: String(err) }));
  else if (cmd === 'close') closeAll();
});
rl.on('close', closeAll);
