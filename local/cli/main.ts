/**
 * `conveyor` (npx conveyor …, or node local/cli/main.ts …): the operator CLI. It talks to the API
 * (CONVEYOR_API_URL, CONVEYOR_API_KEY), to Pub/Sub (tail) and BigQuery (bq, reconcile) and, for
 * reconciliation, to Postgres; defaults come from a running `npm start` (defaults.ts). Each
 * command lives in commands/<name>.ts. Exit codes: see output.ts (0 ok, 1 failed, 2 usage,
 * 3 unavailable, 130 interrupted).
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.ts';
import { withLocalStackDefaults } from './defaults.ts';
import { CliError, EXIT_CODE, say, type CliContext, type ExitCode } from './output.ts';

let exitCode: ExitCode = EXIT_CODE.ok;
let interrupt!: () => void;
const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
let interrupts = 0;
process.on('SIGINT', () => {
  // First Ctrl-C: stop waiting (the command ends cleanly); second: now.
  if (++interrupts > 1) process.exit(EXIT_CODE.interrupted);
  interrupt();
});

const context: CliContext = {
  // A local stack's endpoints and key (npm start) unless the environment says otherwise.
  env: withLocalStackDefaults(process.env),
  stdout: process.stdout,
  stderr: process.stderr,
  setExitCode: (code) => (exitCode = code),
  interrupted,
};

const program = new Command('conveyor')
  .description('Conveyor operator CLI')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
  });
for (const command of COMMANDS) command.register(program, context);
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    exitCode = error.exitCode === 0 ? EXIT_CODE.ok : EXIT_CODE.usage;
  } else if (error instanceof CliError) {
    say(process.stderr, `conveyor: ${error.message}`);
    exitCode = error.exitCode;
  } else {
    say(
      process.stderr,
      `conveyor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    exitCode = EXIT_CODE.unavailable;
  }
}
process.exit(exitCode);
