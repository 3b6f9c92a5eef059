/**
 * The frontend side of a PostgreSQL login as one state machine, without any socket: bytes from
 * the server go in through feed(), what to send comes out through `send`, and the end of the
 * login comes out once through `done`. The upstream dialer and `pgmoat doctor` both drive it.
 *
 *   authenticating --AuthenticationOk--> welcome --ReadyForQuery--> done (ready)
 *   authenticating: Authentication requests, answered by the injected PasswordExchange
 *   welcome:        ParameterStatus and BackendKeyData
 *   any phase:      ErrorResponse ends it (refused); NoticeResponse and NegotiateProtocolVersion
 *                   are skipped; anything else, or a message out of its phase, is a protocol error
 *
 * The password exchange (cleartext, md5, SCRAM-SHA-256) is injected: it lives in auth/, which
 * ranks above protocol/, and the machine only needs "what do I answer to this request".
 */
import { assertNever } from '../util/errors.js';
import { AuthCode, Backend } from './codes.js';
import { BodyReader, ProtocolViolation } from './body-reader.js';
import { parseErrorFields, type ErrorFields } from './error-response.js';
import { DROP, FrameScanner, type FrameAction, type FrameHandler } from './frame-scanner.js';
import { startupMessage } from './messages.js';
import { readParameterStatus } from './parameter-status.js';

/** The password method a server asked the client for; 'none' until it asks (trust, cert). */
export type ServerAuthMethod = 'none' | 'cleartext' | 'md5' | 'scram-sha-256';

/** What to do about one Authentication request. */
export type AuthStep =
  /** AuthenticationOk, or a SASLFinal whose server signature verified: nothing to send. */
  | { kind: 'nothing' }
  | { kind: 'send'; message: Buffer }
  /** The server asks for a password and none is known. */
  | { kind: 'needs-password'; method: ServerAuthMethod }
  /** A method pgmoat does not speak: `name` says which (GSSAPI, SSPI, ...) and its request code. */
  | { kind: 'unsupported'; code: number; name: string }
  /** A truncated request, or a SASL step before its start. */
  | { kind: 'malformed'; message: string };

/** The client side of the password exchange (auth/password-auth-client.ts). */
export interface PasswordExchange {
  /** The method the server asked for, 'none' until it asks for one. */
  readonly method: ServerAuthMethod;
  /** The answer to one Authentication body; throws when the server's SCRAM messages do not verify. */
  answer(body: Buffer): AuthStep;
}

export type LoginPhase = 'authenticating' | 'welcome' | 'done';

/**
 * How a login ended, as far as the messages tell. `message` of a protocol error reads after
 * the server's name: "<the server> sent a message of invalid length 3".
 */
export type LoginResult =
  | { kind: 'ready'; params: Map<string, string>; pid: number; secret: number; txStatus: number; method: ServerAuthMethod }
  /** An ErrorResponse; `replied`: other messages came before it (an authentication request, ...). */
  | { kind: 'refused'; fields: ErrorFields; replied: boolean; method: ServerAuthMethod }
  | { kind: 'needs-password'; method: ServerAuthMethod }
  | { kind: 'unsupported'; code: number; name: string; method: ServerAuthMethod }
  /** The exchange did not verify (a SCRAM server signature, an unknown SASL mechanism). */
  | { kind: 'auth-failed'; error: unknown; method: ServerAuthMethod }
  | { kind: 'protocol'; message: string; method: ServerAuthMethod };

export interface LoginIo {
  send(buf: Buffer): void;
  /** Called once, from within feed(); nothing after it is read. */
  done(result: LoginResult): void;
}

/** Login messages are small; a server that sends more than this is not one to log in to. */
const MAX_LOGIN_MESSAGE = 1 << 20;

export class LoginExchange implements FrameHandler {
  private readonly scanner = new FrameScanner(this, { write: () => undefined }, MAX_LOGIN_MESSAGE);
  private readonly reader = new BodyReader();
  private readonly params = new Map<string, string>();
  private pid = 0;
  private secret = 0;
  private messages = 0;
  phase: LoginPhase = 'authenticating';

