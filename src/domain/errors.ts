// Errors that decide how a run ends, and the one place that tells them
// apart: the CLI turns the class into an exit code (exit-codes.ts), the
// worker logs it with every failed pass and backs off all the same. An edge
// whose errors know their own class (PrefectError) says so with `errorClass`;
// Postgres's and Node's are told apart here by their codes.

/** Bad usage or configuration, credentials Prefect refuses, a missing work pool: exit 64. */
export class ConfigurationError extends Error {
  constructor(
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(problems.join('; '), options);
    this.name = 'ConfigurationError';
  }
}

/** Postgres or Prefect unreachable, or the lock held too long: exit 69. */
export class UnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

/** Raised by a write guard once this process no longer holds the reconcile lock. */
export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`lost the reconcile lock: ${reason}`);
    this.name = 'LeadershipLostError';
  }
}

/**
 * What an error says about the world: the configuration (or the setup it
 * points at) is wrong; a service cannot be reached; something failed that
 * may not fail next time; or something is broken that no retry mends.
 */
export type ErrorClass = 'configuration' | 'unreachable' | 'transient' | 'permanent';
const ERROR_CLASSES = new Set<string>(['configuration', 'unreachable', 'transient', 'permanent']);

// SQLSTATEs, by what they say (PostgreSQL manual, appendix A).
const POSTGRES_CONFIGURATION = new Set([
  '28P01', // invalid_password
  '28000', // invalid_authorization_specification: no such role, pg_hba refuses
  '3D000', // invalid_catalog_name: no such database
  '3F000', // invalid_schema_name
  '42501', // insufficient_privilege
]);
const POSTGRES_UNREACHABLE = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down
  '53300', // too_many_connections
]);
/** Whole SQLSTATE classes: 08 connection exception; 40 transaction rollback, 53 insufficient resources. */
const POSTGRES_UNREACHABLE_CLASSES = ['08'];
const POSTGRES_TRANSIENT_CLASSES = ['40', '53'];
/** Node's own codes when nothing answered. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
/** Node's TLS verification failures: a certificate the client refuses. */
export const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;
/** What pg says when the connection itself failed. */
const CONNECTION_LOST = /timeout expired|Connection terminated|connection timeout/i;

export function classifyError(raw: unknown): ErrorClass {
  const error = coerceError(raw);
  if (error instanceof ConfigurationError) return 'configuration';
  if (error instanceof UnavailableError) return 'unreachable';
  const own = (error as { errorClass?: unknown }).errorClass;
  if (typeof own === 'string' && ERROR_CLASSES.has(own)) return own as ErrorClass;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (POSTGRES_CONFIGURATION.has(code) || CERTIFICATE.test(code)) return 'configuration';
    if (NETWORK.has(code) || POSTGRES_UNREACHABLE.has(code)) return 'unreachable';
    if (POSTGRES_UNREACHABLE_CLASSES.some((c) => code.startsWith(c))) return 'unreachable';
    if (/^[0-9A-Z]{5}$/.test(code) && POSTGRES_TRANSIENT_CLASSES.some((c) => code.startsWith(c)))
      return 'transient';
  }
  if (/does not support SSL/i.test(error.message)) return 'configuration';
  if (CONNECTION_LOST.test(error.message)) return 'unreachable';
  return 'permanent';
}

/**
 * Any thrown value as an Error, without trusting its type: an Error as it is
 * (its name, stack and cause kept); anything else wrapped, kept as `cause`.
 */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  const message =
    typeof value === 'string'
      ? value
      : typeof value === 'object' && value !== null && 'message' in value
        ? String(value.message)
        : (JSON.stringify(value) ?? String(value));
  return new Error(message, { cause: value });
}

/** The release ledger changed since it was read (an operator's command, or another process). */
export class ReleaseChangedError extends Error {
  constructor(readonly releaseId: string) {
    super(`release ${releaseId} changed since it was read; nothing of this write was kept`);
    this.name = 'ReleaseChangedError';
  }
}
