/**
 * Every fix the doctor can print, and every `pgmoat ...` command in it, parsed by the real command
 * line: the commands of src/cli/commands/ registered as src/cli/main.ts registers them, with the
 * actions replaced so that nothing runs. A wrong command, a wrong option name, a missing
 * required option or an argument too many fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { createProgram } from '../../src/cli/run-command.js';
import { commandsIn, fixes, type FixContext, type FixFacts } from '../../src/doctor/fixes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMANDS = join(ROOT, 'src/cli/commands');

interface Registrar {
  register(program: Command): void;
}

/** The program of main.ts, every action a no-op that records what it was called for. */
async function dryProgram(): Promise<{ program: Command; ran: string[] }> {
  const program = createProgram('pgmoat', '0.0.0');
  for (const file of readdirSync(COMMANDS).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()) {
    const mod = (await import(join(COMMANDS, file))) as Partial<Registrar>;
    if (typeof mod.register === 'function') mod.register(program);
  }
  const ran: string[] = [];
  const silence = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
    if (cmd !== program) cmd.action(() => void ran.push(cmd.name()));
    for (const sub of cmd.commands) silence(sub);
  };
  silence(program);
  return { program, ran };
}

/** Parses `pgmoat ARGV`; the commander error's message when it does not parse. */
async function parse(argv: readonly string[]): Promise<string | undefined> {
  const { program, ran } = await dryProgram();
  try {
    await program.parseAsync(['node', 'pgmoat', ...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.message;
    throw err;
  }
  return ran.length === 1 ? undefined : `no command ran (${ran.join(', ')})`;
}

const FULL: FixContext = { name: 'app', environment: 'staging', certPath: '/srv/app/certs/app.crt', keyPath: '/srv/app/certs/app.key' };
const EMPTY: FixContext = { name: undefined, environment: undefined, certPath: undefined, keyPath: undefined };
const FACTS: FixFacts = { host: '127.0.0.2', hostNames: ['localhost', '127.0.0.1', '::1'], database: 'appdb', requiredEnvironment: 'production', user: 'app' };

/** Placeholders a person fills in, filled in as a person would. */
const FILL: Record<string, string> = { CA_DIR: '/srv/pgmoat-ca', NEW_DIR: '/srv/app/certs-new', DIR: '/srv/app/certs', NAME: 'app', ENV: 'production', ENV_OF_DATABASE: 'production', HOST: 'db.internal', KEY: '/srv/app/certs/app.key', FILE: '/run/pass' };

function filled(argv: readonly string[]): string[] {
  return argv.map((a) => a.replace(/\b[A-Z][A-Z_]*[A-Z]\b/g, (p) => FILL[p] ?? p));
}

/** Every fix text, with what the doctor knows and with nothing known. */
function everyFix(): { fix: string; text: string }[] {
  const out: { fix: string; text: string }[] = [];
  for (const [fix, make] of Object.entries(fixes) as [string, (ctx: FixContext, f?: FixFacts) => string][]) {
    for (const [ctx, facts] of [[FULL, FACTS], [EMPTY, {}]] as const) out.push({ fix, text: make(ctx, facts) });
  }
  return out;
}

test('every pgmoat command in every fix parses with the real command line', async () => {
  let commands = 0;
  for (const { fix, text } of everyFix()) {
    const found = commandsIn(text);
    // A fix that names a pgmoat command must yield it to the extraction (else it escapes this test).
    assert.equal(found.length, (text.match(/(^|[\s(])pgmoat [a-z]/g) ?? []).length, `${fix}: ${text}`);
    for (const argv of found) {
      commands++;
      const error = await parse(filled(argv));
      assert.equal(error, undefined, `${fix}: "pgmoat ${argv.join(' ')}" does not parse: ${error}`);
    }
  }
  assert.ok(commands >= 10, `only ${commands} commands found`);
});

test('the check catches what the old fixes said: a wrong option, a missing required option, a wrong command', async () => {
  // The export suggestion before: no --cert/--key, an argument export does not take.
  assert.match((await parse(['export', 'app', '--env', 'production', '--dir', '/ca', '--format', 'env'])) ?? '', /too many arguments|unknown option|required option/);
  assert.match((await parse(['issue-server', '--dir', '/ca', '--san', 'x'])) ?? '', /unknown option '--san'/);
  assert.match((await parse(['issue', 'app', '--env', 'production', '--dir', '/ca'])) ?? '', /required option '--out <outdir>'/);
  assert.match((await parse(['reissue', 'app'])) ?? '', /unknown command/);
  assert.equal(await parse(['issue', 'app', '--env', 'production', '--dir', '/ca', '--out', '/o']), undefined);
});

test('fixes for the reported cases say what runs', () => {
  assert.match(fixes.passCertAndKey(EMPTY), /pgmoat export --cert NAME\.crt --key NAME\.key --format env/);
  const env = fixes.issueForEnvironment(FULL, FACTS);
  assert.match(env, /no access rule can override the environment check/);
  assert.match(env, /pgmoat issue app --env production --dir CA_DIR --out NEW_DIR$/);
  assert.match(fixes.reissueRevoked(FULL), /cannot be renewed.*pgmoat issue app --env staging --dir CA_DIR --out NEW_DIR/);
  const host = fixes.hostMismatch(EMPTY, FACTS);
  assert.match(host, /^connect with host=localhost /);
  assert.match(host, /pgmoat issue-server --dir CA_DIR --host 127\.0\.0\.2 --host localhost --host 127\.0\.0\.1 --host ::1, then reload/);
});

test('no doctor file but fixes.ts spells out a pgmoat command with options', () => {
  const dir = join(ROOT, 'src/doctor');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'fixes.ts')) {
    const text = readFileSync(join(dir, file), 'utf8');
    assert.doesNotMatch(text, /pgmoat [a-z-]+ [^'`\n]*--[a-z]/, `${file} builds a pgmoat command outside fixes.ts`);
  }
});
