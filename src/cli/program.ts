import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { ENV_KEYS, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EXIT, EXIT_MEANINGS, EXIT_PRECEDENCE } from '../domain/exit-codes.js';
import { CONNECTOR_STATUSES, EVENT_ACTIONS, PASS_RESULTS } from '../domain/vocabulary.js';
import { createLogger, redactText } from '../logger.js';
import { createRuntime, secretsOf, type Runtime } from '../runtime.js';
import { eventsCommand, type EventsOptions } from './commands/events.js';
import { configCommand } from './commands/config.js';
import { migrateCommand } from './commands/migrate.js';
import { passesCommand, type PassesOptions } from './commands/passes.js';
import { reconcileCommand } from './commands/reconcile.js';
import { statusCommand } from './commands/status.js';
import { addControlCommands } from './controls.js';
import { withDefaultCommand } from './default-command.js';
import { describeFailure } from './failure.js';
import type { CliProcess, Output } from './output.js';
import { parseSince } from './since.js';
import { opsHostOf, quietInTerminal } from './terminal.js';

// The commander program, built as a value: every command, option and help
// text, with the bodies in commands/. It touches the process only through
// the CliProcess it is given, and never exits: `runCli` returns the exit
// code and bin.ts ends the process with it.

// package.json sits beside dist/ in a checkout and in the image alike.
const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** How a command ended: its code, and whether the process ends at once or once idle. */
export interface CliEnding {
  code: number;
  /** The long-running worker ends at once when stopped; the rest once their output is flushed. */
  exitNow: boolean;
}

/** A command that could not start: its line is printed and the process ends with `code`. */
class CommandRefused extends Error {
  constructor(
    readonly code: number,
    /** A worker that failed to start may hold connections open: its process ends at once. */
    readonly exitNow = false,
  ) {
    super(`exit ${code}`);
  }
}

/** What the commands share: the process's edges, and where each action leaves its ending. */
export interface CliContext {
  proc: CliProcess;
  output: Output;
  /** Set by the action that ran. */
  ending: CliEnding;
  /** The global options (--config, --log-level), read once argv is parsed. */
  globals(): { config?: string; logLevel?: string };
}

export { opsHostOf, quietInTerminal };

/** Parses `argv` (as process.argv: node, script, args…) and runs the command it names. */
export async function runCli(argv: string[], proc: CliProcess): Promise<CliEnding> {
  const { program, context } = buildProgram(proc);
  try {
    await program.parseAsync(withDefaultCommand(argv, program, 'run'));
  } catch (error) {
    if (error instanceof CommandRefused) return { code: error.code, exitNow: error.exitNow };
    if (error instanceof CommanderError)
      return { code: error.exitCode === 0 ? EXIT.ok : EXIT.usage, exitNow: false };
    throw error;
  }
  return context.ending;
}

export function buildProgram(proc: CliProcess): { program: Command; context: CliContext } {
  const output: Output = {
    print: (text) => proc.write(`${text}\n`),
    printError: (text) => proc.writeError(`${text}\n`),
  };
  const program = new Command();
  const context: CliContext = {
    proc,
    output,
    ending: { code: EXIT.ok, exitNow: false },
    globals: () => program.opts<{ config?: string; logLevel?: string }>(),
  };
  program
    .name('connector-sync')
    .version(version, '-V, --version', 'print the version and exit')
    .description(
      'Keeps Prefect deployments in step with the cai_connectors table, writing one lifecycle event per change.\nWithout a command, runs `run` (the default).',
    )
    .option(
      '-c, --config <file>',
      'configuration file (default: config/default.yaml; env CONNECTOR_SYNC_CONFIG)',
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: proc.write, writeErr: proc.writeError })
    .addHelpText('after', `\n${exitCodesHelp()}\n\n${ENVIRONMENT_HELP}`);
  addRunCommands(program, context);
  addReadCommands(program, context);
  addControlCommands(program, (work) => withRuntime(context, work), output, proc.env);
  program
    .command('config')
    .description(
      'print the effective configuration: every key, its value (secrets masked) and where it came from (default, file, env, flag)',
    )
    .option('--json', 'one JSON object: {"keys":[{"key","value","source","from"}]}')
    .action((options: { json?: boolean }) => {
      const loaded = readLoadedConfig(context);
      context.ending = { code: configCommand(loaded, options, output), exitNow: false };
    });
  program
    .command('migrate')
    .description("apply the worker's own schema (database.schema), then exit")
    .action(async () => {
      await withRuntime(context, (rt) => migrateCommand(rt, output));
    });
  return { program, context };
}

