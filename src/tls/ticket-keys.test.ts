import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTicketSecret, ticketKeysFor } from './client-tls.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n';

test('ticket keys: 48 bytes, the same for the same secret, CA bundle and revoked set in any order', () => {
  const secret = newTicketSecret();
  const a = ticketKeysFor(secret, CA, new Set(['1f', 'a0', '3']));
  assert.equal(a.length, 48);
  assert.deepEqual(ticketKeysFor(Buffer.from(secret), CA, new Set(['3', '1f', 'a0'])), a);
});

test('ticket keys change with a new revoked serial, another CA bundle and another secret', () => {
  const secret = newTicketSecret();
  const before = ticketKeysFor(secret, CA, new Set(['1f']));
  assert.notDeepEqual(ticketKeysFor(secret, CA, new Set(['1f', '20'])), before);
  assert.notDeepEqual(ticketKeysFor(secret, CA + CA, new Set(['1f'])), before);
  assert.notDeepEqual(ticketKeysFor(newTicketSecret(), CA, new Set(['1f'])), before);
  // Serials are separated, so that {"1", "23"} and {"12", "3"} give different keys.
  assert.notDeepEqual(ticketKeysFor(secret, CA, new Set(['1', '23'])), ticketKeysFor(secret, CA, new Set(['12', '3'])));
});
