import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateRefusal, translateTlsError } from './handshake-words.js';

function tlsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

test('OpenSSL alerts become plain words, by number or by code', () => {
  const unknownCa = translateTlsError(tlsError('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'error:0A000418:SSL routines::tlsv1 alert unknown ca:ssl/record/rec_layer_s3.c:1605:SSL alert number 48'));
  assert.equal(unknownCa.kind, 'unknown-ca');
  assert.equal(unknownCa.code, 'TLS_ALERT_UNKNOWN_CA');
  assert.match(unknownCa.words, /does not trust the CA/);
  assert.equal(translateTlsError(tlsError('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired')).kind, 'expired');
  assert.equal(translateTlsError(tlsError('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'x')).kind, 'revoked');
  assert.equal(translateTlsError(tlsError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'x')).kind, 'no-certificate');
  assert.equal(translateTlsError(tlsError('ERR_SSL_X', 'weird: SSL alert number 200')).code, 'TLS_ALERT_200');
  assert.equal(translateTlsError(tlsError('ECONNRESET', 'read ECONNRESET')).kind, 'closed');
});

test("pgmoat's and PostgreSQL's certificate refusals belong to the handshake; role refusals do not", () => {
  assert.equal(certificateRefusal('client certificate was not issued by a CA this gateway trusts')?.kind, 'unknown-ca');
  assert.equal(certificateRefusal('client certificate has been revoked')?.kind, 'revoked');
  assert.equal(certificateRefusal('client certificate has expired')?.kind, 'expired');
  assert.equal(certificateRefusal('connection requires a valid client certificate')?.kind, 'no-certificate');
  assert.equal(certificateRefusal('connection requires a valid client certificate: none was sent')?.kind, 'no-certificate');
  assert.equal(certificateRefusal('certificate authentication failed for user "bob"'), undefined);
  assert.equal(certificateRefusal('database "nope" does not exist'), undefined);
});
