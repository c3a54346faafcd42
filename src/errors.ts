// Errors that decide how a run ends (SPEC §2 exit codes).

/** Bad usage or configuration, credentials Prefect refuses, a missing work pool: exit 64. */
export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ConfigurationError';
  }
}

/** Postgres or Prefect unreachable, or the lock held too long: exit 69. */
export class UnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/** Turns any thrown value into an Error without trusting its type. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
