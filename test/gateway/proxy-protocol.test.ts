/**
 * listen.proxy_protocol end to end, with hand-made PROXY headers on raw sockets: v1 and v2 before
 * an SSLRequest and before direct TLS, the client's address in the audit line, the access rules
 * and the per-address cap; refusals (untrusted peer, no header where required, truncated at every
 * byte then hang-up, bad v2 signature or version, oversized v2 length, garbage, a stall past the
 * login timeout) close without a single byte and log `proxy_refused`; the gateway keeps serving.
 * 127.0.0.1 is the trusted balancer; a client bound to 127.0.0.5 is an untrusted peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { nodeSsl, logEvents, useAppGateway, waitFor, clientTlsSection, plainUpstream, type AppGateway } from './helpers.js';
import { RawConn, SSL_REQUEST, login, startupPacket } from './raw-wire.js';
import { startGateway } from '../harness/gateway.js';
import { openRaw, v1, v2 } from './proxy-wire.js';

const UNTRUSTED = '127.0.0.5';
let parts: AppGateway;

const PROXY = { trusted: ['127.0.0.1'] };
const RULES = [
  // The header's address is what rules see: 192.0.2.66 is refused, whatever the balancer's address.
  { address: '192.0.2.66', method: 'reject' },
  { cn: 'app', method: 'cert' },
];

useAppGateway({ gateway: { listen: { proxy_protocol: PROXY }, rules: RULES } }, (p) => {
  parts = p;
});

function config(proxy: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tls: clientTlsSection(parts.pki),
    listen: { proxy_protocol: proxy },
    rules: RULES,
    ...extra,
    databases: { appdb: plainUpstream(parts.upstream, 'appdb') },
  };
}

/** The header, then an SSLRequest, 'S', and the TLS handshake with the app certificate. */
async function viaSslRequest(port: number, header: Buffer | undefined, localAddress?: string): Promise<RawConn> {
  const raw = await openRaw(port, localAddress);
  raw.write(header ? Buffer.concat([header, SSL_REQUEST]) : SSL_REQUEST);
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
    raw.once('close', () => reject(new Error('closed before answering the SSLRequest')));
  });
  assert.equal(answer.toString('hex'), '53', 'SSLRequest answered with S');
  const s = tlsConnect({ socket: raw, servername: 'localhost', ...nodeSsl(parts.app) });
  const conn = new RawConn(s);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  return conn;
}

/** The header, then a ClientHello straight away (sslnegotiation=direct). */
async function viaDirectTls(port: number, header: Buffer): Promise<RawConn> {
  const raw = await openRaw(port);
  raw.write(header);
  const s = tlsConnect({ socket: raw, servername: 'localhost', ALPNProtocols: ['postgresql'], ...nodeSsl(parts.app) });
  const conn = new RawConn(s);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  return conn;
}

async function loggedIn(conn: RawConn): Promise<void> {
  const m = await login(conn, { user: 'app', database: 'appdb' });
  assert.ok(m.some((x) => x.type === 'Z'), `login: ${m.map((x) => x.type).join('')}`);
}

function lastLogin(): Record<string, unknown> {
  const l = logEvents(parts.gw, 'login');
  return l[l.length - 1]!;
}

/** Sends `bytes` (then hangs up, when `end`), and asserts the gateway closed without a byte. */
async function refusedSilently(bytes: Buffer, opts: { localAddress?: string; end?: boolean; port?: number } = {}): Promise<void> {
  const raw = await openRaw(opts.port ?? parts.gw.port, opts.localAddress);
  const conn = new RawConn(raw);
  if (opts.end) raw.end(bytes);
  else raw.write(bytes);
  assert.equal(await conn.waitClosed(), true, `closed after ${bytes.length} bytes`);
  assert.equal(conn.received.length, 0, `no byte sent back, got ${conn.received.toString('hex')}`);
}

