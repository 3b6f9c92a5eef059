import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgmoatError } from '../util/errors.js';
import { Revocations } from './revocations.js';
import { BOUNDARY_WAIT_MS, SessionEnforcer, assertNotRevoked, type CertificateHolder, type EndReason, type SessionPort } from './session-enforcer.js';
import { FakeSource, captureLog } from './fakes.test-helper.js';

interface FakeSession {
  cert: CertificateHolder | undefined;
  boundary: boolean;
  writable: boolean;
  closed: boolean;
  written: Buffer[];
  ended: { reason: EndReason; error: PgmoatError | undefined } | undefined;
}

const HOUR = 3_600_000;

/** Read through a function: an assert.equal(s.ended, undefined) before would narrow the field for good. */
const endOf = (s: FakeSession): FakeSession['ended'] => s.ended;

function session(serial: string | undefined, notAfter = Date.now() + 24 * HOUR): FakeSession {
  return {
    cert: serial === undefined ? undefined : { cn: `app-${serial}`, environment: 'production', serial, notAfter: new Date(notAfter) },
    boundary: true,
    writable: true,
    closed: false,
    written: [],
    ended: undefined,
  };
}

function setup(sessions: FakeSession[], expiry = { endSessions: false, warningMs: 0 }) {
  const revocations = new Revocations();
  const crl = new FakeSource('crl');
  revocations.set(crl);
  const port: SessionPort<FakeSession> = {
    sessions: () => sessions.filter((s) => !s.closed),
    certificate: (s) => s.cert,
    remoteAddress: () => '192.0.2.7',
    closed: (s) => s.closed,
    atBoundary: (s) => s.boundary,
    writable: (s) => s.writable,
    write: (s, bytes) => s.written.push(bytes),
    end: (s, reason, error) => {
      s.ended = { reason, error };
      s.closed = true;
    },
  };
  const delays: number[] = [];
  const { log, events } = captureLog();
  const enforcer = new SessionEnforcer(revocations, port, log, { expiry: () => expiry, revokedEnded: (d) => delays.push(d) });
  return { revocations, crl, enforcer, delays, events };
}

test('a revocation ends the live sessions of that serial at once, with one FATAL 28000, and no other', () => {
  const victim = session('0a');
  const twin = session('0a');
  const other = session('0b');
  const anonymous = session(undefined);
  const { crl, delays, events } = setup([victim, twin, other, anonymous]);
  crl.revoke(['0a'], Date.now() - 50);
  for (const s of [victim, twin]) {
    assert.equal(s.ended?.reason, 'certificate revoked');
    assert.equal(s.ended?.error?.code, 'CLIENT_CERT_REVOKED');
    assert.equal(s.ended?.error?.sqlstate, '28000');
    assert.equal(s.ended?.error?.message, 'client certificate has been revoked');
  }
  assert.equal(other.ended, undefined);
  assert.equal(anonymous.ended, undefined);
  assert.equal(delays.length, 2);
  assert.ok(delays.every((d) => d >= 50), 'the delay counts from the publication');
  const lines = events('revoked_session_ended');
  assert.equal(lines.length, 2);
  assert.deepEqual({ ...lines[0], time: 0, delay_ms: 0, msg: '' }, { level: 40, time: 0, event: 'revoked_session_ended', remote: '192.0.2.7', cn: 'app-0a', environment: 'production', serial: '0a', delay_ms: 0, with_message: true, msg: '' });
});

test('a second source revokes just as the CRL does: the enforcer does not know which one spoke', () => {
  const victim = session('0c');
  const { revocations, enforcer } = setup([victim]);
  const pg = new FakeSource('postgres');
  revocations.set(pg);
  pg.revoke(['0c']);
  assert.equal(victim.ended?.reason, 'certificate revoked');
  assert.throws(() => enforcer.assertNotRevoked(victim.cert), { code: 'CLIENT_CERT_REVOKED' });
});

test('mid-message, a session waits for a boundary, then is cut without a message after BOUNDARY_WAIT_MS', () => {
  const busy = session('0a');
  busy.boundary = false;
  const later = session('0a');
  later.boundary = false;
  const { crl, enforcer, events } = setup([busy, later]);
  const t0 = Date.now();
  crl.revoke(['0a']);
  assert.equal(busy.ended, undefined, 'not in the middle of a relayed message');
  assert.equal(enforcer.pending, 2);
  later.boundary = true;
  enforcer.sweep(t0 + 1);
  assert.equal(later.ended?.error?.code, 'CLIENT_CERT_REVOKED', 'at the boundary: with the FATAL');
  assert.equal(busy.ended, undefined);
  enforcer.sweep(Date.now() + BOUNDARY_WAIT_MS + 1);
  assert.equal(endOf(busy)?.reason, 'certificate revoked');
  assert.equal(endOf(busy)?.error, undefined, 'cut without a message');
  assert.equal(enforcer.pending, 0);
  assert.deepEqual(events('revoked_session_ended').map((l) => l.with_message), [true, false]);
});

