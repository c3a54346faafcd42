import { describePostgresFailure } from '../postgres/errors.js';
import {
  classifyError,
  coerceError,
  ConfigurationError,
  UnavailableError,
} from '../domain/errors.js';
import { exitCodeOfClass } from '../domain/exit-codes.js';
import { describePrefectFailure, PrefectError } from '../prefect/errors.js';

/**
 * How a command that failed ends: one line to show (never a credential —
 * the caller redacts) and the documented exit code, from the error's class
 * (src/errors.ts). Only an error nobody expected shows its stack.
 */
export function describeFailure(
  raw: unknown,
  databaseUrl: string,
): { message: string; exitCode: number } {
  const error = coerceError(raw);
  const kind = classifyError(error);
  const exitCode = exitCodeOfClass(kind);
  // Ours already say what was tried and what to do.
  if (error instanceof ConfigurationError || error instanceof UnavailableError)
    return { message: error.message, exitCode };
  if (error instanceof PrefectError) {
    const message =
      error.kind === 'not-an-api'
        ? error.message
        : `Prefect is unavailable: ${describePrefectFailure(error)}`;
    return { message, exitCode };
  }
  if (kind === 'configuration' || kind === 'unreachable') {
    const postgres = describePostgresFailure(error, databaseUrl);
    if (postgres)
      return { message: postgres.message, exitCode: exitCodeOfClass(postgres.errorClass) };
    return { message: error.message, exitCode };
  }
  if (kind === 'transient')
    return { message: `temporary failure, try again: ${error.message}`, exitCode };
  return { message: `unexpected error: ${error.stack ?? error.message}`, exitCode };
}
