import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handshakeFailureReason } from './handshake-failure.js';

function err(message: string, code?: string): Error {
  return Object.assign(new Error(message), code ? { code } : {});
}

test('Node and OpenSSL handshake errors map to a closed set of reasons', () => {
  assert.equal(handshakeFailureReason(err('peer did not return a certificate', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')), 'no-certificate');
  assert.equal(handshakeFailureReason(err('socket hang up', 'ECONNRESET')), 'client-disconnected');
  assert.equal(handshakeFailureReason(err('TLS handshake timeout', 'ERR_TLS_HANDSHAKE_TIMEOUT')), 'timeout');
  assert.equal(handshakeFailureReason(err('error:0A00010B:SSL routines::wrong version number')), 'not-tls');
  assert.equal(handshakeFailureReason(err('error:0A000102:SSL routines::unsupported protocol')), 'protocol-version');
  assert.equal(handshakeFailureReason(err('error:0A0000C1:SSL routines::no shared cipher')), 'no-shared-cipher');
  assert.equal(handshakeFailureReason(err('error:0A000418:SSL routines::tlsv1 alert unknown ca')), 'client-alert');
  assert.equal(handshakeFailureReason(err('something else entirely')), 'other');
});
