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
  const fatal = (message: string, routine?: string, code = '28000') => ({ severity: 'FATAL', code, message, ...(routine ? { routine } : {}) });
  // pgmoat's refusals are read from the code in the routine field, whatever the text says.
  assert.equal(certificateRefusal(fatal('client certificate was not issued by a CA this gateway trusts', 'CLIENT_CERT_UNKNOWN_CA'))?.kind, 'unknown-ca');
  assert.equal(certificateRefusal(fatal('client certificate has been revoked', 'CLIENT_CERT_REVOKED'))?.kind, 'revoked');
  assert.equal(certificateRefusal(fatal('anything at all', 'CLIENT_CERT_EXPIRED'))?.kind, 'expired');
  assert.equal(certificateRefusal(fatal('client certificate is not for client use (x)', 'CLIENT_CERT_NOT_FOR_CLIENT'))?.code, 'CLIENT_CERT_NOT_FOR_CLIENT');
  assert.equal(certificateRefusal(fatal('connection requires a valid client certificate: none was sent', 'CLIENT_CERT_REQUIRED'))?.kind, 'no-certificate');
  // pgmoat's wording without its code decides nothing; PostgreSQL's own refusal is known by its text.
  assert.equal(certificateRefusal(fatal('client certificate has been revoked')), undefined);
  assert.equal(certificateRefusal(fatal('connection requires a valid client certificate'))?.kind, 'no-certificate');
  assert.equal(certificateRefusal(fatal('certificate authentication failed for user "bob"')), undefined);
  assert.equal(certificateRefusal(fatal('database "nope" does not exist', undefined, '3D000')), undefined);
  assert.equal(certificateRefusal(fatal('no such database', 'UNKNOWN_DATABASE', '3D000')), undefined);
});
