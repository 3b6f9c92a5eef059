/**
 * The socket side of the frontend client (SSLRequest, login) against scripted servers on
 * loopback TCP: hang-ups mid-message, resets, timeouts. No PostgreSQL needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { AuthCode } from '../protocol/codes.js';
import { authRequest, loginWelcome } from '../protocol/messages.js';
import { parseStartupPacket } from '../protocol/startup.js';
import { login, type LoginEnd } from './login.js';
import { UpstreamReader } from './reader.js';
import { requestSsl } from './ssl-request.js';

const MD5_REQUEST = authRequest(AuthCode.MD5Password, Buffer.from([1, 2, 3, 4]));
const WELCOME = loginWelcome([['server_version', '16.2']], 77, 88);

/** A server that runs `script` on each connection, handing it the first bytes the client sent. */
async function scripted(script: (socket: Socket, first: Buffer) => void): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (first) => script(socket, first));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

async function dial(port: number, reader: UpstreamReader | null = null): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, ...(reader ? { onread: reader.option } : {}) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function logIn(socket: Socket, reader: UpstreamReader | null, signal = new AbortController().signal): Promise<LoginEnd> {
  return login({ socket, reader, user: 'app', password: 'pw', startup: { user: 'app', database: 'appdb' }, signal });
}

test('login over loopback, with and without the shared read buffer: ready, socket left open and paused', async () => {
  let startup: unknown;
  const { port, server } = await scripted((socket, first) => {
    startup = parseStartupPacket(first);
    socket.write(WELCOME);
  });
  try {
    for (const reader of [null, new UpstreamReader()]) {
      const socket = await dial(port, reader);
      const end = await logIn(socket, reader);
      assert.deepEqual(end.kind === 'ready' && [end.pid, end.secret, end.params.get('server_version')], [77, 88, '16.2']);
      assert.equal(socket.destroyed, false);
      assert.equal(socket.listenerCount('data'), 0, 'nobody reads the socket after the login');
      socket.destroy();
    }
    assert.deepEqual(startup, { kind: 'startup', major: 3, minor: 0, params: new Map([['user', 'app'], ['database', 'appdb']]) });
  } finally {
    server.close();
  }
});

test('a server that hangs up at any byte of the login: closed, replied once a whole message came, socket destroyed', async () => {
  const stream = Buffer.concat([MD5_REQUEST, WELCOME]);
  let cut = 0;
  const { port, server } = await scripted((socket) => socket.end(stream.subarray(0, cut)));
  try {
    for (cut = 0; cut < stream.length; cut++) {
      const reader = cut % 2 === 0 ? new UpstreamReader() : null;
      const socket = await dial(port, reader);
      const end = await logIn(socket, reader);
      assert.deepEqual(end, { kind: 'closed', replied: cut >= MD5_REQUEST.length }, `hang-up after ${cut} bytes`);
      assert.equal(socket.destroyed, true);
    }
  } finally {
    server.close();
  }
});

test('a reset is a socket error; an abort (the connect timeout) ends a login that gets no answer', async () => {
  const reset = await scripted((socket) => socket.resetAndDestroy());
  const silent = await scripted(() => undefined);
  try {
    const socket = await dial(reset.port);
    const end = await logIn(socket, null);
    assert.equal(end.kind === 'socket-error' && end.error.code, 'ECONNRESET', JSON.stringify(end));
    const quiet = await dial(silent.port);
    const abort = new AbortController();
    const pending = logIn(quiet, null, abort.signal);
    abort.abort(new Error('timed out'));
    const aborted = await pending;
    assert.equal(aborted.kind === 'aborted' && (aborted.reason as Error).message, 'timed out');
    assert.equal(quiet.destroyed, true);
  } finally {
    reset.server.close();
    silent.server.close();
  }
});

test("SSLRequest: 'S' and 'N' leave the socket open; bytes after 'S', an ErrorResponse, foreign bytes, a hang-up or an abort destroy it", async () => {
  const answers: Record<string, Buffer | null> = {
    tls: Buffer.from('S'),
    plain: Buffer.from('N'),
    injected: Buffer.from('SZ\0\0\0\x05I'),
    'error-response': Buffer.from('E\0\0\0\x08C08P01'),
    foreign: Buffer.from('HTTP/1.1 400'),
    closed: null,
  };
  let answer: Buffer | null = null;
  const { port, server } = await scripted((socket, first) => {
    assert.deepEqual(parseStartupPacket(first), { kind: 'ssl' });
    if (answer) socket.write(answer);
    else socket.end();
  });
  try {
    for (const [kind, bytes] of Object.entries(answers)) {
      answer = bytes;
      const reader = kind === 'plain' ? new UpstreamReader() : null;
      const socket = await dial(port, reader);
      const outcome = await requestSsl(socket, new AbortController().signal, reader);
      assert.equal(outcome.kind, kind);
      assert.equal(socket.destroyed, kind !== 'tls' && kind !== 'plain', kind);
      socket.destroy();
    }
    const silent = await scripted(() => undefined);
    const socket = await dial(silent.port);
    const abort = new AbortController();
    const pending = requestSsl(socket, abort.signal);
    abort.abort('late');
    assert.deepEqual(await pending, { kind: 'aborted', reason: 'late' });
    assert.equal(socket.destroyed, true);
    silent.server.close();
  } finally {
    server.close();
  }
});
