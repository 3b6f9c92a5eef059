/**
 * Runs one script against the gateway: a TCP connection, then its steps in order, with a
 * deadline on every wait. It never throws: it returns how the script ended, and counts what it
 * saw into the run's stats. Nothing about a script outlives it (sockets destroyed at the end).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type TLSSocket, type ConnectionOptions, type SecureContext } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendReader, cancelRequest, fe, startup } from './wire.js';
import type { CertName, Script, Step } from './script.js';
import { kindOf, type RunStats } from './stats.js';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ExecContext {
  host: string;
  port: number;
  /** The CA that signed the gateway's certificate. */
  ca: string;
  certs: Partial<Record<CertName, ClientCert>>;
  /** TLS session tickets by certificate and version, reused to save handshakes. */
  readonly tickets: Map<string, Buffer>;
  /** One secure context per certificate and version: building one per connection parses the PEMs each time. */
  readonly contexts: Map<string, SecureContext>;
  probeTimeoutMs: number;
  loginTimeoutMs: number;
  /** Hard limit for one script, whatever it does. */
  scriptTimeoutMs: number;
  stats: RunStats;
}

export interface ScriptOutcome {
  inputs: number;
  /** 'completed', or why the script stopped early. */
  end: string;
}

class Stop extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Waits for `done()` to hold, re-checking at each chunk the reader gets, or until `ms` pass. */
async function waitUntil(reader: BackendReader, done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    const left = until - Date.now();
    if (left <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reader.next(), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
  }
  return true;
}

class Connection {
  readonly reader = new BackendReader();
  tls: TLSSocket | undefined;
  closed = false;
  private readonly onRaw = (d: Buffer): void => this.reader.feed(d);

  constructor(readonly raw: Socket) {
    raw.setNoDelay(true);
    raw.on('data', this.onRaw);
    raw.on('error', () => undefined);
    raw.on('close', () => {
      this.closed = true;
      this.reader.wake();
    });
  }

  get socket(): Socket | TLSSocket {
    return this.tls ?? this.raw;
  }

  write(b: Buffer): void {
    const s = this.socket;
    if (!s.destroyed && s.writable) s.write(b);
  }

  detachRaw(): void {
    this.raw.off('data', this.onRaw);
  }

  destroy(): void {
    this.tls?.destroy();
    this.raw.destroy();
  }
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Stop('connect-timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      reject(new Stop(`connect-${err.code ?? 'error'}`));
    });
  });
}

async function startTls(ctx: ExecContext, c: Connection, step: Extract<Step, { op: 'tls' }>): Promise<void> {
  const key = `${step.cert}/${step.tls12 ? '1.2' : '1.3'}`;
  let secureContext = ctx.contexts.get(key);
  if (!secureContext) {
    const id = ctx.certs[step.cert];
    secureContext = createSecureContext({ ca: ctx.ca, ...(id ? { cert: id.cert, key: id.key } : {}), ...(step.tls12 ? { maxVersion: 'TLSv1.2' as const } : {}) });
    ctx.contexts.set(key, secureContext);
  }
  const options: ConnectionOptions = {
    socket: c.raw,
    servername: 'localhost',
    secureContext,
    ...(step.alpn ? { ALPNProtocols: step.alpn } : {}),
  };
  const ticket = step.resume ? ctx.tickets.get(key) : undefined;
  if (ticket) options.session = ticket;
  c.detachRaw();
  const s = tlsConnect(options);
  c.tls = s;
  s.on('session', (t: Buffer) => ctx.tickets.set(key, t));
  s.on('data', (d: Buffer) => c.reader.feed(d));
  s.on('error', () => undefined);
  s.on('close', () => {
    c.closed = true;
    c.reader.wake();
  });
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ctx.loginTimeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(true);
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ok) throw new Stop(c.closed ? 'tls-failed' : 'tls-timeout');
  ctx.stats.handshakes.add(`${s.isSessionReused() ? 'resumed' : 'full'}${ticket ? '' : ' (no ticket offered)'}`);
}

async function fireCancel(ctx: ExecContext, key: { pid: number; secret: number }): Promise<void> {
  try {
    const s = await connectTcp(ctx.host, ctx.port, 2000);
    s.on('error', () => undefined);
    s.end(cancelRequest(key.pid, key.secret));
    await Promise.race([new Promise((resolve) => s.once('close', resolve)), sleep(1000)]);
    s.destroy();
  } catch {
    // a cancel that could not be sent changes nothing the checks look at
  }
}

async function runSteps(ctx: ExecContext, script: Script, c: Connection, counted: { inputs: number }): Promise<string> {
  const steps = script.steps;
  const layer = script.layer;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (c.closed && step.op !== 'mark') return 'closed-by-peer';
    const stepStarted = Date.now();
    try {
      const stop = await runStep(ctx, script, c, counted, steps, i);
      if (stop !== undefined) return stop;
    } finally {
      ctx.stats.msByStep.add(`${layer}:${step.op}`, Date.now() - stepStarted);
    }
  }
  return 'completed';
}

