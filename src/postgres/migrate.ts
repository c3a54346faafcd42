import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { quoteIdent, withTransaction, type Queryable } from './pool.js';

const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../sql/migrations');

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 3)),
      name: file,
      sql: readFileSync(join(dir, file), 'utf8'),
    }));
}

export interface MigrateOptions {
  /**
   * Only `migrate` creates the schema: a run that finds none was most likely
   * given a mistyped database.schema, and must not start a second, empty one.
   */
  createSchema: boolean;
}

/** Raised when the schema is missing and the caller may not create it. */
export class MissingSchemaError extends Error {
  constructor(readonly schema: string) {
    super(`schema "${schema}" does not exist`);
    this.name = 'MissingSchemaError';
  }
}

/**
 * Applies the numbered migrations not yet applied, each in its own transaction.
 * A schema that is already current gets no DDL at all, so a role without
 * CREATE rights can call this. A transaction-scoped advisory lock makes
 * replicas that start together take turns: the second one finds the work
 * done and applies nothing.
 */
export async function migrate(
  pool: pg.Pool,
  schema: string,
  options: MigrateOptions = { createSchema: true },
): Promise<string[]> {
  const migrations = readMigrations();
  const done = await appliedIds(pool, schema);
  if (migrations.every((m) => done.has(m.id))) return [];
  const applied: string[] = [];
  const s = quoteIdent(schema);
  for (const migration of migrations) {
    const ran = await withTransaction(pool, async (client) => {
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('connector-sync:migrate:' || $1))`,
        [schema],
      );
      // Checked first: Postgres checks the database CREATE privilege before
      // IF NOT EXISTS, so the schema's owner without it would be refused.
      if (!(await schemaExists(client, schema))) {
        if (!options.createSchema) throw new MissingSchemaError(schema);
        await client.query(`CREATE SCHEMA ${s}`);
      }
      if (!(await migrationsTableExists(client, schema)))
        await client.query(
          `CREATE TABLE ${s}.migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
        );
      const seen = await client.query(`SELECT 1 FROM ${s}.migrations WHERE id = $1`, [
        migration.id,
      ]);
      if (seen.rowCount) return false;
      await client.query(`SET LOCAL search_path TO ${s}, public`);
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${s}.migrations (id, name) VALUES ($1, $2)`, [
        migration.id,
        migration.name,
      ]);
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}

export async function schemaExists(db: Queryable, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present`,
    [schema],
  );
  return rows[0]?.present === true;
}

async function migrationsTableExists(db: Queryable, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relname = 'migrations') AS present`,
    [schema],
  );
  return rows[0]?.present === true;
}

/** Ids of the migrations applied so far; none when the schema or its table is missing. */
async function appliedIds(db: Queryable, schema: string): Promise<Set<number>> {
  if (!(await migrationsTableExists(db, schema))) return new Set();
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM ${quoteIdent(schema)}.migrations`,
  );
  return new Set(rows.map((r) => r.id));
}

/** The latest migration applied, or 0; compared with the code's to tell if the schema is current. */
export async function schemaVersion(db: Queryable, schema: string): Promise<number> {
  if (!(await migrationsTableExists(db, schema))) return 0;
  const result = await db.query<{ version: number | null }>(
    `SELECT max(id) AS version FROM ${quoteIdent(schema)}.migrations`,
  );
  return result.rows[0]?.version ?? 0;
}

export function latestMigration(): number {
  return readMigrations().at(-1)?.id ?? 0;
}
