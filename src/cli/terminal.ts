import type { Config } from '../config/schema.js';
import type { CliProcess } from './output.js';

// What running from a terminal changes: a person is there, so the ops port
// stays on this machine and info logs stay out of the output they read.

/**
 * http.host unset (null): from a terminal (stdin or stdout a TTY) the ops
 * port stays on this machine, 127.0.0.1; otherwise — a container, a service
 * manager — every interface. HOST / http.host always win (`::` for every
 * interface from a terminal).
 */
export function opsHostOf(config: Config, isTerminal: boolean): Config {
  if (config.http.host !== null || !isTerminal) return config;
  return { ...config, http: { ...config.http, host: '127.0.0.1' } };
}

/**
 * A command whose output a person reads in a terminal logs warnings and
 * worse only, so no info line lands between the rows of its table (stderr
 * and stdout share the screen); LOG_LEVEL, --log-level or a log.level other
 * than the default still decide.
 */
export function quietInTerminal(
  config: Config,
  context: { proc: CliProcess; globals: () => { logLevel?: string | undefined } },
): Config {
  const asked =
    context.proc.env.LOG_LEVEL !== undefined || context.globals().logLevel !== undefined;
  if (context.proc.outputIsTerminal !== true || asked || config.log.level !== 'info') return config;
  return { ...config, log: { ...config.log, level: 'warn' } };
}
