import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCode } from './error-codes.js';
import { PgmoatError } from './errors.js';
import { SqlState } from './sqlstate.js';
import { CERT_REFUSALS } from './cert-refusal.js';
import { errorResponseFor, parseErrorFields } from '../protocol/error-response.js';
import { ERROR_CODES_DOC, renderErrorCodes } from '../../scripts/error-codes-doc.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) sources(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.test-helper.ts') && name !== 'error-codes.ts') out.push(full);
  }
  return out;
}

test('docs/error-codes.md is the catalogue as it is (node --import tsx scripts/error-codes-doc.ts --write)', () => {
  assert.equal(readFileSync(ERROR_CODES_DOC, 'utf8'), renderErrorCodes());
});

test('every code of the catalogue is raised somewhere in src/, and every SQLSTATE is one pgmoat names', () => {
  const text = sources(SRC)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const known = new Set<string>(Object.values(SqlState));
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.ok(text.includes(`'${code}'`), `${code} is in the catalogue but nothing in src/ raises it`);
    if (entry.sqlstate !== null && entry.sqlstate !== 'relayed') assert.ok(known.has(entry.sqlstate), `${code}: ${entry.sqlstate} is not in SqlState`);
  }
});

test("an error takes its code's SQLSTATE; only a relayed code takes the one it is given", () => {
  assert.equal(new PgmoatError('NO_RULE', 'x').sqlstate, '28000');
  assert.equal(new PgmoatError('NO_RULE', 'x', { sqlstate: '08P01' }).sqlstate, '28000', 'a throw site cannot give an own code another SQLSTATE');
  assert.equal(new PgmoatError('MESSAGE_TOO_LARGE', 'x').sqlstate, '54000');
  assert.equal(new PgmoatError('BAD_MESSAGE_LENGTH', 'x').sqlstate, '08P01');
  assert.equal(new PgmoatError('UPSTREAM_LOGIN_REFUSED', 'x', { sqlstate: '57P03' }).sqlstate, '57P03');
  assert.equal(new PgmoatError('CONFIG_INVALID', 'x').sqlstate, undefined);
  const retold = new PgmoatError('UPSTREAM_CONNECT', 'refused', { hint: 'h' }).withDetail('tried 3 times');
  assert.deepEqual([retold.code, retold.sqlstate, retold.detail, retold.hint], ['UPSTREAM_CONNECT', '08001', 'tried 3 times', 'h']);
});

test('every certificate refusal has its own code, SQLSTATE 28000', () => {
  const codes = Object.values(CERT_REFUSALS).map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.equal(ERROR_CODES[code as ErrorCode].sqlstate, '28000', code);
});

test('the ErrorResponse carries the code in the routine field (R), and reads back', () => {
  const bytes = errorResponseFor(new PgmoatError('CLIENT_CERT_REVOKED', 'client certificate has been revoked'));
  const fields = parseErrorFields(bytes.subarray(5));
  assert.deepEqual(
    { severity: fields.severity, code: fields.code, message: fields.message, routine: fields.routine },
    { severity: 'FATAL', code: '28000', message: 'client certificate has been revoked', routine: 'CLIENT_CERT_REVOKED' },
  );
});
