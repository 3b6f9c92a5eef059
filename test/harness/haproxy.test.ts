import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { haveHaproxy, startHaproxy } from './haproxy.js';
import { waitFor } from '../gateway/helpers.js';

const skip = haveHaproxy() ? false : 'haproxy is not installed (apt-get install haproxy)';

/** A backend that records the first bytes of every connection and answers "ok". */
async function recordingBackend(): Promise<{ server: Server; port: number; firsts: Buffer[] }> {
  const firsts: Buffer[] = [];
  const server = createServer((s: Socket) => {
    s.once('data', (d: Buffer) => {
      firsts.push(d);
      s.end('ok');
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, firsts };
}

function exchange(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write('hello');
  });
}

test('haproxy harness: spreads connections, sends PROXY v2 with the client address, follows health checks', { skip }, async () => {
  const a = await recordingBackend();
  const b = await recordingBackend();
  let bReady = true;
  const health = createHttpServer((_req, res) => {
    res.statusCode = bReady ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const healthPort = (health.address() as { port: number }).port;
  const hap = await startHaproxy({
    backends: [
      { name: 'a', port: a.port },
      { name: 'b', port: b.port, checkPort: healthPort },
    ],
    sendProxyV2: true,
  });
  try {
    for (let i = 0; i < 4; i++) assert.equal(await exchange(hap.port, '127.0.0.2'), 'ok');
    assert.equal(a.firsts.length, 2);
    assert.equal(b.firsts.length, 2);
    const first = a.firsts[0]!;
    assert.deepEqual(first.subarray(0, 12), Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'));
    // v2, PROXY command, TCP over IPv4: source address 127.0.0.2 right after the 16-byte header.
    assert.equal(first[12], 0x21);
    assert.equal(first[13], 0x11);
    assert.deepEqual([...first.subarray(16, 20)], [127, 0, 0, 2]);

    bReady = false;
    await waitFor(async () => (await hap.backends()).find((s) => s.name === 'b')?.status === 'DOWN', 'backend b marked down');
    const before = b.firsts.length;
    for (let i = 0; i < 3; i++) assert.equal(await exchange(hap.port, '127.0.0.3'), 'ok');
    assert.equal(b.firsts.length, before, 'no new connection went to the backend that is not ready');
  } finally {
    await hap.stop();
    a.server.close();
    b.server.close();
    health.close();
  }
});
