#!/usr/bin/env node
// The pgmoat command line: one registration per command, each in src/cli/commands/<name>.ts.
import { createProgram, runCli } from './run-command.js';
import { packageVersion } from '../util/version.js';
import * as init from './commands/init.js';
import * as issue from './commands/issue.js';
import * as renew from './commands/renew.js';
import * as revoke from './commands/revoke.js';
import * as list from './commands/list.js';
import * as exportCmd from './commands/export.js';
import * as crl from './commands/crl.js';
import * as issueServer from './commands/issue-server.js';
import * as serve from './commands/serve.js';
import * as doctor from './commands/doctor.js';
import * as quickstart from './commands/quickstart.js';
import * as importPgbouncer from './commands/import-pgbouncer.js';
import * as caCommand from './commands/ca.js';
import * as agent from './commands/agent.js';
import { nodeVersionProblem } from '../util/node-version.js';

const tooOld = nodeVersionProblem(process.versions.node);
if (tooOld !== undefined) {
  process.stderr.write(`pgmoat: ${tooOld}\n`);
  process.exit(1);
}

const program = createProgram('pgmoat', packageVersion());
program.description('PostgreSQL gateway with mutual TLS, connection pooling and its own certificate authority');

serve.register(program);
init.register(program);
issue.register(program);
renew.register(program);
revoke.register(program);
list.register(program);
exportCmd.register(program);
crl.register(program);
issueServer.register(program);
doctor.register(program);
quickstart.register(program);
importPgbouncer.register(program);
caCommand.register(program);
agent.register(program);

await runCli(program);
