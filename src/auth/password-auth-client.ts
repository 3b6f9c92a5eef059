/**
 * The client side of PostgreSQL's password authentication: what to answer to each
 * AuthenticationRequest (cleartext, md5, SCRAM-SHA-256). Shared by the gateway's upstream login
 * and `pgmoat doctor`, which differ only in what they do when a step cannot be taken.
 */
import { AuthCode } from '../protocol/codes.js';
import * as msg from '../protocol/messages.js';
import { ScramClient, chooseSaslMechanism } from './scram-client.js';
import { md5Password } from './md5.js';

export type PasswordMethod = 'none' | 'cleartext' | 'md5' | 'scram-sha-256';

export type AuthStep =
  /** AuthenticationOk, or a SASLFinal whose server signature verified: nothing to send. */
  | { kind: 'nothing' }
  | { kind: 'send'; message: Buffer }
  /** The server asks for a password and none is known. */
  | { kind: 'needs-password'; method: PasswordMethod }
  /** A method pgmoat does not speak: `name` says which (GSSAPI, SSPI, ...) and its request code. */
  | { kind: 'unsupported'; code: number; name: string }
  /** A truncated request, or a SASL step before its start. */
  | { kind: 'malformed'; message: string };

export class PasswordAuthClient {
  /** The method the server asked for, 'none' until it asks for one. */
  method: PasswordMethod = 'none';
  private scram: ScramClient | undefined;

  constructor(
    private readonly user: string,
    private readonly password: string | undefined,
  ) {}

  /**
   * The answer to one Authentication message, its body (after the type and length) given.
   * Throws when the server's SCRAM messages do not verify.
   */
  answer(body: Buffer): AuthStep {
    if (body.length < 4) return { kind: 'malformed', message: 'a truncated authentication request' };
    const code = body.readInt32BE(0);
    switch (code) {
      case AuthCode.Ok:
        return { kind: 'nothing' };
      case AuthCode.CleartextPassword:
        this.method = 'cleartext';
        return this.password === undefined ? this.noPassword() : { kind: 'send', message: msg.passwordMessage(this.password) };
      case AuthCode.MD5Password:
        this.method = 'md5';
        if (this.password === undefined) return this.noPassword();
        return { kind: 'send', message: msg.passwordMessage(md5Password(this.user, this.password, body.subarray(4, 8))) };
      case AuthCode.SASL: {
        this.method = 'scram-sha-256';
        if (this.password === undefined) return this.noPassword();
        const mechanism = chooseSaslMechanism(saslMechanisms(body));
        this.scram = new ScramClient(this.password);
        return { kind: 'send', message: msg.saslInitialResponse(mechanism, this.scram.clientFirstMessage()) };
      }
      case AuthCode.SASLContinue:
        if (!this.scram) return { kind: 'malformed', message: 'SASLContinue out of order' };
        return { kind: 'send', message: msg.saslResponse(this.scram.handleServerFirst(body.subarray(4))) };
      case AuthCode.SASLFinal:
        if (!this.scram) return { kind: 'malformed', message: 'SASLFinal out of order' };
        this.scram.verifyServerFinal(body.subarray(4));
        return { kind: 'nothing' };
      default:
        return { kind: 'unsupported', code, name: authMethodName(code) };
    }
  }

  private noPassword(): AuthStep {
    return { kind: 'needs-password', method: this.method };
  }
}

/** Methods a server may ask for that pgmoat does not speak, by request code. */
const UNSUPPORTED_METHOD_NAMES: Readonly<Record<number, string>> = {
  [AuthCode.KerberosV5]: 'Kerberos V5',
  6: 'SCM credentials',
  [AuthCode.GSS]: 'GSSAPI',
  [AuthCode.GSSContinue]: 'GSSAPI',
  [AuthCode.SSPI]: 'SSPI',
};

/** e.g. `GSSAPI (request code 7)`, or `an unknown method (request code 42)`. */
export function authMethodName(code: number): string {
  return `${UNSUPPORTED_METHOD_NAMES[code] ?? 'an unknown method'} (request code ${code})`;
}

/** The mechanism names of an AuthenticationSASL body: NUL-terminated strings, then an empty one. */
function saslMechanisms(body: Buffer): string[] {
  const out: string[] = [];
  let i = 4;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i);
    if (end < 0) break;
    out.push(body.toString('utf8', i, end));
    i = end + 1;
  }
  return out;
}
