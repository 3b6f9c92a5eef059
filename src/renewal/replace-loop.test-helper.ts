/**
 * Test-only child process: replaces a pair with two pairs in turn until it is killed
 * (pair-files.test.ts kills it with SIGKILL at random moments), for at most a minute.
 * Prints one line once the loop runs. Usage: replace-loop.test-helper.ts CERT KEY PAIRS_JSON
 */
import { readFileSync } from 'node:fs';
import { replacePair } from './pair-files.js';

const [cert, key, pairsFile] = process.argv.slice(2) as [string, string, string];
const pairs = JSON.parse(readFileSync(pairsFile, 'utf8')) as { certPem: string; keyPem: string }[];
process.stdout.write('replacing\n');
const deadline = Date.now() + 60_000;
for (let i = 0; Date.now() < deadline; i++) {
  const p = pairs[i % pairs.length]!;
  replacePair(cert, key, p.certPem, p.keyPem);
}
