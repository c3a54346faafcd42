#!/usr/bin/env node
import process from 'node:process';
import type { Logger } from 'pino';
import { runCli } from './program.js';
import type { CliProcess } from './output.js';

// The executable: the real process handed to the CLI, and the one place
// connector-sync exits. A one-shot command leaves its code for when the event
// loop is idle (its output flushed); the stopped worker exits at once.

const proc: CliProcess = {
  env: process.env,
  write: (text) => process.stdout.write(text),
  writeError: (text) => process.stderr.write(text),
  isTerminal: process.stdin.isTTY === true || process.stdout.isTTY === true,
  outputIsTerminal: process.stdout.isTTY === true,
  onSignal: (handler, options) => {
    const on = options?.once ? 'once' : 'on';
    let handled = false;
    const each = (signal: NodeJS.Signals): void => {
      if (options?.once && handled) return;
      handled = true;
      handler(signal);
    };
    process[on]('SIGTERM', each);
    process[on]('SIGINT', each);
  },
  routeWarnings: (logger: Logger) => {
    // Node prints a warning as several lines of stderr; here each becomes one log line.
    process.removeAllListeners('warning');
    process.on('warning', (warning) =>
      logger.warn({ warning: warning.name }, warning.message.replace(/\s*\n\s*/g, ' ')),
    );
  },
};

const ending = await runCli(process.argv, proc);
if (ending.exitNow) process.exit(ending.code);
process.exitCode = ending.code;
