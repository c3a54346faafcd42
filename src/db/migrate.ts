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

/**
 * Applies the numbered migrations not yet applied, each in its own transaction.
 * A transaction-scoped advisory lock makes replicas that start together take
 * turns: the second one finds the work done and applies nothing.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<string[]> {
  const applied: string[] = [];
  const s = quoteIdent(schema);
  for (const migration of readMigrations()) {
    const done = await withTransaction(pool, async (client) => {
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('connector-sync:migrate:' || $1))`,
        [schema],
      );
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
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
    if (done) applied.push(migration.name);
  }
  return applied;
}

/** The latest migration applied, or 0; compared with the code's to tell if the schema is current. */
export async function schemaVersion(db: Queryable, schema: string): Promise<number> {
  const exists = await db.query<{ present: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS present`,
    [`${quoteIdent(schema)}.migrations`],
  );
  if (!exists.rows[0]?.present) return 0;
  const result = await db.query<{ version: number | null }>(
    `SELECT max(id) AS version FROM ${quoteIdent(schema)}.migrations`,
  );
  return result.rows[0]?.version ?? 0;
}

export function latestMigration(): number {
  return readMigrations().at(-1)?.id ?? 0;
}
