/**
 * Memory per idle mutual-TLS connection of a bare Node `tls.Server` (idle-tls-server.ts): the floor
 * under pgmoat's idle figure, on any Node binary, with or without pgmoat's bin/openssl.cnf and
 * with extra server options, to split what Node and OpenSSL cost from what pgmoat adds.
 *
 *   node dist/bench/experiments/idle-tls-memory.js --node /usr/bin/node --connections 2000 \
 *     [--openssl-config bin/openssl.cnf | --openssl-config none] [--tls '{"maxVersion":"TLSv1.2"}'] \
 *     [--max-send-fragment N] [--env NAME=VALUE] [--node-arg FLAG] [--repeat N]
 *
 * The server's VmRSS is read after one warm-up connection and again 3 s after all connections
 * are up; the difference over the connections is the figure (as the benchmark's idle scenario
 * does for a pooler). The clients live in this process: an ordinary Node TLS client with a
 * certificate from a fresh test PKI, default settings (TLS 1.3, the runtime's default groups).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePki } from '../../test/harness/cert-factory.js';

interface Args {
  node: string;
  connections: number;
  opensslConfig: string | undefined;
  tls: Record<string, unknown>;
  maxSendFragment: number | undefined;
  env: Record<string, string>;
  nodeArgs: string[];
  repeat: number;
  concurrency: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    node: process.execPath,
    connections: 2000,
    opensslConfig: join(root, 'bin/openssl.cnf'),
    tls: {},
    maxSendFragment: undefined,
    env: {},
    nodeArgs: [],
    repeat: 1,
    concurrency: 32,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i] ?? '';
    switch (flag) {
      case '--node': a.node = value; break;
      case '--connections': a.connections = Number(value); break;
      case '--openssl-config': a.opensslConfig = value === 'none' ? undefined : resolve(value); break;
      case '--tls': a.tls = JSON.parse(value) as Record<string, unknown>; break;
      case '--max-send-fragment': a.maxSendFragment = Number(value); break;
      case '--env': {
        const eq = value.indexOf('=');
        a.env[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      case '--node-arg': a.nodeArgs.push(value); break;
      case '--repeat': a.repeat = Number(value); break;
      case '--concurrency': a.concurrency = Number(value); break;
      default:
        process.stderr.write(`idle-tls-memory: unknown flag ${flag}\n`);
        process.exit(2);
    }
  }
  return a;
}

/** Resident kB per kind of mapping: the brk heap, anonymous mappings (V8 pages, malloc arenas, large blocks), files. */
function smapsByKind(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      kind = name === '' ? 'anonymous' : name.startsWith('[') ? name : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]);
  }
  return out;
}

function status(pid: number): { rss: number; anon: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** The server's process.memoryUsage() (SIGHUP; after a full GC when it runs with --expose-gc). */
function memoryUsage(proc: ChildProcess): Promise<Mem> {
  return new Promise((ok) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /^(\{"mem":.*\})$/m.exec(out);
      if (!m) return;
      proc.stdout!.off('data', onData);
      ok((JSON.parse(m[1]!) as { mem: Mem }).mem);
    };
    proc.stdout!.on('data', onData);
    proc.kill('SIGHUP');
  });
}

function startServer(a: Args, files: { cert: string; key: string; ca: string }): Promise<{ proc: ChildProcess; port: number }> {
  const args = [...a.nodeArgs, ...(a.opensslConfig ? [`--openssl-config=${a.opensslConfig}`] : []), join(here, 'idle-tls-server.js')];
  const job = { ...files, tls: a.tls, ...(a.maxSendFragment ? { maxSendFragment: a.maxSendFragment } : {}) };
  const env: NodeJS.ProcessEnv = { ...process.env, ...a.env, IDLE_TLS_SERVER: JSON.stringify(job) };
  delete env.OPENSSL_CONF;
  const proc = spawn(a.node, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolvePort, reject) => {
    proc.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    // Other lines may come first when --node is a wrapper (heaptrack prints its own).
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /^\{"port":(\d+)\}$/m.exec(out);
      if (!m) return;
      proc.stdout!.off('data', onData);
      resolvePort({ proc, port: Number(m[1]) });
    };
    proc.stdout!.on('data', onData);
  });
}

