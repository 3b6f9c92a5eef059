/**
 * Server side of SCRAM-SHA-256, for authenticating clients of pgmoat against a stored
 * verifier, as PostgreSQL's auth-scram.c does: no channel binding (a `p=` request is
 * refused, `y,,` and `n,,` accepted), no authorization identity, the `n=` user name ignored
 * (the role comes from the StartupMessage).
 *
 * handleClientFirst() -> handleClientFinal(). A wrong proof is `{ ok: false }`; a malformed
 * message throws a PgmoatError (SCRAM_PROTOCOL, SQLSTATE 08P01). An unknown role goes through
 * the same steps with a mock salt (forUnknownUser) and ends in the same `{ ok: false }`.
 */
import { randomBytes } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import { parseScramSecret, scramSecretFromPassword, type ScramSecret } from './scram-secret.js';
import {
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_DEFAULT_SALT_LEN,
  SCRAM_KEY_LEN,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  decodeBase64,
  expectAttribute,
  hmacSha256,
  isPrintableNonce,
  messageText,
  parseAttributes,
  randomNonce,
  safeEqual,
  scramProtocolError,
  sha256,
  xor,
} from './scram-common.js';

/** A stored verifier (parsed or as text), or a cleartext password to derive one from. */
export type ScramServerCredential = ScramSecret | string | { plaintext: string | Buffer; iterations?: number };

export type ScramFinalResult = { ok: true; serverFinal: string } | { ok: false };

export interface ScramServerOptions {
  /** Server part of the nonce, for tests only. Default: 18 random bytes in base64. */
  serverNonce?: string;
}

export interface MockOptions extends ScramServerOptions {
  /** Iterations to advertise; use the ones real secrets have, or the mock stands out. */
  iterations?: number;
}

type Phase =
  | { name: 'initial' }
  | { name: 'first-received'; gs2Header: string; clientFirstBare: string; serverFirst: string; nonce: string }
  | { name: 'done' };

// Not exported: only forUnknownUser can build an exchange that always fails.
const DOOMED: unique symbol = Symbol('doomed');

/** What the session layer sends in AuthenticationSASL. */
export const SCRAM_SERVER_MECHANISMS: readonly string[] = [SCRAM_SHA_256];

/** Checks the mechanism named in SASLInitialResponse, as PostgreSQL does. */
export function assertClientMechanism(name: string): void {
  if (name === SCRAM_SHA_256) return;
  if (name === SCRAM_SHA_256_PLUS) throw channelBindingUnsupported();
  throw scramProtocolError('client selected an invalid SASL authentication mechanism');
}

function channelBindingUnsupported(): PgmoatError {
  return new PgmoatError('SCRAM_CHANNEL_BINDING_UNSUPPORTED', 'the client requires SCRAM channel binding, which pgmoat does not support', {
    hint: 'Connect without requiring channel binding (libpq: channel_binding=prefer or disable).',
  });
}

function toSecret(credential: ScramServerCredential): ScramSecret {
  if (typeof credential === 'string') return parseScramSecret(credential);
  if ('plaintext' in credential) {
    return scramSecretFromPassword(credential.plaintext, { iterations: credential.iterations ?? SCRAM_DEFAULT_ITERATIONS });
  }
  return credential;
}

export class ScramServer {
  readonly mechanism = SCRAM_SHA_256;
  readonly #secret: ScramSecret;
  readonly #doomed: boolean;
  readonly #serverNonce: string;
  #phase: Phase = { name: 'initial' };

  constructor(credential: ScramServerCredential, options: ScramServerOptions = {}, doomed?: typeof DOOMED) {
    this.#secret = toSecret(credential);
    this.#doomed = doomed === DOOMED;
    this.#serverNonce = ScramServer.#checkNonce(options.serverNonce);
  }

  /**
   * An exchange that looks like a real one and always fails, for a role that does not exist
   * (or has no usable SCRAM secret). The salt is derived from the role and a key that must
   * stay the same across restarts and gateway instances (PostgreSQL's mock_auth_nonce):
   * asking twice for the same unknown role yields the same salt, as for a real one.
   */
  static forUnknownUser(role: string, mockSecretKey: Buffer | string, options: MockOptions = {}): ScramServer {
    const key = typeof mockSecretKey === 'string' ? Buffer.from(mockSecretKey, 'utf8') : mockSecretKey;
    if (key.length < 16) throw new TypeError('the SCRAM mock secret key must be at least 16 bytes');
    const salt = hmacSha256(key, `pgmoat scram mock salt\0${role}`).subarray(0, SCRAM_DEFAULT_SALT_LEN);
    const iterations = options.iterations ?? SCRAM_DEFAULT_ITERATIONS;
    // Random keys keep the final check as costly as a real one; the result is discarded anyway.
    const secret: ScramSecret = { iterations, salt, storedKey: randomBytes(SCRAM_KEY_LEN), serverKey: randomBytes(SCRAM_KEY_LEN) };
    return new ScramServer(secret, options, DOOMED);
  }