async function assertStillServing(): Promise<void> {
  const conn = await viaSslRequest(parts.gw.port, v1('198.51.100.1'));
  await loggedIn(conn);
  conn.destroy();
  await waitFor(() => pendingCount() === 0, 'no connection left in the accept phase');
}

function pendingCount(): number {
  return (parts.gw.gateway as unknown as { pending: Set<unknown> }).pending.size;
}

test('v1 header, then SSLRequest and TLS: the client address from the header is the audit line\'s', async () => {
  const conn = await viaSslRequest(parts.gw.port, v1('192.0.2.7', 41000));
  await loggedIn(conn);
  const line = lastLogin();
  assert.equal(line.remote, '192.0.2.7');
  assert.equal(line.via, '127.0.0.1');
  const client = [...parts.gw.gateway.pools.values()].flatMap((p) => [...p.clients()]).find((c) => c.info.remotePort === 41000);
  assert.equal(client?.info.remoteAddress, '192.0.2.7');
  conn.destroy();
  await waitFor(() => logEvents(parts.gw, 'session_end').some((l) => l.remote === '192.0.2.7' && l.via === '127.0.0.1'), 'session_end with the header address');
});

test('v2 header (TCP6, with a TLV) then direct TLS', async () => {
  const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP, 3 bytes
  const conn = await viaDirectTls(parts.gw.port, v2({ src: '2001:db8::7', tlv }));
  await loggedIn(conn);
  assert.equal(lastLogin().remote, '2001:db8::7');
  conn.destroy();
});

test('v2 header then SSLRequest in one write; v1 then direct TLS', async () => {
  const a = await viaSslRequest(parts.gw.port, v2({ src: '192.0.2.8' }));
  await loggedIn(a);
  assert.equal(lastLogin().remote, '192.0.2.8');
  a.destroy();
  const b = await viaDirectTls(parts.gw.port, v1('192.0.2.9'));
  await loggedIn(b);
  assert.equal(lastLogin().remote, '192.0.2.9');
  b.destroy();
});

test('the access rules see the header\'s address: 192.0.2.66 is rejected through the trusted balancer', async () => {
  const conn = await viaSslRequest(parts.gw.port, v1('192.0.2.66'));
  await login(conn, { user: 'app', database: 'appdb' });
  const err = await conn.error();
  assert.equal(err?.C, '28000');
  const refused = logEvents(parts.gw, 'login_refused').at(-1)!;
  assert.equal(refused.remote, '192.0.2.66');
  assert.equal(refused.via, '127.0.0.1');
  conn.destroy();
});

test('v2 LOCAL (a health check): the balancer\'s own address; one that closes at once logs nothing at warn', async () => {
  const conn = await viaSslRequest(parts.gw.port, v2({ local: true }));
  await loggedIn(conn);
  assert.equal(lastLogin().remote, '127.0.0.1');
  assert.equal(lastLogin().via, undefined);
  conn.destroy();
  const warnsBefore = parts.gw.logs().filter((l) => (l.level as number) >= 40).length;
  for (let i = 0; i < 5; i++) {
    const raw = await openRaw(parts.gw.port);
    const c = new RawConn(raw);
    raw.end(v2({ local: true }));
    await c.waitClosed();
  }
  // A plain TCP check (connect, close, no byte) too.
  const raw = await openRaw(parts.gw.port);
  raw.end();
  await new RawConn(raw).waitClosed();
  await waitFor(() => pendingCount() === 0, 'health checks gone');
  assert.equal(parts.gw.logs().filter((l) => (l.level as number) >= 40).length, warnsBefore, 'no warn line for a health check');
});

