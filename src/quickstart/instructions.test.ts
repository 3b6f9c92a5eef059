import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libpqConninfo, psqlCommand } from './instructions.js';

const target = (dir: string) => ({
  host: '127.0.0.1',
  port: 6432,
  database: 'demo',
  user: 'demo',
  files: { cert: `${dir}/demo.crt`, key: `${dir}/demo.key`, ca: `${dir}/ca.crt` },
});

test('plain paths stay unquoted', () => {
  assert.equal(
    libpqConninfo(target('/q')),
    'host=127.0.0.1 port=6432 dbname=demo user=demo sslmode=verify-full sslcert=/q/demo.crt sslkey=/q/demo.key sslrootcert=/q/ca.crt',
  );
});

test("paths with spaces and quotes are quoted for libpq, then for the shell", () => {
  assert.match(libpqConninfo(target("/my dir/it's")), /sslcert='\/my dir\/it\\'s\/demo\.crt'/);
  assert.ok(psqlCommand(target("/my dir/it's")).startsWith("psql 'host=127.0.0.1"));
  assert.ok(psqlCommand(target("/my dir/it's")).includes(`'\\''`));
});
