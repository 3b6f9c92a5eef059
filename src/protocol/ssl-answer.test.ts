import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySslAnswer } from './ssl-answer.js';

test("an SSLRequest answer: 'S' or 'N' alone, 'S' with bytes after it, an ErrorResponse, or something else", () => {
  assert.deepEqual(classifySslAnswer(Buffer.from('S')), { kind: 'tls' });
  assert.deepEqual(classifySslAnswer(Buffer.from('N')), { kind: 'plain' });
  assert.deepEqual(classifySslAnswer(Buffer.from('SZ\0\0\0\x05I')), { kind: 'injected', extraBytes: 6 });
  assert.deepEqual(classifySslAnswer(Buffer.from('E\0\0\0\x20SFATAL')), { kind: 'error-response' });
  assert.deepEqual(classifySslAnswer(Buffer.from('NX')), { kind: 'foreign', firstBytes: '4e 58' });
  assert.deepEqual(classifySslAnswer(Buffer.from('HTTP/1.1 400')), { kind: 'foreign', firstBytes: '48 54 54 50 2f 31 2e 31' });
});
