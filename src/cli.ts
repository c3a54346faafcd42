#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { eventsCommand, type EventsOptions } from './commands/events.js';
import { describeFailure } from './commands/failure.js';
import { migrateCommand } from './commands/migrate.js';
import { passesCommand, type PassesOptions } from './commands/passes.js';
import type { Output } from './commands/output.js';
import { reconcileCommand } from './commands/reconcile.js';
import { parseSince } from './commands/since.js';
import { statusCommand } from './commands/status.js';
import { withDefaultCommand } from './commands/usage.js';
import { addControlCommands } from './cli-controls.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { EVENT_ACTIONS, PASS_RESULTS } from './core/vocabulary.js';
import { createLogger, redactText } from './logger.js';
import { EXIT } from './render/run.js';
import { createRuntime, secretsOf, type Runtime } from './runtime.js';
import type { Daemon } from './worker/daemon.js';

// The only module that parses argv, prints and exits. Each command's body
// lives in src/commands/.

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

// package.json sits beside dist/ in a checkout and in the image alike.
const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

const output: Output = {
  print: (text) => process.stdout.write(`${text}\n`),
  printError: (text) => process.stderr.write(`${text}\n`),
};

const program = new Command()
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
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT.usage))
  .addHelpText(
    'after',
    `
Exit codes (run --once, plan, sync, retry):
  0   converged (plan: nothing to change)
  1   a connector failed or is invalid/conflicting, or the mass-delete guard held deletes back
  2   plan only: changes pending and no problems
  64  bad usage or configuration, credentials refused, work pool missing
  69  Postgres or Prefect unreachable, or the reconcile lock was held too long
      (sync, retry: no outcome from the leading worker within --timeout)

Environment: DATABASE_URL, PREFECT_API_URL, PREFECT_API_KEY, PREFECT_API_AUTH_STRING,
CONNECTOR_SYNC_CONFIG, CONNECTOR_SYNC_ENV, CONNECTOR_SYNC_SCHEDULE, LOG_LEVEL, LOG_FORMAT, HOST, PORT.`,
  );

program
  .command('run')
  .description(
    'reconcile (the default command): with --once, one pass then exit; without, the long-running worker',
  )
  .option('--once', 'run one pass and exit with its result')
  .option('--dry-run', 'plan only: change nothing (same as `plan`)')
  .option('--allow-mass-delete', 'let a pass delete more than reconcile.maxDeletesPerPass')
  .option(
    '--observe',
    'observe mode (= reconcile.mode: observe): plan and report every pass, never write to Prefect',
  )
  .option('--json', 'print the result as JSON')
  .action(
    async (options: {
      once?: boolean;
      dryRun?: boolean;
      allowMassDelete?: boolean;
      observe?: boolean;
      json?: boolean;
    }) => {
      const overrides = options.observe ? { 'reconcile.mode': 'observe' } : {};
      if (!options.once && !options.dryRun) return runDaemon(overrides);
      const reconcile = {
        dryRun: options.dryRun === true,
        allowMassDelete: options.allowMassDelete === true,
        json: options.json === true,
      };
      await withRuntime((rt) => reconcileCommand(rt, reconcile, output), overrides);
    },
  );

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
    await withRuntime((rt) => reconcileCommand(rt, reconcile, output));
  });

program
  .command('status')
  .description('per-connector sync state')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    await withRuntime((rt) => statusCommand(rt, options, output));
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
  .addHelpText(
    'after',
    `
--since takes a whole number with s, m, h, d or w, combinable (1h30m), or an ISO
date (a date alone is UTC midnight; a date-time without an offset is local time).
It narrows the window; --limit still keeps the newest of it.

Examples:
  connector-sync events                      the newest 100 events
  connector-sync events --since 2h           the last two hours (at most the newest 100)
  connector-sync events --follow --json      then each new event, one JSON object per line`,
  )
  .action(async (options: EventsOptions) => {
    await withRuntime((rt) => eventsCommand(rt, options, output));
  });

