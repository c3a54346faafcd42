import type pg from 'pg';
import type { EventRow } from '../domain/events.js';
import type { SourceHealth, SourceReading } from '../domain/source-health.js';
import { insertEvents } from './eventlog.js';
import { quoteIdent, withTransaction, type Queryable } from './pool.js';

// What the delete guards read and keep (docs/concepts/ownership-and-safety.md):
// the deletes of the budget's sliding window, counted from the event log, and
// <schema>.source_health, the source check's memory between full passes.

/**
 * Deletes made within the last `seconds` (by the database's clock), with the
 * deletes still open as intents: one that may have landed counts as made.
 */
export async function deletesWithin(
  db: Queryable,
  schema: string,
  seconds: number,
): Promise<number> {
  const s = quoteIdent(schema);
  const result = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM ${s}.events
              WHERE action = 'deleted' AND occurred > statement_timestamp() - make_interval(secs => $1))::int
          + (SELECT count(*) FROM ${s}.intents WHERE action = 'delete')::int AS n`,
    [seconds],
  );
  return result.rows[0]!.n;
}

export async function readSourceHealth(db: Queryable, schema: string): Promise<SourceHealth> {
  const result = await db.query<{ good_rows: number; shrank_since: Date | null }>(
    `SELECT good_rows, shrank_since FROM ${quoteIdent(schema)}.source_health`,
  );
  const row = result.rows[0];
  return { goodRows: row?.good_rows ?? null, shrankSince: row?.shrank_since ?? null };
}

/**
 * Keeps what a full pass found of the source, atomically with `events` (the
 * episode's one event): a healthy read becomes the good count and ends an
 * episode; a shrunk one starts an episode or carries it on, the good count
 * kept.
 */
export async function recordSourceHealth(
  pool: pg.Pool,
  schema: string,
  reading: SourceReading,
  events: EventRow[],
): Promise<void> {
  const table = `${quoteIdent(schema)}.source_health`;
  await withTransaction(pool, async (client) => {
    if (reading.shrank)
      await client.query(
        `UPDATE ${table}
            SET shrank_since = coalesce(shrank_since, statement_timestamp()), shrank_rows = $1`,
        [reading.rows],
      );
    else
      await client.query(
        `INSERT INTO ${table} (id, good_rows, good_at) VALUES (true, $1, statement_timestamp())
         ON CONFLICT (id) DO UPDATE
            SET good_rows = excluded.good_rows, good_at = excluded.good_at,
                shrank_since = NULL, shrank_rows = NULL`,
        [reading.rows],
      );
    await insertEvents(client, schema, events);
  });
}
