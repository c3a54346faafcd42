import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { Output } from './commands/output.js';
import { resumeCommand, suspendCommand } from './commands/suspend.js';
import type { Runtime } from './runtime.js';

// The operator's controls on single connectors, registered on cli.ts's
// program (which alone runs them, prints and exits).

type RunWith = (work: (rt: Runtime) => Promise<number>) => Promise<void>;

/** `--by` defaults to the OS user: $USER, else the account the process runs as. */
function defaultWho(): string {
  const fromEnv = process.env.USER;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value;
}

export function addControlCommands(program: Command, run: RunWith, output: Output): void {
  program
    .command('suspend')
    .description(
      "leave these connectors' deployments exactly as they are (no create, update, pause, resume or delete) until `resume`",
    )
    .argument('<id...>', 'connector ids')
    .requiredOption('--reason <text>', 'why (shown by status, plan and /api/connectors)', nonEmpty)
    .option('--by <name>', 'who suspends them (default: $USER)', nonEmpty)
    .addHelpText(
      'after',
      `
A suspended connector keeps its deployment as it is, even when its row changes,
is deleted or becomes inactive, and when someone edits the deployment in
Prefect; one without a deployment gets none. Its status stays what it was.

Example:
  connector-sync suspend 42 43 --reason "migrating to the new warehouse"`,
    )
    .action(async (ids: string[], options: { reason: string; by?: string }) => {
      const by = options.by ?? defaultWho();
      await run((rt) => suspendCommand(rt, ids, { reason: options.reason, by }, output));
    });

  program
    .command('resume')
    .description(
      'lift a suspension: the connectors are reconciled at once by a running worker (a wake-up), else by the next pass',
    )
    .argument('<id...>', 'connector ids')
    .action(async (ids: string[]) => {
      await run((rt) => resumeCommand(rt, ids, output));
    });
}