  constructor(
    private readonly auth: PasswordExchange,
    private readonly io: LoginIo,
  ) {
    // Every message is read within onMessage (copied by the scanner when split across reads),
    // so views of a shared read buffer are safe to feed.
    this.scanner.captureAll();
  }

  /** The StartupMessage (protocol 3.0) with these parameters; user and database among them. */
  start(params: ReadonlyMap<string, string> | Record<string, string>): void {
    this.io.send(startupMessage(params));
  }

  /** Whether the server has sent any whole message yet. */
  get replied(): boolean {
    return this.messages > 0;
  }

  feed(chunk: Buffer): void {
    this.scanner.scan(chunk);
  }

  /** The connection ended the login (closed, failed, timed out): bytes fed later are ignored. */
  abandon(): void {
    this.phase = 'done';
    this.scanner.stop();
  }

  onBadLength(_type: number, length: number): void {
    this.finish({ kind: 'protocol', message: `sent a message of invalid length ${length}`, method: this.auth.method });
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): FrameAction {
    if (this.phase === 'done') return DROP;
    const earlier = this.messages++;
    try {
      this.handle(type, buf, start, end, earlier > 0);
    } catch (err) {
      this.finish(
        err instanceof ProtocolViolation
          ? { kind: 'protocol', message: `sent ${err.message}`, method: this.auth.method }
          : { kind: 'auth-failed', error: err, method: this.auth.method },
      );
    } finally {
      this.reader.clear();
    }
    return DROP;
  }

  private handle(type: number, buf: Buffer, start: number, end: number, replied: boolean): void {
    const method = this.auth.method;
    switch (type) {
      case Backend.Authentication:
        if (this.phase !== 'authenticating') return this.outOfPhase('an authentication request after AuthenticationOk');
        return this.authenticate(buf.subarray(start, end));
      case Backend.ErrorResponse:
        return this.finish({ kind: 'refused', fields: parseErrorFields(buf.subarray(start, end)), replied, method });
      case Backend.ParameterStatus:
        if (this.phase !== 'welcome') return this.outOfPhase('ParameterStatus before AuthenticationOk');
        if (!readParameterStatus(buf, start, end, this.params)) throw new ProtocolViolation('a malformed ParameterStatus message');
        return;
      case Backend.BackendKeyData: {
        if (this.phase !== 'welcome') return this.outOfPhase('BackendKeyData before AuthenticationOk');
        const r = this.reader.reset(buf, start, end, 'BackendKeyData');
        this.pid = r.int32();
        this.secret = r.int32();
        return;
      }
      case Backend.ReadyForQuery: {
        if (this.phase !== 'welcome') return this.outOfPhase('ReadyForQuery before AuthenticationOk');
        const txStatus = this.reader.reset(buf, start, end, 'ReadyForQuery').int8();
        return this.finish({ kind: 'ready', params: this.params, pid: this.pid, secret: this.secret, txStatus, method });
      }
      case Backend.NoticeResponse:
      case Backend.NegotiateProtocolVersion:
        return;
      default:
        return this.outOfPhase(`an unexpected message (type ${JSON.stringify(String.fromCharCode(type))}) during login`);
    }
  }

  private authenticate(body: Buffer): void {
    const code = this.reader.reset(body, 0, body.length, 'Authentication').int32();
    const step = this.auth.answer(body);
    switch (step.kind) {
      case 'nothing':
        if (code === AuthCode.Ok) this.phase = 'welcome';
        return;
      case 'send':
        this.io.send(step.message);
        return;
      case 'needs-password':
        return this.finish({ kind: 'needs-password', method: step.method });
      case 'malformed':
        return this.finish({ kind: 'protocol', message: `sent ${step.message}`, method: this.auth.method });
      case 'unsupported':
        return this.finish({ kind: 'unsupported', code: step.code, name: step.name, method: this.auth.method });
      default:
        assertNever(step, 'authentication step');
    }
  }

  private outOfPhase(what: string): void {
    this.finish({ kind: 'protocol', message: `sent ${what}`, method: this.auth.method });
  }

  private finish(result: LoginResult): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.scanner.stop();
    this.io.done(result);
  }
}
