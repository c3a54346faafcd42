import type { Logger } from 'pino';

/** Where a command writes: results to stdout, notes and failures to stderr. */
export interface Output {
  print: (text: string) => void;
  printError: (text: string) => void;
}

/**
 * The process as the CLI sees it, given by bin.ts (tests give their own):
 * its environment, its two output streams and its signals. Nothing under
 * cli/ reaches for `process` itself.
 */
export interface CliProcess {
  env: NodeJS.ProcessEnv;
  write: (text: string) => void;
  writeError: (text: string) => void;
  /**
   * Calls `handler` on SIGTERM and SIGINT from now on (the worker), or on the
   * first of them only (`events --follow`: a second Ctrl-C ends it as ever).
   */
  onSignal: (handler: (signal: NodeJS.Signals) => void, options?: { once: boolean }) => void;
  /** stdin or stdout is a terminal: a person runs it (the ops port then stays on this machine). */
  isTerminal: boolean;
  /** stdout is a terminal: a person reads the output (info logs then stay out of it). */
  outputIsTerminal?: boolean;
  /** Node's process warnings (pg's note on sslmode, say) become log lines of `logger`. */
  routeWarnings: (logger: Logger) => void;
}