test('a header from an untrusted address is refused: closed, not a byte, proxy_refused with the peer', async () => {
  const before = logEvents(parts.gw, 'proxy_refused').length;
  await refusedSilently(v1('192.0.2.7'), { localAddress: UNTRUSTED });
  await refusedSilently(v2({ src: '192.0.2.7' }), { localAddress: UNTRUSTED });
  await waitFor(() => logEvents(parts.gw, 'proxy_refused').length === before + 2, 'two proxy_refused lines');
  const lines = logEvents(parts.gw, 'proxy_refused').slice(before);
  for (const l of lines) {
    assert.equal(l.remote, UNTRUSTED);
    assert.match(String(l.reason), /not in listen\.proxy_protocol\.trusted/);
    assert.equal(l.level, 40);
  }
  assert.ok(!logEvents(parts.gw, 'login').some((l) => l.remote === '192.0.2.7' && l.via === UNTRUSTED));
  await assertStillServing();
});

test('an untrusted address without a header is an ordinary client, by its own address', async () => {
  const conn = await viaSslRequest(parts.gw.port, undefined, UNTRUSTED);
  await loggedIn(conn);
  assert.equal(lastLogin().remote, UNTRUSTED);
  assert.equal(lastLogin().via, undefined);
  conn.destroy();
});

test('a trusted address without a header is refused when required (the default)', async () => {
  const before = logEvents(parts.gw, 'proxy_refused').length;
  await refusedSilently(SSL_REQUEST);
  await refusedSilently(startupPacket({ user: 'app', database: 'appdb' }));
  // A ClientHello straight away: refused on its first byte, no handshake.
  await refusedSilently(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]));
  await waitFor(() => logEvents(parts.gw, 'proxy_refused').length === before + 3, 'three proxy_refused lines');
  for (const l of logEvents(parts.gw, 'proxy_refused').slice(before)) {
    assert.equal(l.remote, '127.0.0.1');
    assert.match(String(l.reason), /no PROXY header from a trusted address/);
  }
  await assertStillServing();
});

test('a header cut short at every byte, then hang-up: each refused with a log line', async () => {
  const headers = [v1('192.0.2.7'), v2({ src: '192.0.2.7' }), v2({ src: '2001:db8::1' })];
  const before = logEvents(parts.gw, 'proxy_refused').length;
  let n = 0;
  for (const h of headers) {
    for (let cut = 1; cut < h.length; cut++) {
      await refusedSilently(h.subarray(0, cut), { end: true });
      n++;
    }
  }
  await waitFor(() => logEvents(parts.gw, 'proxy_refused').length === before + n, `${n} proxy_refused lines`);
  for (const l of logEvents(parts.gw, 'proxy_refused').slice(before)) assert.match(String(l.reason), /closed inside a PROXY header/);
  await assertStillServing();
});