program
  .command('passes')
  .description('the pass history: the newest real passes (dry runs are not recorded), newest first')
  .option('--limit <n>', 'show the newest N passes', parsePositiveInt, 20)
  .addOption(new Option('--result <result>', 'only passes that ended so').choices(PASS_RESULTS))
  .option('--json', 'one JSON object per line, newest first')
  .addHelpText(
    'after',
    `
Each line: when the pass started, full or targeted, how it ended (ok; problems:
some connectors failed or are invalid; aborted: cut short; error: the pass
itself failed), how long it took, the changes it applied, the connectors with
a problem, the Prefect calls (reads/writes) and the error, if any.

Examples:
  connector-sync passes                      the newest 20 passes
  connector-sync passes --result error       the passes that failed
  connector-sync passes --limit 1 --json     the last pass, as JSON`,
  )
  .action(async (options: PassesOptions) => {
    await withRuntime((rt) => passesCommand(rt, options, output));
  });

addControlCommands(program, (work) => withRuntime(work), output);

program
  .command('migrate')
  .description("apply the worker's own schema (database.schema), then exit")
  .action(async () => {
    await withRuntime((rt) => migrateCommand(rt, output));
  });

/** The long-running worker: runs until SIGTERM/SIGINT; a second signal exits at once. */
async function runDaemon(overrides: Record<string, unknown>): Promise<void> {
  const config = readConfigOrExit(overrides);
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    secrets: secretsOf(config),
  });
  logWarnings(logger);
  let daemon: Daemon;
  try {
    // Loaded only here: the one-shot commands never pay for the ops server,
    // prom-client and node-cron (tens of MB of a short-lived process's RSS).
    const { startDaemon } = await import('./worker/daemon.js');
    daemon = await startDaemon(config, logger);
  } catch (error) {
    process.exit(reportFailure(error, config));
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing the changes in flight');
    daemon
      .stop()
      .then(() => process.exit(EXIT.ok))
      .catch((error: unknown) => process.exit(reportFailure(error, config)));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs a one-shot command with the process's real edges; its exit code becomes the process's. */
async function withRuntime(
  work: (rt: Runtime) => Promise<number>,
  overrides: Record<string, unknown> = {},
): Promise<void> {
  const config = readConfigOrExit(overrides);
  const rt = createRuntime(config);
  logWarnings(rt.logger);
  let code: number;
  try {
    code = await work(rt);
  } catch (error) {
    code = reportFailure(error, config);
  } finally {
    await rt.close().catch(() => undefined);
  }
  process.exitCode = code;
}

function readConfigOrExit(overrides: Record<string, unknown> = {}): Config {
  const globals = program.opts<GlobalOptions>();
  const result = loadConfig({
    env: process.env,
    configFile: globals.config,
    overrides: { 'log.level': globals.logLevel, ...overrides },
  });
  if (!result.ok) {
    const [only, ...more] = result.errors;
    process.stderr.write(
      more.length === 0
        ? `connector-sync: invalid configuration: ${only}\n`
        : `connector-sync: invalid configuration:\n${result.errors.map((e) => `  - ${e}`).join('\n')}\n`,
    );
    process.exit(EXIT.usage);
  }
  return result.config;
}

/** One line on stderr, never a secret; the documented exit code (commands/failure.ts). */
function reportFailure(raw: unknown, config: Config): number {
  const { message, exitCode } = describeFailure(raw, config.database.url);
  process.stderr.write(`connector-sync: ${redactText(message, secretsOf(config))}\n`);
  return exitCode;
}

/**
 * Node prints a process warning (pg's note on sslmode, say) as several lines
 * of stderr; here each becomes one log line, like everything else there.
 */
function logWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) =>
    logger.warn({ warning: warning.name }, warning.message.replace(/\s*\n\s*/g, ' ')),
  );
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

await program.parseAsync(withDefaultCommand(process.argv, program, 'run'));