/** One step; returns why the script stops, or undefined to go on. */
async function runStep(ctx: ExecContext, script: Script, c: Connection, counted: { inputs: number }, steps: Step[], i: number): Promise<string | undefined> {
  const step = steps[i]!;
  const layer = script.layer;
  switch (step.op) {
    case 'mark':
      if (c.closed) return 'closed-by-peer';
      counted.inputs++;
      ctx.stats.kinds.add(`${layer}:${kindOf(step.note)}`);
      break;
    case 'write':
    case 'write-raw': {
      // The one-byte answer to an SSLRequest is not a message: tell the reader before it comes.
      let j = i + 1;
      while (steps[j]?.op === 'pause') j++;
      if (steps[j]?.op === 'answer') c.reader.rawPrefix++;
      const b = Buffer.from(step.hex, 'hex');
      if (step.op === 'write') c.write(b);
      else if (!c.raw.destroyed) c.raw.write(b);
      break;
    }
    case 'pause':
      if (step.ms <= 0) await new Promise((resolve) => setImmediate(resolve));
      else await sleep(step.ms);
      break;
    case 'answer': {
      const got = await waitUntil(c.reader, () => c.reader.raw.length > 0 || c.closed, ctx.loginTimeoutMs);
      const byte = c.reader.raw.shift();
      if (!got || byte === undefined) return c.closed ? 'answer-closed' : 'answer-timeout';
      const ch = String.fromCharCode(byte);
      if (ch !== step.expect) return `answer-${/[A-Za-z]/.test(ch) ? ch : 'other'}`;
      break;
    }
    case 'tls':
      await startTls(ctx, c, step);
      break;
    case 'login': {
      const r = c.reader;
      const before = r.readyCount;
      c.write(startup(step.params));
      await waitUntil(r, () => r.readyCount > before || r.firstError !== undefined || c.closed, ctx.loginTimeoutMs);
      if (r.firstError !== undefined) return `login-error-${r.firstError}`;
      if (r.readyCount === before) return c.closed ? 'login-closed' : 'login-timeout';
      break;
    }
    case 'probe': {
      const r = c.reader;
      r.expectProbe(Buffer.from(step.marker));
      const admin = step.sql.startsWith('SHOW');
      c.write(admin ? fe.query(step.sql) : Buffer.concat([fe.sync(), fe.query('ROLLBACK'), fe.sync(), fe.query(step.sql)]));
      await waitUntil(r, () => r.probeAnswered || c.closed || r.garbled, ctx.probeTimeoutMs);
      if (!r.probeAnswered) return c.closed ? 'probe-closed' : r.garbled ? 'probe-garbled' : 'probe-timeout';
      break;
    }
    case 'cancel-own':
      if (c.reader.key) await fireCancel(ctx, c.reader.key);
      break;
    case 'read':
      await waitUntil(c.reader, () => c.closed, step.ms);
      break;
    case 'end': {
      const s = c.socket;
      s.end();
      await waitUntil(c.reader, () => c.closed, 500);
      break;
    }
    case 'destroy':
      c.destroy();
      break;
  }
  return undefined;
}

export async function runScript(ctx: ExecContext, script: Script): Promise<ScriptOutcome> {
  const counted = { inputs: 0 };
  const started = Date.now();
  let c: Connection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let end: string;
  try {
    const raw = await connectTcp(ctx.host, ctx.port, ctx.loginTimeoutMs);
    c = new Connection(raw);
    const conn = c;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => {
        conn.destroy();
        resolve('script-timeout');
      }, ctx.scriptTimeoutMs);
    });
    end = await Promise.race([runSteps(ctx, script, conn, counted), timeout]);
  } catch (err) {
    end = err instanceof Stop ? err.reason : `runner-error:${(err as Error).message.slice(0, 60)}`;
  } finally {
    clearTimeout(timer);
    c?.destroy();
  }
  const stats = ctx.stats;
  stats.scripts++;
  stats.inputs += counted.inputs;
  stats.inputsByLayer[script.layer] += counted.inputs;
  stats.scriptsByLayer[script.layer]++;
  stats.msByLayer[script.layer] += Date.now() - started;
  stats.outcomes.add(`${script.layer}:${end}`);
  if (end === 'probe-timeout' && stats.probeTimeouts.length < 50) stats.probeTimeouts.push(script.id);
  if (c) {
    if (c.reader.firstError) stats.sqlstates.add(c.reader.firstError);
    if (c.reader.lastError && c.reader.lastError !== c.reader.firstError) stats.sqlstates.add(c.reader.lastError);
    if (c.reader.internal && stats.internalErrors.length < 50) stats.internalErrors.push({ script: script.id, layer: script.layer, error: c.reader.internal.slice(0, 200) });
  }
  return { inputs: counted.inputs, end };
}