test('malformed headers: bad v2 signature, version, command, oversized length, long or bad v1 line, garbage', async () => {
  const badSignature = v2();
  badSignature[11] = 0x0b; // the signature's last byte
  const cases: Array<[string, Buffer, RegExp]> = [
    ['v2 bad signature', badSignature, /no PROXY header/],
    ['v2 version 1', v2({ verCmd: 0x11 }), /version 1/],
    ['v2 command 2', v2({ verCmd: 0x22 }), /command 2/],
    ['v2 length 1025', v2({ bodyLength: 1025 }), /1025 bytes/],
    ['v2 length 65535', v2({ bodyLength: 65535 }), /65535 bytes/],
    ['v2 TCP4 too short', v2({ bodyLength: 4 }), /too short/],
    ['v1 too long', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}\r\n`), /longer than 107/],
    ['v1 bad address', Buffer.from('PROXY TCP4 192.0.2.300 127.0.0.1 1 2\r\n'), /not TCP4 addresses/],
    ['v1 bad protocol', Buffer.from('PROXY UDP4 192.0.2.3 127.0.0.1 1 2\r\n'), /protocol "UDP4"/],
    ['garbage', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /no PROXY header/],
  ];
  for (const [name, bytes, reason] of cases) {
    const before = logEvents(parts.gw, 'proxy_refused').length;
    await refusedSilently(bytes);
    await waitFor(() => logEvents(parts.gw, 'proxy_refused').length === before + 1, `${name}: a proxy_refused line`);
    const line = logEvents(parts.gw, 'proxy_refused').at(-1)!;
    assert.match(String(line.reason), reason, name);
  }
  await assertStillServing();
});

test('connections_per_address counts the header\'s address, not the balancer\'s', async () => {
  await parts.gw.reload(config(PROXY, { limits: { connections_per_address: 1 } }));
  try {
    const a = await viaSslRequest(parts.gw.port, v1('192.0.2.20'));
    await loggedIn(a);
    const b = await viaSslRequest(parts.gw.port, v1('192.0.2.21'));
    await loggedIn(b);
    const c = await viaSslRequest(parts.gw.port, v1('192.0.2.20'));
    await login(c, { user: 'app', database: 'appdb' });
    const err = await c.error();
    assert.equal(err?.C, '53300');
    for (const x of [a, b, c]) x.destroy();
  } finally {
    await parts.gw.reload(config(PROXY));
  }
});

test('handshakes_per_second_per_address counts the header\'s address', async () => {
  await parts.gw.reload(config(PROXY, { limits: { handshakes_per_second_per_address: 1 } }));
  try {
    // Each of these comes from the one balancer: by the socket's address the second would be refused.
    for (const src of ['192.0.2.30', '192.0.2.31', '192.0.2.32']) {
      const conn = await viaSslRequest(parts.gw.port, v1(src));
      await loggedIn(conn);
      conn.destroy();
    }
    // The same client again at once: its own budget is spent. Closed before any TLS.
    const before = logEvents(parts.gw, 'login_refused').length;
    await refusedSilently(Buffer.concat([v1('192.0.2.30'), SSL_REQUEST]));
    await waitFor(() => logEvents(parts.gw, 'login_refused').length > before, 'a rate-limited line');
    const line = logEvents(parts.gw, 'login_refused').at(-1)!;
    assert.equal(line.reason, 'rate limited');
    assert.equal(line.remote, '192.0.2.30');
  } finally {
    await parts.gw.reload(config(PROXY));
  }
});

test('required: false lets a trusted address in without a header, by its own address (applies at RELOAD)', async () => {
  await parts.gw.reload(config({ ...PROXY, required: false }));
  try {
    const a = await viaSslRequest(parts.gw.port, undefined);
    await loggedIn(a);
    assert.equal(lastLogin().remote, '127.0.0.1');
    a.destroy();
    const b = await viaSslRequest(parts.gw.port, v1('192.0.2.40'));
    await loggedIn(b);
    assert.equal(lastLogin().remote, '192.0.2.40');
    b.destroy();
  } finally {
    await parts.gw.reload(config(PROXY));
  }
});

test('a balancer that stops inside its header is refused at client_login_timeout', async () => {
  const gw = await startGateway(config(PROXY, { client_login_timeout: '1s' }));
  try {
    const raw = await openRaw(gw.port);
    const conn = new RawConn(raw);
    raw.write(v1('192.0.2.7').subarray(0, 10));
    assert.equal(await conn.waitClosed(15_000), true);
    assert.equal(conn.received.length, 0);
    const line = gw.logs().find((l) => l.event === 'proxy_refused');
    assert.match(String(line?.reason), /incomplete PROXY header \(10 bytes\)/);
  } finally {
    await gw.stop();
  }
});

test('without listen.proxy_protocol a PROXY header is a bad startup packet, as before', async () => {
  const gw = await startGateway({ tls: clientTlsSection(parts.pki), databases: { appdb: plainUpstream(parts.upstream, 'appdb') } });
  try {
    const raw = await openRaw(gw.port);
    const conn = new RawConn(raw);
    raw.write(v1('192.0.2.7'));
    const err = await conn.error();
    assert.equal(err?.C, '08P01');
    assert.equal(gw.logs().some((l) => l.event === 'proxy_refused'), false);
  } finally {
    await gw.stop();
  }
});
