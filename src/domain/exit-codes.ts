import { classifyError, type ErrorClass } from './errors.js';

// Every exit code connector-sync ends with, written once: the CLI's commands
// return them, bin.ts exits with them, `sync` hands them from the leader to
// the waiting CLI, and docs/reference/exit-codes.md is generated from here.

export const EXIT = {
  ok: 0,
  problems: 1,
  pending: 2,
  suspended: 3,
  usage: 64,
  unavailable: 69,
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** When several apply, the first of these wins (0 only when none of the others does). */
export const EXIT_PRECEDENCE = [
  EXIT.usage,
  EXIT.unavailable,
  EXIT.problems,
  EXIT.pending,
  EXIT.suspended,
  EXIT.ok,
] as const;

/** What each code means, in the words of `--help` and the reference. */
export const EXIT_MEANINGS: Record<ExitCode, string> = {
  0: 'converged (plan: nothing to change)',
  1: 'a connector failed or is invalid/conflicting, or a delete guard held deletes back (everything else was applied)',
  2: 'plan: changes pending and no problems; run --once: no problems, but some connectors were left alone because an earlier call of theirs may still land — run again after the time their note gives',
  3: 'nothing else to do, but connectors an operator suspended differ from their rows: their changes wait for `connector-sync resume` (plan lists them under "suspended", marked "would change")',
  64: 'bad usage or configuration, including credentials Prefect refuses, a work pool that does not exist, a PREFECT_API_URL that is not a Prefect API, a Postgres role or database that does not exist, a malformed DATABASE_URL, sslmode against a server without SSL, a missing or outdated worker schema, and an ops port already in use',
  69: 'Postgres or Prefect unreachable, Prefect kept failing during the pass, or another process held the reconcile lock longer than reconcile.lockWaitSeconds (sync, retry: no outcome from the leading worker within --timeout)',
  130: 'the long-running worker got a second SIGTERM/SIGINT while stopping, and exited at once',
};

/** The commands that end with each code. */
export const EXIT_COMMANDS: Record<ExitCode, string> = {
  0: 'every command',
  1: '`run --once`, `plan`, `sync`, `retry`, `approve-deletes`',
  2: '`run --once`, `plan`, `sync`, `retry`',
  3: '`run --once`, `plan`',
  64: 'every command',
  69: 'every command',
  130: '`run` (the long-running worker)',
};

/** How a failure of each class ends a command. */
const EXIT_OF_CLASS: Record<ErrorClass, ExitCode> = {
  configuration: EXIT.usage,
  unreachable: EXIT.unavailable,
  transient: EXIT.unavailable,
  permanent: EXIT.problems,
};

export function exitCodeOfClass(errorClass: ErrorClass): ExitCode {
  return EXIT_OF_CLASS[errorClass];
}

/** The exit code of a command that failed with `error`. */
export function exitCodeOfError(error: unknown): ExitCode {
  return exitCodeOfClass(classifyError(error));
}
