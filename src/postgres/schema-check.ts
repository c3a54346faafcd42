import type pg from 'pg';
import type { Logger } from 'pino';
import { ConfigurationError } from '../domain/errors.js';
import { latestMigration, migrate, MissingSchemaError, schemaVersion } from './migrate.js';
import type { Queryable } from './pool.js';
import { isPgError } from './source.js';

// Only `migrate` creates the worker's schema. The other commands check it
// first, so a mistyped database.schema is one line (exit 64), never a second,
// empty schema with a leader lock of its own.

const MIGRATE = '`connector-sync migrate`';

interface SchemaState {
  database: string;
  role: string;
  exists: boolean;
  /** The latest migration applied (0 for an empty schema). */
  version: number;
  /** The latest migration this release has. */
  needed: number;
}

async function readSchemaState(db: Queryable, schema: string): Promise<SchemaState> {
  const { rows } = await db.query<{ database: string; role: string; exists: boolean }>(
    `SELECT current_database() AS database, current_user AS role,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists`,
    [schema],
  );
  const row = rows[0]!;
  const version = row.exists ? await schemaVersion(db, schema) : 0;
  return { ...row, version, needed: latestMigration() };
}

function missing(schema: string, state: SchemaState): ConfigurationError {
  return new ConfigurationError([
    `schema "${schema}" does not exist in database "${state.database}" (database.schema); run ${MIGRATE} to create it — or fix a typo`,
  ]);
}

function behind(schema: string, state: SchemaState): string {
  return `schema "${schema}" in database "${state.database}" is at version ${state.version}, this release needs ${state.needed}`;
}

/** For the commands that only read (status, events, plan): no DDL, no writes. */
export async function requireCurrentSchema(db: Queryable, schema: string): Promise<void> {
  const state = await readSchemaState(db, schema);
  if (!state.exists) throw missing(schema, state);
  if (state.version < state.needed)
    throw new ConfigurationError([`${behind(schema, state)}; run ${MIGRATE}`]);
}

/**
 * For `run`: a schema that exists but is behind (an empty one a DBA created
 * for the role is version 0) is upgraded when the role may; a missing one is
 * never created.
 */
export async function prepareSchemaForRun(
  pool: pg.Pool,
  schema: string,
  logger: Logger,
): Promise<void> {
  const state = await readSchemaState(pool, schema);
  if (!state.exists) throw missing(schema, state);
  if (state.version >= state.needed) return;
  try {
    const applied = await migrate(pool, schema, { createSchema: false });
    if (applied.length > 0) logger.info({ schema, applied }, 'schema upgraded');
  } catch (error) {
    if (error instanceof MissingSchemaError) throw missing(schema, state);
    if (isPgError(error) && error.code === '42501')
      throw new ConfigurationError([
        `${behind(schema, state)}, and role "${state.role}" may not upgrade it (${error.message}); run ${MIGRATE} with a role that owns the schema`,
      ]);
    throw error;
  }
}
