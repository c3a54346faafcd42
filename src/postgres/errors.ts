import pg from 'pg';
import { parse } from 'pg-connection-string';
import { CERTIFICATE, classifyError, type ErrorClass } from '../domain/errors.js';

// What went wrong talking to Postgres, as one line that names what was tried
// (host, port, database, user — never the password) and what to check.

export interface PostgresFailure {
  /** The configuration (or the server's setup for this role) is wrong, or Postgres cannot be reached. */
  errorClass: Extract<ErrorClass, 'configuration' | 'unreachable'>;
  message: string;
}

/** Where a connection string points, filled in with the defaults pg itself uses. */
export function postgresTarget(url: string): string {
  let parsed: Partial<ReturnType<typeof parse>> = {};
  try {
    parsed = parse(url);
  } catch {
    /* unparseable: the defaults are all there is to name */
  }
  const env = process.env;
  const user = parsed.user || env.PGUSER || String(pg.defaults.user ?? '');
  const host = parsed.host || env.PGHOST || 'localhost';
  const port = parsed.port || env.PGPORT || '5432';
  const database = parsed.database || env.PGDATABASE || user;
  return `host ${host}, port ${port}, database "${database}", user "${user}"`;
}

/** null when the error is not one of Postgres's (or of the way to it). */
export function describePostgresFailure(error: Error, url: string): PostgresFailure | null {
  const code = (error as { code?: unknown }).code;
  const said = error.message || (typeof code === 'string' ? code : 'no answer');
  const at = `Postgres (${postgresTarget(url)})`;
  const usage = (what: string, check: string): PostgresFailure => ({
    errorClass: 'configuration',
    message: `${at}: ${what}; ${check}`,
  });
  switch (code) {
    case '28P01':
      return usage(said, 'check the password in DATABASE_URL');
    case '28000':
      return usage(said, "check the user in DATABASE_URL (and the server's pg_hba.conf)");
    case '3D000':
      return usage(said, 'check the database name in DATABASE_URL');
    case '42501':
      return usage(said, 'grant the role what docs/guides/security.md lists for this command');
  }
  const kind = classifyError(error);
  if (kind === 'configuration' && /does not support SSL/i.test(said))
    return usage(
      said,
      'drop sslmode from DATABASE_URL (or set sslmode=disable), or enable SSL on the server',
    );
  if (typeof code === 'string' && CERTIFICATE.test(code))
    return usage(
      `the server's TLS certificate was refused (${code})`,
      'check sslmode and sslrootcert in DATABASE_URL',
    );
  if (kind === 'unreachable')
    return {
      errorClass: 'unreachable',
      message: `Postgres is unavailable (${postgresTarget(url)}): ${said}; check the host and port in DATABASE_URL and that Postgres is running`,
    };
  return null;
}
