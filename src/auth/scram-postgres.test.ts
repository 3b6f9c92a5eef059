// The SCRAM and md5 code against a real PostgreSQL: verifiers PostgreSQL stored, and logins
// over the wire to PostgreSQL itself (a minimal startup + SASL exchange, written here so the
// test depends on nothing but the code under test and the server).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startPostgres, type PgServer } from '../../test/harness/postgres.js';
import { ScramClient, chooseSaslMechanism } from './scram-client.js';
import { ScramServer } from './scram-server.js';
import { makeScramSecret, parseScramSecret } from './scram-secret.js';
import { md5Password, md5StoredHash } from './md5.js';

let pg: PgServer;

before(async () => {
  pg = await startPostgres({
    hba: ['local all all trust', 'host all legacy 127.0.0.1/32 md5', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
  });
});

after(async () => {
  await pg?.stop();
});

/** A PostgreSQL string literal for any text: U&'' with escapes for everything not plain ASCII. */
function sqlLiteral(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "'") out += "''";
    else if (ch === '\\') out += '\\\\';
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code <= 0xffff) out += `\\${code.toString(16).padStart(4, '0')}`;
    else out += `\\+${code.toString(16).padStart(6, '0')}`;
  }
  return `U&'${out}'`;
}

function createRole(role: string, password: string, encryption: 'scram-sha-256' | 'md5'): string {
  pg.sql(`SET password_encryption = '${encryption}'; CREATE ROLE ${role} LOGIN PASSWORD ${sqlLiteral(password)}`);
  return pg.sql(`SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`);
}

/** Reads backend messages off a socket. */
class Wire {
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => this.#waiters.splice(0).forEach((w) => w()));
  }
  async read(): Promise<{ type: string; body: Buffer }> {
    for (;;) {
      if (this.#buf.length >= 5) {
        const len = this.#buf.readInt32BE(1);
        if (this.#buf.length >= 1 + len) {
          const msg = { type: String.fromCharCode(this.#buf[0]!), body: this.#buf.subarray(5, 1 + len) };
          this.#buf = this.#buf.subarray(1 + len);
          return msg;
        }
      }
      if (this.socket.destroyed) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
  send(type: string, body: Buffer): void {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    this.socket.write(Buffer.concat([head, body]));
  }
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const errorText = (body: Buffer): string =>
  body.toString('utf8').split('\0').filter((f) => f.startsWith('M') || f.startsWith('C')).join(' ');

/** Logs in to the real server as `user`; returns 'ok' or the error fields. */
async function login(user: string, password: string): Promise<string> {
  const socket = connect(pg.port, pg.host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const wire = new Wire(socket);
  try {
    const params = Buffer.concat([cstr('user'), cstr(user), cstr('database'), cstr('postgres'), Buffer.from([0])]);
    const startup = Buffer.concat([int32(196608), params]);
    socket.write(Buffer.concat([int32(startup.length + 4), startup]));
    let scram: ScramClient | undefined;
    for (;;) {
      const { type, body } = await wire.read();
      if (type === 'E') return errorText(body);
      assert.equal(type, 'R');
      const code = body.readInt32BE(0);
      if (code === 0) return 'ok';
      if (code === 5) {
        wire.send('p', cstr(md5Password(user, password, body.subarray(4, 8))));
      } else if (code === 10) {
        const mechs = body.subarray(4).toString('utf8').split('\0').filter(Boolean);
        const mech = chooseSaslMechanism(mechs);
        scram = new ScramClient(password);
        const first = Buffer.from(scram.clientFirstMessage(), 'utf8');
        wire.send('p', Buffer.concat([cstr(mech), int32(first.length), first]));
      } else if (code === 11) {
        wire.send('p', Buffer.from(await scram!.handleServerFirstAsync(body.subarray(4)), 'utf8'));
      } else if (code === 12) {
        scram!.verifyServerFinal(body.subarray(4));
      } else {
        throw new Error(`unexpected authentication request ${code}`);
      }
    }
  } finally {
    socket.destroy();
  }
}

/** Our client against our server holding PostgreSQL's verifier. */
function localExchange(secret: string, password: string): boolean {
  const client = new ScramClient(password);
  const server = new ScramServer(secret);
  const result = server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage())));
  if (result.ok) client.verifyServerFinal(result.serverFinal);
  return result.ok;
}

test('a verifier made by PostgreSQL authenticates the right password in our server and no other', async () => {
  const stored = createRole('u', 'secret', 'scram-sha-256');
  assert.match(stored, /^SCRAM-SHA-256\$4096:/);
  assert.equal(localExchange(stored, 'secret'), true);
  assert.equal(localExchange(stored, 'wrong'), false);
  // And our client logs in to PostgreSQL itself, which verifies it and is verified back.
  assert.equal(await login('u', 'secret'), 'ok');
  assert.match(await login('u', 'wrong'), /C28P01/);
});

test('makeScramSecret reproduces PostgreSQL verifiers exactly, SASLprep and its raw fallback included', async () => {
  const passwords = [
    'secret',
    'I\u00ADX', // soft hyphen mapped to nothing
    '\u2168', // NFKC
    'a\u00A0b\u3000c', // non-ASCII spaces
    'caf\u0065\u0301', // composed by NFKC
    'p\u00e4ss w\u00f6rd',
    '\u00AD', // empty after mapping: raw bytes
    '\u0627\u0031', // bidi rule: raw bytes
    '\u05D0a\u05D1', // RandALCat with LCat: raw bytes
    'x\uE000', // private use: raw bytes
    'x\u0007\u00e9', // control character with non-ASCII: raw bytes
    '\u{1F100}x', // unassigned in Unicode 3.2 (NFKC would make it "0."): raw bytes
    "it's \\ \"quoted\"",
  ];
  for (const [i, password] of passwords.entries()) {
    const role = `prep${i}`;
    const stored = createRole(role, password, 'scram-sha-256');
    const { salt, iterations } = parseScramSecret(stored);
    assert.equal(makeScramSecret(password, { salt, iterations }), stored, `password #${i} ${JSON.stringify(password)}`);
    assert.equal(localExchange(stored, password), true);
    assert.equal(await login(role, password), 'ok', `login #${i}`);
  }
});

test('md5: stored hash as PostgreSQL makes it, and a login with md5Password', async () => {
  const stored = createRole('legacy', 'Tr0ub4dor&3', 'md5');
  assert.equal(stored, md5StoredHash('legacy', 'Tr0ub4dor&3'));
  assert.equal(await login('legacy', 'Tr0ub4dor&3'), 'ok');
  assert.match(await login('legacy', 'tr0ub4dor&3'), /C28P01/);
});
