/**
 * The one place that ends live sessions over their certificate: when any revocation source
 * revokes its serial (at once, on the change), and when it expires (the janitor's sweep, with
 * `tls.end_sessions_on_expiry`). Each gets one FATAL 28000 at a message boundary, or is cut
 * without a message when none comes within BOUNDARY_WAIT_MS. The enforcer knows sessions only
 * through a SessionPort, so that it can be tested without sockets or pools. It also refuses a
 * login whose certificate was revoked after its handshake (assertNotRevoked).
 */
import type { Logger } from 'pino';
import { noticeResponse } from '../protocol/error-response.js';
import { PgmoatError } from '../util/errors.js';
import { certRefusalError } from '../util/cert-refusal.js';
import type { RevocationChange, RevocationCheck } from './source.js';
import type { Revocations } from './revocations.js';
import { revokedInChain, type ChainHolder } from './chain.js';

/** A session waits at most this long for a message boundary before it is cut without a message. */
export const BOUNDARY_WAIT_MS = 1000;

/** What the enforcer reads of a certificate (PeerIdentity has it). */
export interface CertificateHolder {
  /** Undefined for a certificate that names only SANs. */
  readonly cn: string | undefined;
  readonly environment: string | undefined;
  /** Canonical form (util/serial.ts). */
  readonly serial: string;
  readonly notAfter: Date;
  /** The CA certificates above it (PeerIdentity.issuerSerials): a revoked one ends the session too. */
  readonly issuerSerials?: readonly string[] | undefined;
}

export type EndReason = 'certificate revoked' | 'certificate expired';

/** How many revoked serials keep their count of ended sessions (revokedSessions). */
const COUNTED_SERIALS = 1000;

/** The live sessions as the enforcer sees them (access/ adapts the pools' client sessions). */
export interface SessionPort<S> {
  /** Every logged-in session, those without a certificate included. */
  sessions(): Iterable<S>;
  certificate(s: S): CertificateHolder | undefined;
  remoteAddress(s: S): string;
  closed(s: S): boolean;
  /** True when pgmoat may write a message of its own without splitting a relayed one. */
  atBoundary(s: S): boolean;
  /** Whether the client's socket takes a write now. */
  writable(s: S): boolean;
  write(s: S, bytes: Buffer): void;
  /** Ends the session; `error` goes to the client as its last message when given. */
  end(s: S, reason: EndReason, error: PgmoatError | undefined): void;
}

export interface EnforcerOptions {
  /** Read at every sweep: tls.end_sessions_on_expiry and tls.expiry_warning (ms). */
  expiry(): { endSessions: boolean; warningMs: number };
  /** A session of a revoked certificate was ended, `delayMs` after the revocation was published. */
  revokedEnded?(delayMs: number): void;
}

type Ending = { kind: 'revoked'; since: number; publishedAt: number } | { kind: 'expired'; since: number };

/** The refusal of a login whose certificate is revoked; nothing when it is not. */
export function assertNotRevoked(check: RevocationCheck, holder: ChainHolder | undefined): void {
  if (holder && revokedInChain(check, holder)) {
    throw certRefusalError('revoked');
  }
}

export class SessionEnforcer<S extends object> {
  private readonly ending = new Map<S, Ending>();
  private readonly warned = new WeakSet<S>();
  /** Sessions ended (or queued to end) per revoked serial: what a revoke ended, for the dashboard's answer. */
  private readonly endedBySerial = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly revocations: Revocations,
    private readonly port: SessionPort<S>,
    private readonly log: Logger,
    private readonly opts: EnforcerOptions,
  ) {
    this.unsubscribe = revocations.subscribe((change) => this.onChange(change));
  }

  /** Sessions queued to end (for tests and the retention check). */
  get pending(): number {
    return this.ending.size;
  }

  /** The sessions this process ended over the revocation of `serial` (its own or an issuer's), 0 when none or not yet. */
  revokedSessions(serial: string): number {
    return this.endedBySerial.get(serial) ?? 0;
  }

  assertNotRevoked(holder: CertificateHolder | undefined): void {
    assertNotRevoked(this.revocations, holder);
  }

  /** The session ended by other means: nothing more to do for it. */
  forget(session: S): void {
    this.ending.delete(session);
  }

  stop(): void {
    this.unsubscribe();
  }

  /** The janitor: expiry, and sessions still waiting for a message boundary. */
  sweep(now: number): void {
    this.sweepExpiry(now);
    if (this.ending.size > 0) this.endSessions(now);
  }

  private onChange(change: RevocationChange): void {
    if (change.added.length === 0) return;
    const now = Date.now();
    for (const s of this.port.sessions()) {
      const cert = this.port.certificate(s);
      if (!cert || this.ending.has(s)) continue;
      const r = revokedInChain(this.revocations, cert);
      if (!r) continue;
      this.ending.set(s, { kind: 'revoked', since: now, publishedAt: change.publishedAt });
      const n = this.endedBySerial.get(r.serial) ?? 0;
      this.endedBySerial.delete(r.serial);
      this.endedBySerial.set(r.serial, n + 1);
    }
    // Oldest first (insertion order, refreshed above): the recent revokes keep their count.
    for (const serial of this.endedBySerial.keys()) {
      if (this.endedBySerial.size <= COUNTED_SERIALS) break;
      this.endedBySerial.delete(serial);
    }
    this.endSessions(now);
  }

  private sweepExpiry(now: number): void {
    const { endSessions, warningMs } = this.opts.expiry();
    if (!endSessions) return;
    for (const s of this.port.sessions()) {
      const cert = this.port.certificate(s);
      if (!cert || this.ending.has(s)) continue;
      const notAfter = cert.notAfter.getTime();
      if (now >= notAfter) {
        this.ending.set(s, { kind: 'expired', since: now });
      } else if (warningMs > 0 && now >= notAfter - warningMs && !this.warned.has(s) && this.port.atBoundary(s) && this.port.writable(s)) {
        this.warned.add(s);
        this.port.write(
          s,
          noticeResponse(
            `client certificate expires at ${cert.notAfter.toISOString()}; this session will be ended then`,
            'WARNING',
            '01000',
            'tls.end_sessions_on_expiry is on. Renew the certificate (pgmoat renew) and reconnect with the new one.',
          ),
        );
      }
    }
  }

  /** Ends the queued sessions, each with one FATAL at a message boundary. */
  private endSessions(now: number): void {
    for (const [s, e] of this.ending) {
      if (this.port.closed(s)) {
        this.ending.delete(s);
        continue;
      }
      const boundary = this.port.atBoundary(s);
      if (!boundary && now - e.since < BOUNDARY_WAIT_MS) continue;
      this.ending.delete(s);
      const cert = this.port.certificate(s);
      const remote = this.port.remoteAddress(s);
      if (e.kind === 'revoked') {
        const error = certRefusalError('revoked');
        this.port.end(s, 'certificate revoked', boundary ? error : undefined);
        const delay = Math.round(Date.now() - e.publishedAt);
        this.opts.revokedEnded?.(delay);
        this.log.warn(
          { event: 'revoked_session_ended', remote, cn: cert?.cn, environment: cert?.environment, serial: cert?.serial, delay_ms: delay, with_message: boundary },
          `session of a revoked certificate ended ${delay} ms after the CRL was written`,
        );
      } else {
        const error = certRefusalError('expired');
        this.port.end(s, 'certificate expired', boundary ? error : undefined);
        this.log.info({ event: 'expired_session_ended', remote, cn: cert?.cn, serial: cert?.serial, not_after: cert?.notAfter.toISOString() }, 'session ended: its certificate expired');
      }
    }
  }
}
