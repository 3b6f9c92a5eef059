/**
 * SCRAM-SHA-256 client for logging in to an upstream PostgreSQL, as libpq does it without
 * channel binding: gs2 header `n,,`, an empty user name (the server takes the role from the
 * StartupMessage), and the password SASLprep'd with PostgreSQL's raw-bytes fallback.
 *
 * A state machine: clientFirstMessage() -> handleServerFirst() -> verifyServerFinal().
 * Calling out of order, or any malformed or dishonest server message, throws a PgmoatError
 * with code SCRAM_PROTOCOL (SQLSTATE 08P01).
 */
import { PgmoatError } from '../util/errors.js';
import { scramPasswordBytes } from './saslprep.js';
import {
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  decodeBase64,
  expectAttribute,
  hmacSha256,
  isPrintableNonce,
  keysFromSaltedPassword,
  messageText,
  parseAttributes,
  parseIterations,
  randomNonce,
  safeEqual,
  saltedPassword,
  saltedPasswordAsync,
  scramProtocolError,
  xor,
} from './scram-common.js';

const GS2_HEADER = 'n,,';

export interface ScramClientOptions {
  /** The `n=` attribute; libpq sends an empty one. RFC test vectors need "user". */
  username?: string;
  /** Fixed client nonce, for test vectors only. Default: 18 random bytes in base64. */
  nonce?: string;
}

type Phase =
  | { name: 'initial' }
  | { name: 'first-sent'; clientFirstBare: string }
  | { name: 'final-sent'; serverSignature: Buffer }
  | { name: 'done' };

interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
}

/** Escapes a SASL name: ',' and '=' are not allowed raw (RFC 5802 section 5.1). */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export class ScramClient {
  readonly mechanism = SCRAM_SHA_256;
  readonly #password: Buffer;
  readonly #nonce: string;
  readonly #username: string;
  #phase: Phase = { name: 'initial' };

  constructor(password: string | Buffer, options: ScramClientOptions = {}) {
    this.#password = scramPasswordBytes(password);
    this.#nonce = options.nonce ?? randomNonce();
    if (!isPrintableNonce(this.#nonce)) throw new TypeError('SCRAM client nonce must be printable ASCII without ","');
    this.#username = options.username ?? '';
  }

  /** The SASLInitialResponse payload. */
  clientFirstMessage(): string {
    if (this.#phase.name !== 'initial') throw scramProtocolError('SCRAM client-first-message already sent');
    const clientFirstBare = `n=${saslName(this.#username)},r=${this.#nonce}`;
    this.#phase = { name: 'first-sent', clientFirstBare };
    return GS2_HEADER + clientFirstBare;
  }

  /** Takes the AuthenticationSASLContinue payload and returns the SASLResponse payload. */
  handleServerFirst(msg: string | Buffer): string {
    const { clientFirstBare, text, first } = this.#parseServerFirst(msg);
    return this.#finish(clientFirstBare, text, first, saltedPassword(this.#password, first.salt, first.iterations));
  }

  /** handleServerFirst with PBKDF2 off the event loop. */
  async handleServerFirstAsync(msg: string | Buffer): Promise<string> {
    const { clientFirstBare, text, first } = this.#parseServerFirst(msg);
    const salted = await saltedPasswordAsync(this.#password, first.salt, first.iterations);
    return this.#finish(clientFirstBare, text, first, salted);
  }

  /** Checks the AuthenticationSASLFinal payload; throws unless the server proved it knows the secret. */
  verifyServerFinal(msg: string | Buffer): void {
    if (this.#phase.name !== 'final-sent') throw scramProtocolError('SCRAM server-final-message arrived out of order');
    const expected = this.#phase.serverSignature;
    this.#phase = { name: 'done' };
    const text = messageText(msg, 'server-final-message');
    const attrs = parseAttributes(text, 'server-final-message');
    const first = attrs[0];
    if (first?.name === 'e') {
      const reported = first.value.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
      throw new PgmoatError('SCRAM_SERVER_ERROR', `SCRAM authentication failed: server reported "${reported}"`, {
        });
    }
    const signature = decodeBase64(expectAttribute(attrs, 0, 'v', 'server-final-message'));
    if (signature === undefined) throw scramProtocolError('malformed SCRAM message (invalid server signature encoding)');
    if (attrs.length > 1) throw scramProtocolError('malformed SCRAM message (garbage at end of server-final-message)');
    if (!safeEqual(signature, expected)) {
      throw scramProtocolError('incorrect server signature: the server does not know the password');
    }
  }

  #parseServerFirst(msg: string | Buffer): { clientFirstBare: string; text: string; first: ServerFirst } {
    if (this.#phase.name !== 'first-sent') throw scramProtocolError('SCRAM server-first-message arrived out of order');
    const { clientFirstBare } = this.#phase;
    // Whatever happens next, this exchange cannot be resumed.
    this.#phase = { name: 'done' };
    const what = 'server-first-message';
    const text = messageText(msg, what);
    const attrs = parseAttributes(text, what);
    if (attrs[0]?.name === 'm') throw scramProtocolError('server requires an unsupported SCRAM extension');
    const nonce = expectAttribute(attrs, 0, 'r', what);
    const saltText = expectAttribute(attrs, 1, 's', what);
    const iterText = expectAttribute(attrs, 2, 'i', what);
    if (!isPrintableNonce(nonce)) throw scramProtocolError('malformed SCRAM message (invalid server nonce)');
    if (nonce.length <= this.#nonce.length || !nonce.startsWith(this.#nonce)) {
      throw scramProtocolError('invalid SCRAM response (nonce mismatch)');
    }
    const salt = decodeBase64(saltText);
    if (salt === undefined || salt.length === 0) throw scramProtocolError('malformed SCRAM message (invalid salt)');
    const iterations = parseIterations(iterText, what);
    return { clientFirstBare, text, first: { nonce, salt, iterations } };
  }

  #finish(clientFirstBare: string, serverFirst: string, first: ServerFirst, salted: Buffer): string {
    const keys = keysFromSaltedPassword(salted);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${first.nonce}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmacSha256(keys.storedKey, authMessage);
    const proof = xor(keys.clientKey, clientSignature);
    this.#phase = { name: 'final-sent', serverSignature: hmacSha256(keys.serverKey, authMessage) };
    return `${withoutProof},p=${proof.toString('base64')}`;
  }
}

/**
 * Picks the mechanism from an AuthenticationSASL list. pgmoat does not do channel binding,
 * so a server that offers only SCRAM-SHA-256-PLUS cannot be logged in to.
 */
export function chooseSaslMechanism(mechs: readonly string[]): typeof SCRAM_SHA_256 {
  if (mechs.includes(SCRAM_SHA_256)) return SCRAM_SHA_256;
  if (mechs.includes(SCRAM_SHA_256_PLUS)) {
    throw new PgmoatError(
      'SASL_MECHANISM_UNSUPPORTED',
      'the server offers only SCRAM-SHA-256-PLUS, which needs channel binding, and pgmoat does not support channel binding',
      {
        hint: 'Allow plain SCRAM-SHA-256 for this role on the server (do not require channel binding).',
      },
    );
  }
  const offered = mechs.length === 0 ? 'none' : mechs.map((m) => JSON.stringify(m)).join(', ');
  throw new PgmoatError('SASL_MECHANISM_UNSUPPORTED', `none of the SASL mechanisms the server offers is supported (offered: ${offered})`, {
    });
}
