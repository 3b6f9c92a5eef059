/**
 * The client side of PostgreSQL's password authentication: what to answer to each
 * AuthenticationRequest (cleartext, md5, SCRAM-SHA-256). The login state machine
 * (protocol/login-exchange.ts) asks it, for the gateway's upstream login and `pgmoat doctor`.
 */
import { BodyReader } from '../protocol/body-reader.js';
import { AuthCode } from '../protocol/codes.js';
import type { AuthStep, PasswordExchange, ServerAuthMethod } from '../protocol/login-exchange.js';
import * as msg from '../protocol/messages.js';
import { ScramClient, chooseSaslMechanism } from './scram-client.js';
import { md5Password } from './md5.js';

export class PasswordAuthClient implements PasswordExchange {
  /** The method the server asked for, 'none' until it asks for one. */
  method: ServerAuthMethod = 'none';
  private scram: ScramClient | undefined;
  private readonly reader = new BodyReader();

  constructor(
    private readonly user: string,
    private readonly password: string | undefined,
  ) {}

  /**
   * The answer to one Authentication message, its body (after the type and length) given.
   * Throws when the server's SCRAM messages do not verify, and ProtocolViolation (08P01) when
   * a SASL mechanism list is cut short.
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
        if (body.length < 8) return { kind: 'malformed', message: 'a truncated md5 request' };
        return { kind: 'send', message: msg.passwordMessage(md5Password(this.user, this.password, body.subarray(4, 8))) };
      case AuthCode.SASL: {
        this.method = 'scram-sha-256';
        if (this.password === undefined) return this.noPassword();
        const mechanism = chooseSaslMechanism(this.saslMechanisms(body));
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

  /** The mechanism names of an AuthenticationSASL body: C strings after the code, up to an empty one. */
  private saslMechanisms(body: Buffer): string[] {
    const r = this.reader.reset(body, 4, body.length, 'AuthenticationSASL');
    const out: string[] = [];
    try {
      while (r.remaining > 0) {
        const name = r.cstring();
        if (name === '') break;
        out.push(name);
      }
    } finally {
      r.clear();
    }
    return out;
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
function authMethodName(code: number): string {
  return `${UNSUPPORTED_METHOD_NAMES[code] ?? 'an unknown method'} (request code ${code})`;
}
