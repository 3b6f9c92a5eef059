/**
 * The CLI prints a PgmoatError's hint on its own line after the message (`hint: …`), once: not
 * when the message already says it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';
import { hintLine } from '../../src/cli/run-command.js';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-cli-hint-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('serve with a key that does not match its certificate: the message, then the hint on its own line', async () => {
  const ca = join(work, 'ca');
  const other = join(work, 'other');
  for (const d of [ca, other]) assert.equal((await pgmoat(['init', '--dir', d])).code, 0);
  const config = readFileSync(join(ca, 'pgmoat.yaml'), 'utf8')
    .replace(/port: 6432/, 'port: 0')
    .replace(/key: server\.key/, `key: ${join(other, 'server.key')}`);
  writeFileSync(join(ca, 'mismatch.yaml'), config);
  const r = await pgmoat(['serve', '--config', join(ca, 'mismatch.yaml')]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
  assert.equal(lines.at(-2), 'pgmoat: tls.key does not belong to the certificate in tls.cert');
  assert.match(lines.at(-1)!, /^hint: Write the certificate and its key as a pair/);
  assert.equal(r.stderr.split('hint:').length, 2, 'the hint once');
});

test('a hint the message already carries is not printed again', () => {
  assert.equal(hintLine('x is wrong', undefined), undefined);
  assert.equal(hintLine('x is wrong', '  '), undefined);
  assert.equal(hintLine('x is wrong; run: pgmoat crl --dir ca', 'Run: pgmoat crl --dir ca.'), undefined);
  assert.equal(hintLine('x is wrong', 'Run:\npgmoat crl --dir ca'), 'hint: Run: pgmoat crl --dir ca');
});
