// Hostile or broken input gets a PgmoatError (a clear message with a code), never another
// exception type, a hang or a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isPgmoatError } from '../util/errors.js';
import { parseHbaFile } from './hba-file.js';
import { parseIdentFile } from './ident-map.js';
import { parseUserlist } from './userlist.js';
import { cidrContains, parseCidr } from './cidr.js';
import { parseScramSecret } from './scram-secret.js';
import { ScramServer } from './scram-server.js';
import { ScramClient } from './scram-client.js';
import { makeScramSecret } from './scram-secret.js';

function onlyPgmoatErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isPgmoatError(err), `unexpected ${String(err)}`);
  }
}

// Text built from the characters these formats care about, so the fuzzing reaches deep paths.
const confText = fc
  .array(
    fc.oneof(
      fc.constantFrom('host', 'hostssl', 'local', 'all', '+g', '@f', '/^a', 'md5', 'cert', 'map=m', 'clientcert=verify-full', '10.0.0.0/8',
        '::1', '255.255.0.0', 'SCRAM-SHA-256$', 'md5', '\\1', '/(x)'),
      fc.constantFrom(' ', '\t', ',', '"', '""', '#', '\\', '\n', '\r\n', ';', '='),
      fc.string({ maxLength: 5 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

test('config-file parsers throw only PgmoatError (property)', () => {
  fc.assert(
    fc.property(confText, (text) => {
      onlyPgmoatErrors(() => parseHbaFile(text));
      onlyPgmoatErrors(() => parseIdentFile(text));
      onlyPgmoatErrors(() => parseUserlist(text));
    }),
    { numRuns: 2000 },
  );
});

test('address and secret parsers throw only PgmoatError (property)', () => {
  const addr = fc.stringMatching(/^[0-9a-fA-F:./%]{0,45}$/);
  fc.assert(
    fc.property(addr, addr, fc.string({ maxLength: 120 }), (a, b, s) => {
      onlyPgmoatErrors(() => parseCidr(a, { allowBareAddress: true }));
      onlyPgmoatErrors(() => cidrContains(a, b));
      onlyPgmoatErrors(() => parseScramSecret(`SCRAM-SHA-256$${s}`));
    }),
    { numRuns: 2000 },
  );
});

test('SCRAM state machines throw only PgmoatError on arbitrary peer messages (property)', () => {
  const secret = makeScramSecret('pw', { iterations: 2 });
  const attrs = fc
    .array(fc.oneof(fc.constantFrom('n', 'y', 'p=x', 'a=b', 'm=1', 'n=', 'r=abc', 's=AAAA', 'i=1', 'i=0', 'c=biws', 'p=AAAA', 'v=AAAA', 'e=x', ''), fc.string({ maxLength: 6 })), { maxLength: 8 })
    .map((parts) => parts.join(','));
  fc.assert(
    fc.property(attrs, attrs, (first, final) => {
      onlyPgmoatErrors(() => {
        const server = new ScramServer(secret);
        server.handleClientFirst(first);
        server.handleClientFinal(final);
      });
      onlyPgmoatErrors(() => {
        const client = new ScramClient('pw', { nonce: 'abc' });
        client.clientFirstMessage();
        client.handleServerFirst(first.replace(/^/, 'r=abcd,s=AAAA,i=1,'));
        client.verifyServerFinal(final);
      });
      onlyPgmoatErrors(() => {
        const client = new ScramClient('pw', { nonce: 'abc' });
        client.clientFirstMessage();
        client.handleServerFirst(first);
      });
    }),
    { numRuns: 2000 },
  );
});
