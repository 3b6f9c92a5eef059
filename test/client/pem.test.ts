import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pemBlocks } from '@pgmoat/client/internal';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('pemBlocks: every whole block in order, with its label, DER, text and headers', () => {
  const text = [
    'junk before',
    '-----BEGIN CERTIFICATE-----',
    b64('first'),
    '-----END CERTIFICATE-----',
    '-----BEGIN RSA PRIVATE KEY-----',
    'Proc-Type: 4,ENCRYPTED',
    'DEK-Info: AES-256-CBC,00',
    '',
    b64('second'),
    '-----END RSA PRIVATE KEY-----',
  ].join('\r\n');
  const blocks = pemBlocks(text);
  assert.deepEqual(
    blocks.map((b) => [b.label, b.der.toString()]),
    [
      ['CERTIFICATE', 'first'],
      ['RSA PRIVATE KEY', 'second'],
    ],
  );
  assert.equal(blocks[0]!.text, `-----BEGIN CERTIFICATE-----\n${b64('first')}\n-----END CERTIFICATE-----\n`);
  assert.equal(blocks[0]!.headers, '');
  assert.equal(blocks[1]!.headers, 'Proc-Type: 4,ENCRYPTED\r\nDEK-Info: AES-256-CBC,00');
});

test('pemBlocks: a block cut short does not swallow the next one, and a label must match its END', () => {
  const cut = `-----BEGIN X509 CRL-----\n${b64('lost')}\n`;
  const whole = `-----BEGIN X509 CRL-----\n${b64('kept')}\n-----END X509 CRL-----\n`;
  assert.deepEqual(pemBlocks(cut + whole).map((b) => b.der.toString()), ['kept']);
  assert.deepEqual(pemBlocks(`-----BEGIN CERTIFICATE-----\n${b64('x')}\n-----END X509 CRL-----\n`), []);
});