/** Every variable that sets a key (config/load.ts), and the two that choose the file. */
const ENVIRONMENT_HELP = wrap(
  `Environment: ${[...ENV_KEYS.map(([name]) => name), 'CONNECTOR_SYNC_CONFIG', 'CONNECTOR_SYNC_ENV'].join(', ')}.`,
  80,
  '',
);

/** The exit codes of the commands that reconcile, from the one table (domain/exit-codes.ts). */
function exitCodesHelp(): string {
  const codes = [EXIT.ok, EXIT.problems, EXIT.pending, EXIT.usage, EXIT.unavailable];
  return [
    `Exit codes (run --once, plan, sync, retry; the first that applies of ${EXIT_PRECEDENCE.join(', ')}):`,
    ...codes.map((code) => `  ${String(code).padEnd(4)}${wrap(EXIT_MEANINGS[code], 74, '      ')}`),
  ].join('\n');
}

/** `text` in lines of at most `width` characters, every line after the first indented. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join(`\n${indent}`);
}

function addRunCommands(program: Command, context: CliContext): void {
  program
    .command('run')
    .description(
      'reconcile (the default command): with --once, one pass then exit; without, the long-running worker',
    )
    .option('--once', 'run one pass and exit with its result')
    .option('--dry-run', 'plan only: change nothing (same as `plan`)')
    .option(
      '--allow-mass-delete',
      'with --once or --dry-run: let the pass delete more than reconcile.maxDeletesPerPass',
    )
    .option(
      '--observe',
      'observe mode (= reconcile.mode: observe): plan and report every pass, never write to Prefect',
    )
    .option('--json', 'with --once or --dry-run: print the result as JSON')
    .action(async (options: RunFlags) => {
      const overrides = options.observe ? { 'reconcile.mode': 'observe' } : {};
      if (!options.once && !options.dryRun) {
        context.ending = await runDaemon(context, overrides);
        return;
      }
      const reconcile = {
        dryRun: options.dryRun === true,
        allowMassDelete: options.allowMassDelete === true,
        json: options.json === true,
      };
      await withRuntime(
        context,
        (rt) => reconcileCommand(rt, reconcile, context.output),
        overrides,
      );
    });

  program
    .command('plan')
    .description('show what a pass would change, changing nothing (= run --once --dry-run)')
    .option('--json', 'print one machine-stable JSON object')
    .option('--allow-mass-delete', 'plan as if the mass-delete guard were lifted')
    .action(async (options: { json?: boolean; allowMassDelete?: boolean }) => {
      const reconcile = {
        dryRun: true,
        allowMassDelete: options.allowMassDelete === true,
        json: options.json === true,
      };
      await withRuntime(context, (rt) => reconcileCommand(rt, reconcile, context.output));
    });
}

interface RunFlags {
  once?: boolean;
  dryRun?: boolean;
  allowMassDelete?: boolean;
  observe?: boolean;
  json?: boolean;
}

function addReadCommands(program: Command, context: CliContext): void {
  const { output } = context;
  program
    .command('status')
    .description(
      'per-connector sync state, release and run health (and who suspended which, why, since)',
    )
    .option('--json', 'print JSON')
    .addOption(
      new Option('--status <status...>', 'only connectors in these states').choices(
        CONNECTOR_STATUSES,
      ),
    )
    .option('--release <release>', 'only connectors on this release (as `releases` lists it)')
    .action(async (options: { json?: boolean; status?: string[]; release?: string }) => {
      await withRuntime(context, (rt) => statusCommand(rt, options, output));
    });

  program
    .command('events')
    .description(
      'the lifecycle event log: the newest events (oldest of them first), then with --follow every new one',
    )
    .option(
      '--since <when>',
      'only events at or after this time: an ISO date (2026-01-31, 2026-01-31T08:00:00Z) or a duration before now (45s, 30m, 2h, 7d)',
      parseSinceOption,
    )
    .option('--connector <id>', 'only this connector')
    .addOption(new Option('--action <action>', 'only this action').choices(EVENT_ACTIONS))
    .option(
      '--limit <n>',
      'show the newest N matching events (with --since too); a note says when more match',
      parsePositiveInt,
      100,
    )
    .option(
      '--follow',
      'then keep running and print each new event once, in commit order, reconnecting after a lost Postgres connection (Ctrl-C stops)',
    )
    .option('--json', 'one JSON object per line (the "more match" note goes to stderr)')
    .addHelpText('after', EVENTS_HELP)
    .action(async (options: EventsOptions) => {
      await withRuntime(context, (rt) => eventsCommand(rt, options, output, context.proc));
    });

  program
    .command('passes')
    .description(
      'the pass history: the newest real passes (dry runs are not recorded), newest first',
    )
    .option('--limit <n>', 'show the newest N passes', parsePositiveInt, 20)
    .addOption(new Option('--result <result>', 'only passes that ended so').choices(PASS_RESULTS))
    .option('--json', 'one JSON object per line, newest first')
    .addHelpText('after', PASSES_HELP)
    .action(async (options: PassesOptions) => {
      await withRuntime(context, (rt) => passesCommand(rt, options, output));
    });
}

const EVENTS_HELP = `
--since takes a whole number with s, m, h, d or w, combinable (1h30m), or an ISO
date (a date alone is UTC midnight; a date-time without an offset is local time).
It narrows the window; --limit still keeps the newest of it.

Examples:
  connector-sync events                      the newest 100 events
  connector-sync events --since 2h           the last two hours (at most the newest 100)
  connector-sync events --follow --json      then each new event, one JSON object per line`;

const PASSES_HELP = `
Each line: when the pass started, full or targeted, how it ended (ok; problems:
some connectors failed or are invalid; aborted: cut short; error: the pass
itself failed), how long it took, the changes it applied, the connectors with
a problem, the Prefect calls (reads/writes) and the error, if any.

Examples:
  connector-sync passes                      the newest 20 passes
  connector-sync passes --result error       the passes that failed
  connector-sync passes --limit 1 --json     the last pass, as JSON`;

/**
 * The long-running worker: runs until SIGTERM/SIGINT, then stops gracefully
 * (the changes in flight finish); a second signal ends it at once (130).
 */
