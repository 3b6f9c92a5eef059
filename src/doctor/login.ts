/**
 * Steps 6 (its second half) and 7: over the verified TLS socket, send the StartupMessage and
 * follow the server up to ReadyForQuery, answering password requests when a password is known.
 * A server that refuses the client certificate without a TLS alert (Node-based servers such as
 * pgmoat) shows it here: the socket closes, or the first reply is a FATAL about the certificate.
 */
import type { TLSSocket } from 'node:tls';
import { Backend } from '../protocol/codes.js';
import { parseErrorFields, type ErrorFields } from '../protocol/error-response.js';
import { DROP, FrameScanner, type FrameAction, type FrameHandler } from '../protocol/frame-scanner.js';
import * as msg from '../protocol/messages.js';
import { PasswordAuthClient, type PasswordMethod } from '../auth/password-auth-client.js';
import { assertNever, errorMessage } from '../util/errors.js';

export interface LoginInput {
  socket: TLSSocket;
  user: string;
  database: string;
  password: string | undefined;
  applicationName: string;
  timeoutMs: number;
  /** An error the socket raised before this step started listening. */
  earlyError: NodeJS.ErrnoException | undefined;
}

export type AuthMethod = PasswordMethod;

export type LoginOutcome =
  /** Whether any PostgreSQL message had arrived before; none means the TLS session itself was refused. */
  | { kind: 'tls-error'; error: NodeJS.ErrnoException; replied: boolean }
  | { kind: 'closed'; replied: boolean }
  | { kind: 'timeout'; replied: boolean }
  | { kind: 'error-response'; fields: ErrorFields; replied: boolean; method: AuthMethod | undefined }
  | { kind: 'password-needed'; method: AuthMethod }
  | { kind: 'auth-failed'; method: AuthMethod; message: string }
  | { kind: 'protocol'; message: string }
  | { kind: 'ready'; params: Map<string, string>; method: AuthMethod };

const MAX_LOGIN_MESSAGE = 1 << 20;

class LoginExchange implements FrameHandler {
  private readonly scanner = new FrameScanner(this, { write: () => undefined }, MAX_LOGIN_MESSAGE);
  private readonly params = new Map<string, string>();
  private replied = false;
  private readonly authClient: PasswordAuthClient;
  private finished = false;

  constructor(
    private readonly input: LoginInput,
    private readonly done: (o: LoginOutcome) => void,
  ) {
    this.scanner.captureAll();
    this.authClient = new PasswordAuthClient(input.user, input.password);
  }

  finish(o: LoginOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.scanner.stop();
    this.done(o);
  }

  get hasReplied(): boolean {
    return this.replied;
  }

  feed(chunk: Buffer): void {
    this.scanner.scan(chunk);
  }

  onBadLength(_type: number, length: number): void {
    this.finish({ kind: 'protocol', message: `the server sent a message of invalid length ${length}` });
  }

  onMessage(type: number, buf: Buffer, start: number, end: number): FrameAction {
    if (this.finished) return DROP;
    const body = buf.subarray(start, end);
    const first = !this.replied;
    this.replied = true;
    try {
      this.handle(type, body, first);
    } catch (err) {
      this.finish({ kind: 'auth-failed', method: this.authClient.method, message: errorMessage(err) });
    }
    return DROP;
  }

  private handle(type: number, body: Buffer, first: boolean): void {
    switch (type) {
      case Backend.Authentication:
        this.auth(body);
        return;
      case Backend.ErrorResponse:
        this.finish({ kind: 'error-response', fields: parseErrorFields(body), replied: !first, method: first ? undefined : this.authClient.method });
        return;
      case Backend.ParameterStatus: {
        const a = body.indexOf(0);
        const b = body.indexOf(0, a + 1);
        if (a > 0 && b > a) this.params.set(body.toString('utf8', 0, a), body.toString('utf8', a + 1, b));
        return;
      }
      case Backend.ReadyForQuery:
        this.finish({ kind: 'ready', params: this.params, method: this.authClient.method });
        return;
      case Backend.BackendKeyData:
      case Backend.NoticeResponse:
      case Backend.NegotiateProtocolVersion:
        return;
      default:
        this.finish({ kind: 'protocol', message: `the server sent an unexpected message (type ${JSON.stringify(String.fromCharCode(type))}) during login` });
    }
  }

  private auth(body: Buffer): void {
    const step = this.authClient.answer(body);
    switch (step.kind) {
      case 'nothing':
        return;
      case 'send':
        this.input.socket.write(step.message);
        return;
      case 'needs-password':
        this.finish({ kind: 'password-needed', method: step.method });
        return;
      case 'malformed':
        this.finish({ kind: 'protocol', message: `the server sent ${step.message}` });
        return;
      case 'unsupported':
        this.finish({
          kind: 'auth-failed',
          method: this.authClient.method,
          message: `the server asks for ${step.name} authentication, which pgmoat doctor does not speak (it speaks SCRAM-SHA-256, md5, password, trust and cert)`,
        });
        return;
      default:
        assertNever(step, 'authentication step');
    }
  }
}

/** Runs the login; the socket is ended (with Terminate after a successful login) before this resolves. */
export function login(input: LoginInput): Promise<LoginOutcome> {
  return new Promise((resolve) => {
    const s = input.socket;
    let exchange: LoginExchange | undefined;
    const onData = (chunk: Buffer): void => exchange?.feed(chunk);
    const onError = (error: NodeJS.ErrnoException): void => exchange?.finish({ kind: 'tls-error', error, replied: exchange.hasReplied });
    const onClose = (): void => exchange?.finish({ kind: 'closed', replied: exchange.hasReplied });
    const timer = setTimeout(() => exchange?.finish({ kind: 'timeout', replied: exchange.hasReplied }), input.timeoutMs);
    exchange = new LoginExchange(input, (outcome) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      // Errors while tearing down are of no interest any more.
      s.off('error', onError);
      s.on('error', () => undefined);
      if (outcome.kind === 'ready') s.end(msg.TERMINATE);
      else s.destroy();
      resolve(outcome);
    });
    if (input.earlyError) {
      exchange.finish({ kind: 'tls-error', error: input.earlyError, replied: false });
      return;
    }
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
    if (s.destroyed) {
      exchange.finish({ kind: 'closed', replied: false });
      return;
    }
    const params: Record<string, string> = { user: input.user, database: input.database, application_name: input.applicationName };
    s.write(msg.startupMessage(params));
    s.resume();
  });
}