  static #checkNonce(nonce: string | undefined): string {
    if (nonce === undefined) return randomNonce();
    if (!isPrintableNonce(nonce)) throw new TypeError('SCRAM server nonce must be printable ASCII without ","');
    return nonce;
  }

  /** Takes the SASLInitialResponse data and returns the AuthenticationSASLContinue data. */
  handleClientFirst(msg: string | Buffer): string {
    if (this.#phase.name !== 'initial') throw scramProtocolError('SCRAM client-first-message arrived out of order');
    this.#phase = { name: 'done' };
    const text = messageText(msg, 'client-first-message');
    const firstComma = text.indexOf(',');
    if (firstComma < 0) throw scramProtocolError('malformed SCRAM message (no GS2 header)');
    const flag = text.slice(0, firstComma);
    if (flag === 'p' || flag.startsWith('p=')) throw channelBindingUnsupported();
    if (flag !== 'n' && flag !== 'y') {
      throw scramProtocolError('malformed SCRAM message (unexpected channel-binding flag)');
    }
    const secondComma = text.indexOf(',', firstComma + 1);
    if (secondComma < 0) throw scramProtocolError('malformed SCRAM message (incomplete GS2 header)');
    const authzid = text.slice(firstComma + 1, secondComma);
    if (authzid.startsWith('a=')) throw scramProtocolError('client uses authorization identity, but it is not supported');
    if (authzid !== '') throw scramProtocolError('malformed SCRAM message (unexpected attribute in GS2 header)');
    const gs2Header = text.slice(0, secondComma + 1);
    const clientFirstBare = text.slice(secondComma + 1);
    const what = 'client-first-message';
    const attrs = parseAttributes(clientFirstBare, what);
    if (attrs[0]?.name === 'm') throw scramProtocolError('client requires an unsupported SCRAM extension');
    expectAttribute(attrs, 0, 'n', what);
    const clientNonce = expectAttribute(attrs, 1, 'r', what);
    if (!isPrintableNonce(clientNonce)) throw scramProtocolError('malformed SCRAM message (invalid client nonce)');
    // Attributes after r= are extensions, which RFC 5802 says to ignore.
    const nonce = clientNonce + this.#serverNonce;
    const { salt, iterations } = this.#secret;
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.#phase = { name: 'first-received', gs2Header, clientFirstBare, serverFirst, nonce };
    return serverFirst;
  }

  /** Takes the SASLResponse data; on success returns the AuthenticationSASLFinal data. */
  handleClientFinal(msg: string | Buffer): ScramFinalResult {
    if (this.#phase.name !== 'first-received') throw scramProtocolError('SCRAM client-final-message arrived out of order');
    const { gs2Header, clientFirstBare, serverFirst, nonce } = this.#phase;
    this.#phase = { name: 'done' };
    const what = 'client-final-message';
    const text = messageText(msg, what);
    const attrs = parseAttributes(text, what);
    const binding = decodeBase64(expectAttribute(attrs, 0, 'c', what));
    if (binding === undefined) throw scramProtocolError('malformed SCRAM message (invalid channel-binding data)');
    if (!binding.equals(Buffer.from(gs2Header, 'utf8'))) throw scramProtocolError('SCRAM channel binding check failed');
    if (expectAttribute(attrs, 1, 'r', what) !== nonce) throw scramProtocolError('SCRAM nonce mismatch');
    const last = attrs[attrs.length - 1]!;
    if (attrs.length < 3 || last.name !== 'p') throw scramProtocolError('malformed SCRAM message (no proof at the end of client-final-message)');
    const proof = decodeBase64(last.value);
    if (proof === undefined || proof.length !== SCRAM_KEY_LEN) throw scramProtocolError('malformed SCRAM message (invalid ClientProof)');
    const withoutProof = text.slice(0, text.lastIndexOf(','));
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = this.#secret;
    const clientKey = xor(proof, hmacSha256(storedKey, authMessage));
    const matches = safeEqual(sha256(clientKey), storedKey);
    if (!matches || this.#doomed) return { ok: false };
    return { ok: true, serverFinal: `v=${hmacSha256(serverKey, authMessage).toString('base64')}` };
  }
}
