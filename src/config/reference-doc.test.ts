/** Keeps docs/config-reference.md in step with the schema: every key and default is documented. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { knownKeysAt } from './issues.js';
import { configSchema } from './schema.js';

const doc = readFileSync(new URL('../../docs/config-reference.md', import.meta.url), 'utf8');

/** Table rows document keys in backticks, either as a full dotted path or as a bare key. */
function documented(path: string[], key: string): boolean {
  const full = [...path.filter((p) => p !== '*'), key].join('.');
  // Sections count as documented through their heading or their dotted children.
  return doc.includes(`| \`${full}\``) || doc.includes(`| \`${key}\` |`) || doc.includes(`## \`${full}\``) || doc.includes(`| \`${full}.`);
}

describe('docs/config-reference.md', () => {
  const sections: string[][] = [[], ['listen'], ['listen', 'proxy_protocol'], ['log'], ['tls'], ['databases', '*'], ['databases', '*', 'tls'], ['users', '*'], ['admin'], ['admin', 'http'], ['admin', 'http', 'tls'], ['limits'], ['rules', '*'], ['ident_maps', '*', '*']];
  for (const path of sections) {
    it(`documents every key of ${path.join('.') || 'the top level'}`, () => {
      const keys = knownKeysAt(configSchema, path);
      assert.ok(keys.length > 0, `schema walk found no keys at ${path.join('.')}`);
      const missing = keys.filter((k) => !documented(path, k));
      assert.deepEqual(missing, []);
    });
  }
});
