#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { eventsCommand, parseSince, type EventsOptions } from './commands/events.js';
import { ReconcileLock } from './db/lock.js';
import { withDefaultCommand } from './commands/usage.js';
import { migrate } from './db/migrate.js';
import { prepareSchemaForRun, requireCurrentSchema } from './db/schema-check.js';
import { SourceError } from './db/source.js';
import { loadStates } from './db/state.js';
import { ConfigurationError, UnavailableError, coerceError } from './errors.js';
import { describePostgresFailure } from './db/errors.js';
import { createLogger, redactText } from './logger.js';
import { PrefectError } from './prefect/errors.js';
import { runPass } from './reconcile/pass.js';
import { planJson } from './render/plan.js';
import { EXIT, exitCodeOf, renderRun, runJson } from './render/run.js';
import { renderStatusTable, statusJson } from './render/status.js';
import { createRuntime, secretsOf, type Runtime } from './runtime.js';
import type { Daemon } from './worker/daemon.js';

// The only module that parses argv, prints and exits.

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

// package.json sits beside dist/ in a checkout and in the image alike.
const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

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
Exit codes (run --once, plan):
  0   converged (plan: nothing to change)
  1   a connector failed or is invalid/conflicting, or the mass-delete guard held deletes back
  2   plan only: changes pending and no problems
  64  bad usage or configuration, credentials refused, work pool missing
  69  Postgres or Prefect unreachable, or the reconcile lock was held too long

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
  .option('--json', 'print the result as JSON')
  .action(
    async (options: {
      once?: boolean;
      dryRun?: boolean;
      allowMassDelete?: boolean;
      json?: boolean;
    }) => {
      if (!options.once && !options.dryRun) return runDaemon();
      await reconcileCommand({
        dryRun: options.dryRun === true,
        allowMassDelete: options.allowMassDelete === true,
        json: options.json === true,
      });
    },
  );

program
  .command('plan')
  .description('show what a pass would change, changing nothing (= run --once --dry-run)')
  .option('--json', 'print one machine-stable JSON object')
  .option('--allow-mass-delete', 'plan as if the mass-delete guard were lifted')
  .action(async (options: { json?: boolean; allowMassDelete?: boolean }) => {
    await reconcileCommand({
      dryRun: true,
      allowMassDelete: options.allowMassDelete === true,
      json: options.json === true,
    });
  });

program
  .command('status')
  .description('per-connector sync state')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    await withRuntime(async (rt) => {
      await requireCurrentSchema(rt.pool, rt.config.database.schema);
      const states = [...(await loadStates(rt.pool, rt.config.database.schema)).values()];
      print(options.json ? JSON.stringify(statusJson(states), null, 2) : renderStatusTable(states));
      return EXIT.ok;
    });
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
  .addOption(
    new Option('--action <action>', 'only this action').choices([
      'created',
      'updated',
      'paused',
      'resumed',
      'deleted',
      'failed',
    ]),
  )
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
    await withRuntime(async (rt) => {
      await requireCurrentSchema(rt.pool, rt.config.database.schema);
      await eventsCommand(rt, options, {
        print,
        printError: (line) => process.stderr.write(`${line}\n`),
      });
      return EXIT.ok;
    });
  });

program
  .command('migrate')
  .description("apply the worker's own schema (database.schema), then exit")
  .action(async () => {
    await withRuntime(async (rt) => {
      const applied = await migrate(rt.pool, rt.config.database.schema);
      print(applied.length ? `Applied: ${applied.join(', ')}` : 'Schema is current.');
      return EXIT.ok;
    });
  });

/** The long-running worker: runs until SIGTERM/SIGINT; a second signal exits at once. */
async function runDaemon(): Promise<void> {
  const config = readConfigOrExit();
  const secrets = secretsOf(config);
  const logger = createLogger({ level: config.log.level, format: config.log.format, secrets });
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

async function reconcileCommand(options: {
  dryRun: boolean;
  allowMassDelete: boolean;
  json: boolean;
}): Promise<void> {
  await withRuntime(async (rt) => {
    const schema = rt.config.database.schema;
    // Checked before the lock: a mistyped schema must not take a leader lock of its own.
    if (options.dryRun) await requireCurrentSchema(rt.pool, schema);
    else await prepareSchemaForRun(rt.pool, schema, rt.logger);
    const lock = options.dryRun
      ? null
      : await ReconcileLock.acquire(
          rt.config.database.url,
          rt.config.database.schema,
          rt.config.reconcile.lockWaitSeconds,
          rt.logger,
        );
    try {
      const result = await runPass(rt, {
        dryRun: options.dryRun,
        allowMassDelete: options.allowMassDelete,
      });
      if (options.json) print(JSON.stringify({ ...planJson(result), ...runJson(result) }, null, 2));
      else print(renderRun(result));
      return exitCodeOf(result);
    } finally {
      await lock?.release();
    }
  });
}

async function withRuntime(work: (rt: Runtime) => Promise<number>): Promise<void> {
  const config = readConfigOrExit();
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

function readConfigOrExit(): Config {
  const globals = program.opts<GlobalOptions>();
  const result = loadConfig({
    env: process.env,
    configFile: globals.config,
    overrides: { 'log.level': globals.logLevel },
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

function reportFailure(raw: unknown, config: Config): number {
  const error = coerceError(raw);
  const say = (message: string): void => {
    process.stderr.write(`connector-sync: ${redactText(message, secretsOf(config))}\n`);
  };
  if (error instanceof ConfigurationError || error instanceof SourceError) {
    say(error.message);
    return EXIT.usage;
  }
  if (error instanceof UnavailableError) {
    say(error.message);
    return EXIT.unavailable;
  }
  if (error instanceof PrefectError && error.kind === 'not-an-api') {
    say(error.message);
    return EXIT.usage;
  }
  if (error instanceof PrefectError) {
    say(`Prefect is unavailable: ${error.message}`);
    return error.retryable ? EXIT.unavailable : EXIT.usage;
  }
  const postgres = describePostgresFailure(error, config.database.url);
  if (postgres) {
    say(postgres.message);
    return postgres.exit;
  }
  say(`unexpected error: ${error.stack ?? error.message}`);
  return EXIT.problems;
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

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

await program.parseAsync(withDefaultCommand(process.argv, program, 'run'));
