import { userInfo } from 'node:os';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import type { Output } from './output.js';
import { resumeCommand, suspendCommand } from './commands/suspend.js';
import { retryCommand, syncCommand, type SyncOptions } from './commands/sync.js';
import { approveDeletesCommand } from './commands/approve.js';
import type { Runtime } from '../runtime.js';
import { releaseCommand, releasesCommand } from './commands/releases.js';
import { RELEASE_VERBS, type ReleaseVerb } from '../domain/release-controls.js';

// The operator's controls on single connectors, registered on program.ts's
// program.

type RunWith = (work: (rt: Runtime) => Promise<number>) => Promise<void>;

/** `--by` defaults to the OS user: $USER, else the account the process runs as. */
function defaultWho(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.USER;
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

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('expected a number of seconds > 0');
  return n;
}

const RETRYABLE = ['failed', 'invalid', 'conflict'] as const;

const SYNC_HELP = `
With a worker leading, the connectors are handed to it (a request in
<database.schema>.sync_requests and a NOTIFY) and this waits for the outcome
of its pass; with none, this takes the reconcile lock and runs the targeted
pass itself. Either way their backoff is ignored, and a row Prefect refused
as invalid is tried again. In observe mode it only plans.

Exit codes: as \`run --once\` (see \`connector-sync --help\`): 0 converged, 1
a connector failed or is invalid/conflicting, 2 a connector waits for an
earlier call to settle, 64 bad usage (an id that names no connector), 69
Postgres or Prefect unreachable — or no outcome within --timeout.`;

interface SyncFlags {
  json?: boolean;
  timeout: number;
}

/** `--json` and `--timeout`, shared by sync and retry. */
function withSyncFlags(command: Command): Command {
  return command
    .option('--json', 'print the outcome as JSON')
    .option(
      '--timeout <seconds>',
      "how long to wait for a leading worker's pass (then exit 69)",
      positiveSeconds,
      60,
    );
}

function syncOptionsOf(flags: SyncFlags, env: NodeJS.ProcessEnv): SyncOptions {
  return { json: flags.json === true, timeoutSeconds: flags.timeout, by: defaultWho(env) };
}

export function addControlCommands(
  program: Command,
  run: RunWith,
  output: Output,
  env: NodeJS.ProcessEnv,
): void {
  addSyncCommands(program, run, output, env);
  addApproveCommand(program, run, output, env);
  addSuspendCommands(program, run, output, env);
  addReleaseCommands(program, run, output, env);
}

const RELEASE_HELP = `
A release is the fleet-wide part of every connector's deployment — what the
template and the configuration give (docs/concepts/releases.md). A new one
rolls out in waves (rollout.waves), each passed on the runs it produces.

  show      where it stands, its spec, its gate runs and its history
  pause     no wave starts or passes until resumed (a rolling-out release)
  resume    go on (a paused release), or retry a failed, rolled-back or
            superseded one from its first wave
  promote   pass the wave in progress without waiting for its runs
  abort     fail it: its connectors go back to the previous release
  rollback  pin the whole fleet to this earlier complete release: every
            later one still standing is rolled back

The controls change the ledger only (<database.schema>.releases), with their
event, and wake a running worker: its leader's next pass does the writing.

Exit codes: 0 done, 64 no such release, or the release is not in a state the
verb applies to (the message says which), 69 Postgres unreachable.

Examples:
  connector-sync release show 2026.05.2
  connector-sync release pause 2026.05.2 --reason "checking the canary"
  connector-sync release rollback 2026.05.1`;

