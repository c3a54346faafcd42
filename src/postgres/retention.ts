import { quoteIdent, type Queryable } from './pool.js';

// Retention of the log and the pass history (docs/concepts/event-log.md, "Retention"): small
// batches, each its own statement, so a prune never holds many row locks or
// one long transaction beside the passes that write.

/**
 * The seq up to which every sink of `sinks` has the log: the lowest of their
 * cursors, '0' when one has none yet, unlimited (null) when no sink is enabled.
 */
export async function deliveredToAll(
  db: Queryable,
  schema: string,
  sinks: string[],
): Promise<string | null> {
  if (sinks.length === 0) return null;
  const { rows } = await db.query<{ n: string; seq: string | null }>(
    `SELECT count(*) AS n, min(seq)::text AS seq FROM ${quoteIdent(schema)}.sink_cursors
      WHERE sink = ANY($1::text[])`,
    [sinks],
  );
  return Number(rows[0]?.n) === sinks.length ? (rows[0]?.seq ?? '0') : '0';
}

/**
 * Deletes up to `batch` events older than `before` whose seq is at most
 * `upToSeq` (null: no bound). Returns how many went.
 */
export async function pruneEvents(
  db: Queryable,
  schema: string,
  before: Date,
  upToSeq: string | null,
  batch: number,
): Promise<number> {
  const s = quoteIdent(schema);
  const result = await db.query(
    `DELETE FROM ${s}.events WHERE seq IN (
       SELECT seq FROM ${s}.events
        WHERE occurred < $1 AND ($2::bigint IS NULL OR seq <= $2::bigint)
        ORDER BY seq LIMIT $3)`,
    [before, upToSeq, batch],
  );
  return result.rowCount ?? 0;
}

/** Deletes up to `batch` rows of the pass history that started before `before`. */
export function prunePasses(
  db: Queryable,
  schema: string,
  before: Date,
  batch: number,
): Promise<number> {
  return pruneOlderThan(db, schema, { table: 'passes', column: 'started_at' }, before, batch);
}

/**
 * Deletes up to `batch` rows of `table` whose `column` is before `before`,
 * oldest first (a null `column` is never before anything: such rows stay).
 * Table and column are literals of ours (the types say which), never input.
 */
export async function pruneOlderThan(
  db: Queryable,
  schema: string,
  where: { table: 'passes' | 'sync_requests'; column: 'started_at' | 'finished_at' },
  before: Date,
  batch: number,
): Promise<number> {
  const table = `${quoteIdent(schema)}.${where.table}`;
  const { column } = where;
  const result = await db.query(
    `DELETE FROM ${table} WHERE id IN (
       SELECT id FROM ${table} WHERE ${column} < $1 ORDER BY ${column} LIMIT $2)`,
    [before, batch],
  );
  return result.rowCount ?? 0;
}