async function runDaemon(
  context: CliContext,
  overrides: Record<string, unknown>,
): Promise<CliEnding> {
  const config = opsHostOf(readConfig(context, overrides), context.proc.isTerminal);
  const logger = loggerOf(config);
  context.proc.routeWarnings(logger);
  // Loaded only here: the one-shot commands never pay for the ops server,
  // prom-client and node-cron (tens of MB of a short-lived process's RSS).
  const { startDaemon } = await import('../worker/daemon.js');
  const daemon = await startDaemon(config, logger).catch((error: unknown) => {
    throw new CommandRefused(reportFailure(context, error, config), true);
  });
  return new Promise<CliEnding>((resolve) => {
    let stopping = false;
    context.proc.onSignal((signal) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        return resolve({ code: EXIT.interrupted, exitNow: true });
      }
      stopping = true;
      logger.info({ signal }, 'stopping: finishing the changes in flight');
      daemon.stop().then(
        () => resolve({ code: EXIT.ok, exitNow: true }),
        (error: unknown) => resolve({ code: reportFailure(context, error, config), exitNow: true }),
      );
    });
  });
}

/** Runs a one-shot command with the process's real edges; its exit code becomes the process's. */
async function withRuntime(
  context: CliContext,
  work: (rt: Runtime) => Promise<number>,
  overrides: Record<string, unknown> = {},
): Promise<void> {
  const config = quietInTerminal(readConfig(context, overrides), context);
  const rt = createRuntime(config);
  context.proc.routeWarnings(rt.logger);
  let code: number;
  try {
    code = await work(rt);
  } catch (error) {
    code = reportFailure(context, error, config);
  } finally {
    await rt.close().catch(() => undefined);
  }
  context.ending = { code, exitNow: false };
}

function loggerOf(config: Config): Logger {
  return createLogger({
    level: config.log.level,
    format: config.log.format,
    secrets: secretsOf(config),
  });
}

/** The configuration, or every problem with it on stderr and exit 64. */
function readConfig(context: CliContext, overrides: Record<string, unknown> = {}): Config {
  return readLoadedConfig(context, overrides).config;
}

/** The configuration with where each key came from, or every problem on stderr and exit 64. */
function readLoadedConfig(
  context: CliContext,
  overrides: Record<string, unknown> = {},
): Extract<ReturnType<typeof loadConfig>, { ok: true }> {
  const globals = context.globals();
  const result = loadConfig({
    env: context.proc.env,
    configFile: globals.config,
    overrides: { 'log.level': globals.logLevel, ...overrides },
  });
  if (result.ok) return result;
  const [only, ...more] = result.errors;
  context.output.printError(
    more.length === 0
      ? `connector-sync: invalid configuration: ${only}`
      : `connector-sync: invalid configuration:\n${result.errors.map((e) => `  - ${e}`).join('\n')}`,
  );
  throw new CommandRefused(EXIT.usage);
}

/** One line on stderr, never a secret; the documented exit code (failure.ts). */
function reportFailure(context: CliContext, raw: unknown, config: Config): number {
  const { message, exitCode } = describeFailure(raw, config.database.url);
  context.output.printError(`connector-sync: ${redactText(message, secretsOf(config))}`);
  return exitCode;
}

function parseSinceOption(value: string): Date {
  const since = parseSince(value, new Date());
  if (typeof since === 'string') throw new InvalidArgumentError(since);
  return since;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a positive whole number');
  return n;
}
