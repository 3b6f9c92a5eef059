/**
 * The password exchange with a client, between its StartupMessage and AuthenticationOk:
 * SCRAM-SHA-256 (AuthenticationSASL -> SASLContinue -> SASLFinal), md5, or a cleartext
 * password, as PostgreSQL's auth.c runs them. An unknown role goes through the same exchange
 * (a mock SCRAM with a salt that is stable per role) and ends in the same error as a wrong
 * password: `password authentication failed for user "x"` (28P01).
 */
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { BodyReader } from '../protocol/body-reader.js';
import { AuthCode, Frontend } from '../protocol/codes.js';
import * as msg from '../protocol/messages.js';
import { PgmoatError } from '../util/errors.js';
import { FrontendReader, type FrontendMessage } from './frontend-reader.js';
import { ScramServer, SCRAM_SERVER_MECHANISMS, assertClientMechanism } from './scram-server.js';
import { SCRAM_DEFAULT_ITERATIONS, safeEqual, scramProtocolError } from './scram-common.js';
import { verifyMd5Response, md5StoredHash } from './md5.js';
import { scramSecretMatchesPassword } from './scram-secret.js';
import type { ClientSecret, SecretLookup } from './client-secrets.js';
import type { PasswordMethod } from './rules.js';

/** PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH. */
const MAX_AUTH_MESSAGE = 65535;

export interface ClientAuthOptions {
  socket: Socket;
  /** Bytes that came after the StartupMessage. */
  leftover: Buffer | undefined;
  role: string;
  method: PasswordMethod;
  lookup: SecretLookup;
  /** Key of the mock exchange for unknown roles (see README "Client passwords"). */
  mockKey: Buffer;
  /** Aborted when the login deadline passes. */
  signal?: AbortSignal;
}

export function passwordFailed(role: string): PgmoatError {
  return new PgmoatError('BAD_PASSWORD', `password authentication failed for user "${role}"`);
}

function expectPassword(m: FrontendMessage): Buffer {
  if (m.type !== Frontend.Password) {
    throw new PgmoatError('BAD_AUTH_MESSAGE', `expected password response, got message type ${m.type}`);
  }
  return m.body;
}

/** The one C string a PasswordMessage holds (a password or an md5 hash). */
function passwordText(body: Buffer): string {
  return new BodyReader().reset(body, 0, body.length, 'password').cstring();
}

async function scramExchange(o: ClientAuthOptions, reader: FrontendReader, secret: ClientSecret | undefined): Promise<void> {
  const server = secret?.scram
    ? new ScramServer(secret.scram)
    : ScramServer.forUnknownUser(o.role, o.mockKey, { iterations: SCRAM_DEFAULT_ITERATIONS });
  o.socket.write(msg.authSasl(SCRAM_SERVER_MECHANISMS));
  const initial = expectPassword(await reader.next());
  const r = new BodyReader().reset(initial, 0, initial.length, 'SASLInitialResponse');
  assertClientMechanism(r.cstring());
  const len = r.int32();
  const data = r.rest();
  if (len === -1 || len !== data.length) throw scramProtocolError('malformed SASLInitialResponse (bad data length)');
  const serverFirst = server.handleClientFirst(data);
  o.socket.write(msg.authRequest(AuthCode.SASLContinue, Buffer.from(serverFirst, 'utf8')));
  const final = server.handleClientFinal(expectPassword(await reader.next()));
  if (!final.ok) throw passwordFailed(o.role);
  o.socket.write(msg.authRequest(AuthCode.SASLFinal, Buffer.from(final.serverFinal, 'utf8')));
}

async function md5Exchange(o: ClientAuthOptions, reader: FrontendReader, secret: ClientSecret | undefined): Promise<void> {
  const salt = randomBytes(4);
  o.socket.write(msg.authRequest(AuthCode.MD5Password, salt));
  const body = expectPassword(await reader.next());
  const response = passwordText(body);
  // Unknown role: compare against a hash nobody knows, so the work and the answer are the same.
  const stored = secret?.md5 ?? md5StoredHash(o.role, randomBytes(32));
  if (!verifyMd5Response(stored, o.role, salt, response)) throw passwordFailed(o.role);
}

async function cleartextExchange(o: ClientAuthOptions, reader: FrontendReader, secret: ClientSecret | undefined): Promise<void> {
  o.socket.write(msg.authRequest(AuthCode.CleartextPassword));
  const body = expectPassword(await reader.next());
  const password = passwordText(body);
  let ok = false;
  if (password !== '' && secret?.scram) ok = scramSecretMatchesPassword(secret.scram, password);
  else if (password !== '' && secret?.md5) ok = safeEqual(Buffer.from(md5StoredHash(o.role, password)), Buffer.from(secret.md5));
  if (!ok) throw passwordFailed(o.role);
}

/**
 * Runs the exchange on the client's socket; on success returns the bytes that followed the
 * last password message. Throws BAD_PASSWORD (28P01), a protocol error (08P01), or
 * AuthAbandoned when the client leaves or the deadline passes.
 */
export async function authenticateClient(o: ClientAuthOptions): Promise<Buffer | undefined> {
  const reader = new FrontendReader(o.socket, o.leftover, MAX_AUTH_MESSAGE, o.signal);
  let rest: Buffer | undefined;
  try {
    const secret = await o.lookup(o.role);
    switch (o.method) {
      case 'scram-sha-256':
        await scramExchange(o, reader, secret);
        break;
      case 'md5':
        // As PostgreSQL: a role whose only secret is a SCRAM verifier is asked for SCRAM.
        if (secret?.scram && !secret.md5) await scramExchange(o, reader, secret);
        else await md5Exchange(o, reader, secret);
        break;
      case 'password':
        await cleartextExchange(o, reader, secret);
        break;
    }
  } finally {
    // Detach in every case so that no listener of ours stays on the socket.
    rest = reader.detach();
  }
  return rest;
}
