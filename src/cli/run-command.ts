/**
 * The one place where the CLI turns failures into what a person sees: a single line on stderr,
 * `pgmoat: <what is wrong and what to do>`, exit code 1; usage errors exit 2: commander's own, and
 * a PgmoatError whose code the catalogue marks `usage` (a wrong value on the command line).
 * A PgmoatError's hint (the same one a client would read in an ErrorResponse) follows on its own
 * line, `hint: …`, unless the message already says it.
 * Stacks are printed only for unexpected errors and only with PGMOAT_DEBUG=1.
 */
import { Command, CommanderError } from 'commander';
import { isPgmoatError, errorMessage } from '../util/errors.js';
import { ERROR_CODES, type ErrorCodeEntry } from '../util/error-codes.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function oneLine(text: string): string {
  // Error text may quote user input; never let it span lines or carry control characters.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\r\n]+/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?').trim();
}

/** Lower case, one space between words, no final full stop: enough to see the same sentence twice. */
function comparable(text: string): string {
  return oneLine(text).toLowerCase().replace(/\s+/g, ' ').replace(/[.\s]+$/, '');
}

/**
 * `hint: …` for an error's hint, or undefined when there is none or when the message already
 * carries it (some messages end with their fix, and the hint repeats it for clients).
 */
export function hintLine(message: string, hint: string | undefined): string | undefined {
  if (hint === undefined || hint.trim() === '') return undefined;
  if (comparable(message).includes(comparable(hint))) return undefined;
  return `hint: ${oneLine(hint)}`;
}

function usageOutput(prefix: string, helpCommand: string): { outputError: (str: string, write: (s: string) => void) => void } {
  return {
    outputError: (str, write) => {
      const text = oneLine(str.replace(/^error: /, ''));
      write(`${prefix}: ${text} (see ${helpCommand} --help)\n`);
    },
  };
}

export function createProgram(name: string, version: string): Command {
  const program = new Command(name);
  program
    .version(version, '-V, --version', 'print the pgmoat version')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput(usageOutput(name, name));
  return program;
}

/** Parses argv, runs the chosen command and sets process.exitCode. Never throws. */
export async function runCli(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  // `pgmoat list | head -1` closes stdout early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  // Point each command's usage errors at its own --help.
  for (const cmd of program.commands) cmd.configureOutput(usageOutput(program.name(), `${program.name()} ${cmd.name()}`));
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version "errors" exit 0; commander already printed its message.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    const message = isPgmoatError(err) ? err.message : `unexpected error: ${errorMessage(err)}`;
    process.stderr.write(`${program.name()}: ${oneLine(message)}\n`);
    const hint = isPgmoatError(err) ? hintLine(err.message, err.hint) : undefined;
    if (hint !== undefined) process.stderr.write(`${hint}\n`);
    if (!isPgmoatError(err) && process.env.PGMOAT_DEBUG === '1' && err instanceof Error) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    process.exitCode = isPgmoatError(err) && isUsageCode(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
}

/** A wrong value on the command line (`--days abc`, `--key-type dsa`): a usage error, exit 2. */
function isUsageCode(code: string): boolean {
  const entry: ErrorCodeEntry | undefined = (ERROR_CODES as Record<string, ErrorCodeEntry>)[code];
  return entry?.usage === true;
}