function open(port: number, ctx: SecureContext): Promise<TLSSocket> {
  return new Promise((ok, fail) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: ctx });
    socket.once('error', fail);
    socket.once('secureConnect', () => socket.write('hello\n'));
    socket.once('data', () => {
      socket.off('error', fail);
      socket.on('error', () => undefined);
      ok(socket);
    });
  });
}

async function once(a: Args, files: { cert: string; key: string; ca: string }, ctx: SecureContext): Promise<string> {
  const { proc, port } = await startServer(a, files);
  const held: TLSSocket[] = [];
  try {
    held.push(await open(port, ctx));
    await sleep(2000);
    const memBefore = await memoryUsage(proc);
    await sleep(500);
    const before = status(proc.pid!);
    const mapsBefore = smapsByKind(proc.pid!);
    let next = 1;
    const opener = async (): Promise<void> => {
      while (next++ < a.connections) held.push(await open(port, ctx));
    };
    await Promise.all(Array.from({ length: a.concurrency }, opener));
    await sleep(3000);
    const after = status(proc.pid!);
    const mapsAfter = smapsByKind(proc.pid!);
    const memAfter = await memoryUsage(proc);
    const n = held.length - 1;
    const versions = `${held[0]!.getProtocol()}`;
    return (
      `${n} connections (${versions}): RSS ${(before.rss / 1024).toFixed(1)} -> ${(after.rss / 1024).toFixed(1)} MB, ` +
      `${((after.rss - before.rss) / n).toFixed(1)} KB/connection (RssAnon ${((after.anon - before.anon) / n).toFixed(1)}; ` +
      `JS heap used ${((memAfter.heapUsed - memBefore.heapUsed) / 1024 / n).toFixed(1)}, heap total ${((memAfter.heapTotal - memBefore.heapTotal) / 1024 / n).toFixed(1)}, ` +
      `external ${((memAfter.external - memBefore.external) / 1024 / n).toFixed(1)}; by mapping: ` +
      Object.keys(mapsAfter).map((k) => `${k} ${(((mapsAfter[k] ?? 0) - (mapsBefore[k] ?? 0)) / n).toFixed(1)}`).join(', ') +
      ')'
    );
  } finally {
    for (const s of held) s.destroy();
    proc.removeAllListeners('exit');
    // SIGTERM: the server exits by itself, so that a profiler wrapping it (--node) writes its data.
    proc.kill('SIGTERM');
    await new Promise((done) => proc.once('exit', done));
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const pki = await makePki();
  try {
    const client = await pki.client('idle');
    const files = { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath };
    const ctx = createSecureContext({ cert: client.certPem, key: client.keyPem, ca: pki.main.caPem });
    const version = (await new Promise<string>((ok) => {
      const p = spawn(a.node, ['-p', 'process.version + " OpenSSL " + process.versions.openssl'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', () => ok(out.trim()));
    }));
    process.stdout.write(
      `server: ${version}, openssl config ${a.opensslConfig ?? 'none'}, tls ${JSON.stringify(a.tls)}` +
        `${a.maxSendFragment ? `, maxSendFragment ${a.maxSendFragment}` : ''}${Object.keys(a.env).length ? `, env ${JSON.stringify(a.env)}` : ''}` +
        `${a.nodeArgs.length ? `, node ${a.nodeArgs.join(' ')}` : ''}\n`,
    );
    for (let r = 0; r < a.repeat; r++) process.stdout.write(`  ${await once(a, files, ctx)}\n`);
  } finally {
    pki.cleanup();
  }
}

await main();
