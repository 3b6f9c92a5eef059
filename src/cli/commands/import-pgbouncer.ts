import type { Command } from 'commander';
import { importPgbouncer } from '../../pgbouncer-import/import.js';
import { PgmoatError } from '../../util/errors.js';
import { collect, note, print } from '../cli-helpers.js';

interface ImportOptions {
  userlist?: string;
  fallbackDatabase?: string[];
}

export function register(program: Command): void {
  program
    .command('import-pgbouncer')
    .description('convert a pgbouncer.ini into pgmoat.yaml on stdout; what cannot be carried over is listed on stderr')
    .argument('<pgbouncer.ini>', "PgBouncer's configuration file (%include files are read relative to it)")
    .option('--userlist <file>', 'the userlist.txt (auth_file) to check and to name as auth_file, instead of the path in pgbouncer.ini')
    .option('--fallback-database <name>', 'create database NAME from the "*" fallback entry (repeatable): pgmoat has no fallback database', collect)
    .addHelpText(
      'after',
      '\nExample:\n  pgmoat import-pgbouncer /etc/pgbouncer/pgbouncer.ini --userlist /etc/pgbouncer/userlist.txt > pgmoat.yaml\n\n' +
        'Passwords written in [databases] lines are not copied: each such database gets password_env,\n' +
        'and the variables to set are listed on stderr. Exit status 1 when pgmoat would not load the\n' +
        'output as it is (schema problems, or files it refuses such as a key readable by others).',
    )
    .action((ini: string, opts: ImportOptions) => {
      const result = importPgbouncer(ini, { userlistPath: opts.userlist, fallbackDatabases: opts.fallbackDatabase });
      print(result.yaml);
      for (const line of result.notes) note(line);
      if (result.passwords.length > 0) {
        note('Set these environment variables where pgmoat runs (the passwords are not in the output):');
        for (const p of result.passwords) note(`  ${p.name}  (database ${p.database}: ${p.source})`);
      }
      note(`pgmoat: converted ${result.databaseCount} database(s); ${result.notCarriedCount} setting(s) not carried over (listed above)`);
      for (const line of result.problems) note(line);
      const blocking = result.problems.length + result.blockerCount;
      if (blocking > 0) {
        throw new PgmoatError('IMPORT_INCOMPLETE', `the converted configuration will not load until ${blocking} problem(s) listed above are fixed`);
      }
    });
}
