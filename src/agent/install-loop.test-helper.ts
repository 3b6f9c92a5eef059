/**
 * Test-only child process: installs two pairs in turn, forever, until it is killed (agent.test.ts
 * kills it with SIGKILL at random moments). Prints one line once the loop runs.
 * Usage: install-loop.test-helper.ts CERT KEY PAIRS_JSON
 */
import { readFileSync } from 'node:fs';
import { installPair, type Pair } from './pair-files.js';

const [cert, key, pairsFile] = process.argv.slice(2) as [string, string, string];
const pairs = JSON.parse(readFileSync(pairsFile, 'utf8')) as Pair[];
process.stdout.write('installing\n');
// Bounded, in case the test that should kill it is gone.
const deadline = Date.now() + 60_000;
for (let i = 0; Date.now() < deadline; i++) installPair({ cert, key }, pairs[i % pairs.length]!);