function addReleaseCommands(
  program: Command,
  run: RunWith,
  output: Output,
  env: NodeJS.ProcessEnv,
): void {
  program
    .command('releases')
    .description(
      'the release ledger, newest first: each release, its state, the connectors on it, its wave',
    )
    .option('--json', 'print the ledger as JSON')
    .action(async (flags: { json?: boolean }) => {
      await run((rt) => releasesCommand(rt, { json: flags.json === true }, output));
    });
  program
    .command('release')
    .description('show a release, or pause, resume, promote, abort or roll back to it')
    .addArgument(new Argument('<verb>', 'what to do').choices(['show', ...RELEASE_VERBS]))
    .argument('<release>', 'the release (as `releases` lists it)')
    .option('--reason <text>', 'why (kept with the event)', nonEmpty)
    .option('--by <name>', 'who (default: $USER)', nonEmpty)
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', RELEASE_HELP)
    .action(
      async (
        verb: ReleaseVerb | 'show',
        id: string,
        flags: { reason?: string; by?: string; json?: boolean },
      ) => {
        const options = {
          json: flags.json === true,
          by: flags.by ?? defaultWho(env),
          reason: flags.reason ?? null,
        };
        await run((rt) => releaseCommand(rt, verb, id, options, output));
      },
    );
}

function addSyncCommands(
  program: Command,
  run: RunWith,
  output: Output,
  env: NodeJS.ProcessEnv,
): void {
  withSyncFlags(
    program
      .command('sync')
      .description('reconcile these connectors now, ignoring backoff; prints the outcome')
      .argument('<id...>', 'connector ids'),
  )
    .addHelpText('after', `${SYNC_HELP}\n\nExample:\n  connector-sync sync 42 43`)
    .action(async (ids: string[], flags: SyncFlags) => {
      await run((rt) => syncCommand(rt, [...new Set(ids)], syncOptionsOf(flags, env), output));
    });

  withSyncFlags(
    program
      .command('retry')
      .description(
        '`sync` every connector whose last pass left it failed, invalid or conflicting (or just --status)',
      )
      .addOption(
        new Option('--status <status...>', 'only connectors in these states')
          .choices(RETRYABLE)
          .default([...RETRYABLE]),
      ),
  )
    .addHelpText(
      'after',
      `${SYNC_HELP}\n\nExamples:\n  connector-sync retry\n  connector-sync retry --status failed`,
    )
    .action(async (flags: SyncFlags & { status: string[] }) => {
      const statuses = [...new Set(flags.status)];
      await run((rt) => retryCommand(rt, statuses, syncOptionsOf(flags, env), output));
    });
}

const APPROVE_HELP = `
Lists the deletes the guards hold now (the per-pass limit, the delete budget,
the source check) — those of the connectors named, or every one with --all —
and approves exactly those: a delete held later needs an approval of its own.
With a worker leading, the approval is handed to it (as sync hands connectors)
and this waits for its pass; with none, this takes the reconcile lock and runs
that pass itself. Prints what was deleted.

Exit codes: 0 the approved deletes were made (or nothing was held), 1 one
failed, 64 bad usage (an id without a held delete, ids and --all together, or
neither), 69 Postgres or Prefect unreachable, or no outcome within --timeout.

Examples:
  connector-sync approve-deletes 42 43
  connector-sync approve-deletes --all --json`;

function addApproveCommand(
  program: Command,
  run: RunWith,
  output: Output,
  env: NodeJS.ProcessEnv,
): void {
  withSyncFlags(
    program
      .command('approve-deletes')
      .description('let held deletes go, beside a running worker; prints what was deleted')
      .argument('[id...]', 'connector ids whose held deletes to approve')
      .option('--all', 'every held delete (orphans too)'),
  )
    .addHelpText('after', APPROVE_HELP)
    .action(async (ids: string[], flags: SyncFlags & { all?: boolean }, command: Command) => {
      // commander's own usage error: "error: …" on stderr, exit 64 (program.ts).
      if (flags.all === true && ids.length > 0)
        command.error('error: name connectors or give --all, not both');
      if (flags.all !== true && ids.length === 0)
        command.error('error: name the connectors whose held deletes to approve, or give --all');
      const selection = flags.all === true ? { all: true as const } : { ids: [...new Set(ids)] };
      await run((rt) => approveDeletesCommand(rt, selection, syncOptionsOf(flags, env), output));
    });
}

function addSuspendCommands(
  program: Command,
  run: RunWith,
  output: Output,
  env: NodeJS.ProcessEnv,
): void {
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
      const by = options.by ?? defaultWho(env);
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
