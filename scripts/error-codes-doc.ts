/**
 * Writes docs/error-codes.md from the catalogue (src/util/error-codes.ts):
 *   node --import tsx scripts/error-codes-doc.ts          (prints it)
 *   node --import tsx scripts/error-codes-doc.ts --write  (writes docs/error-codes.md)
 * src/util/error-codes.test.ts fails when the file and the catalogue differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCodeEntry } from '../src/util/error-codes.js';

export const ERROR_CODES_DOC = fileURLToPath(new URL('../docs/error-codes.md', import.meta.url));

function sqlstateCell(s: ErrorCodeEntry['sqlstate']): string {
  if (s === null) return '(not sent to a client)';
  if (s === 'relayed') return "the upstream's";
  return s;
}

export function renderErrorCodes(): string {
  const entries: [string, ErrorCodeEntry][] = Object.entries(ERROR_CODES);
  const clientVisible = entries.filter(([, e]) => e.sqlstate !== null);
  const local = entries.filter(([, e]) => e.sqlstate === null);
  const row = ([code, e]: [string, ErrorCodeEntry]): string => `| \`${code}\` | ${sqlstateCell(e.sqlstate)} | ${e.about}${e.usage ? ' (a usage error: exit code 2)' : ''} |`;
  return [
    '# Error codes',
    '',
    '<!-- Made by `node --import tsx scripts/error-codes-doc.ts --write` from src/util/error-codes.ts; do not edit by hand. -->',
    '',
    'Every error pgmoat raises has a stable code. A PostgreSQL client that pgmoat refuses or',
    "disconnects reads the SQLSTATE in the ErrorResponse's code field and pgmoat's code in its",
    'routine field: node-postgres and postgres.js show it as `err.routine`; psql, with',
    '`\\set VERBOSITY verbose`, prints it after `LOCATION:` for an error within a session.',
    'Match on the code, not on the message: messages',
    'may be reworded, codes are kept. One code always comes with one SQLSTATE, except the',
    "two that pass on the upstream server's own.",
    '',
    '## Sent to PostgreSQL clients',
    '',
    '| Code | SQLSTATE | When |',
    '|---|---|---|',
    ...clientVisible.map(row),
    '',
    '## Commands, configuration and the CA',
    '',
    'These stop a `pgmoat` command, a start or a reload; no PostgreSQL client sees them.',
    '',
    '| Code | SQLSTATE | When |',
    '|---|---|---|',
    ...local.map(row),
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--write')) writeFileSync(ERROR_CODES_DOC, renderErrorCodes());
  else process.stdout.write(renderErrorCodes());
}