test('a queued session that closed meanwhile, or was forgotten, is left alone', () => {
  const a = session('0a');
  a.boundary = false;
  const b = session('0a');
  b.boundary = false;
  const { crl, enforcer, delays } = setup([a, b]);
  crl.revoke(['0a']);
  a.closed = true;
  enforcer.forget(b);
  enforcer.sweep(Date.now() + BOUNDARY_WAIT_MS + 1);
  assert.equal(a.ended, undefined);
  assert.equal(b.ended, undefined);
  assert.equal(enforcer.pending, 0);
  assert.deepEqual(delays, []);
});

test('a change that revokes nothing new (a fresher list, a lifted revocation) ends nothing', () => {
  const s = session('0a');
  const { crl, enforcer } = setup([s]);
  crl.lift(['0a']);
  crl.revoke([]);
  assert.equal(s.ended, undefined);
  assert.equal(enforcer.pending, 0);
});

test('expiry: a warning notice once inside the warning window, then the FATAL at notAfter', () => {
  const now = Date.now();
  const expiring = session('0e', now + 10 * 60_000);
  const fine = session('0f', now + 48 * HOUR);
  const { enforcer, events } = setup([expiring, fine], { endSessions: true, warningMs: HOUR });
  enforcer.sweep(now);
  assert.equal(expiring.written.length, 1);
  assert.equal(expiring.written[0]![0], 0x4e, 'a NoticeResponse');
  assert.match(expiring.written[0]!.toString('latin1'), /client certificate expires at .*; this session will be ended then/);
  enforcer.sweep(now + 1);
  assert.equal(expiring.written.length, 1, 'warned once');
  assert.equal(fine.written.length, 0);
  enforcer.sweep(expiring.cert!.notAfter.getTime());
  assert.equal(expiring.ended?.reason, 'certificate expired');
  assert.equal(expiring.ended?.error?.code, 'CLIENT_CERT_EXPIRED');
  assert.equal(expiring.ended?.error?.sqlstate, '28000');
  assert.equal(fine.ended, undefined);
  assert.equal(events('expired_session_ended')[0]?.serial, '0e');
});

test('expiry is left alone when tls.end_sessions_on_expiry is off, and no notice goes to a socket that cannot take it', () => {
  const now = Date.now();
  const expired = session('0e', now - 1);
  const off = setup([expired], { endSessions: false, warningMs: HOUR });
  off.enforcer.sweep(now);
  assert.equal(expired.ended, undefined);
  const blocked = session('0f', now + 60_000);
  blocked.writable = false;
  const on = setup([blocked], { endSessions: true, warningMs: HOUR });
  on.enforcer.sweep(now);
  assert.equal(blocked.written.length, 0);
  blocked.writable = true;
  on.enforcer.sweep(now);
  assert.equal(blocked.written.length, 1, 'warned once it can be');
});

test('a login whose certificate is revoked is refused with FATAL 28000; others, and logins without a certificate, pass', () => {
  const revocations = new Revocations();
  revocations.set(new FakeSource('crl', ['0a']));
  assert.throws(() => assertNotRevoked(revocations, { serial: '0a' }), (err: unknown) => {
    assert.ok(err instanceof PgmoatError);
    assert.equal(err.code, 'CLIENT_CERT_REVOKED');
    assert.equal(err.sqlstate, '28000');
    assert.equal(err.message, 'client certificate has been revoked');
    return true;
  });
  assertNotRevoked(revocations, { serial: '0b' });
  assertNotRevoked(revocations, undefined);
});

test('stop() unsubscribes: later revocations are not enforced by a stopped enforcer', () => {
  const s = session('0a');
  const { crl, enforcer } = setup([s]);
  enforcer.stop();
  crl.revoke(['0a']);
  assert.equal(s.ended, undefined);
});

test('the sessions a revocation ended are counted per revoked serial, an issuer\'s revocation under the issuer', () => {
  const a1 = session('1a');
  const a2 = session('1a');
  const b = session('1b');
  const leaf = { ...session('1d'), cert: { cn: 'leaf', environment: 'production', serial: '1d', notAfter: new Date(Date.now() + HOUR), issuerSerials: ['1c'] } };
  const { crl, enforcer } = setup([a1, a2, b, leaf]);
  assert.equal(enforcer.revokedSessions('1a'), 0);
  crl.revoke(['1a']);
  assert.equal(enforcer.revokedSessions('1a'), 2);
  crl.revoke(['1c']);
  assert.equal(enforcer.revokedSessions('1c'), 1, 'the intermediate\'s revocation ended the leaf\'s session');
  assert.equal(enforcer.revokedSessions('1d'), 0);
  assert.equal(enforcer.revokedSessions('1b'), 0);
  assert.equal(b.ended, undefined);
});
