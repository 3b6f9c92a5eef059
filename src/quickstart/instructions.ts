/** What the quick start tells a person: how to connect with psql and with node-postgres. */
import type { ClientFiles } from './identities.js';

export interface ConnectTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  files: ClientFiles;
}

/** Single-quotes a libpq conninfo value when it needs it. */
function conninfoValue(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function libpqConninfo(t: ConnectTarget): string {
  const pairs: [string, string][] = [
    ['host', t.host],
    ['port', String(t.port)],
    ['dbname', t.database],
    ['user', t.user],
    ['sslmode', 'verify-full'],
    ['sslcert', t.files.cert],
    ['sslkey', t.files.key],
    ['sslrootcert', t.files.ca],
  ];
  return pairs.map(([k, v]) => `${k}=${conninfoValue(v)}`).join(' ');
}

/** The psql command line, quoted for a POSIX shell. */
export function psqlCommand(t: ConnectTarget): string {
  return `psql '${libpqConninfo(t).replace(/'/g, `'\\''`)}'`;
}

export function nodePostgresSnippet(t: ConnectTarget): string {
  const js = (s: string): string => JSON.stringify(s);
  return [
    "import { readFileSync } from 'node:fs';",
    "import pg from 'pg';",
    '',
    'const client = new pg.Client({',
    `  host: ${js(t.host)}, port: ${t.port}, database: ${js(t.database)}, user: ${js(t.user)},`,
    '  ssl: {',
    `    ca: readFileSync(${js(t.files.ca)}, 'utf8'),`,
    `    cert: readFileSync(${js(t.files.cert)}, 'utf8'),`,
    `    key: readFileSync(${js(t.files.key)}, 'utf8'),`,
    '  },',
    '});',
    'await client.connect();',
    "console.log((await client.query('SELECT current_database(), now()')).rows);",
    'await client.end();',
  ].join('\n');
}
