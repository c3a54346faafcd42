import { quoteIdent, type Queryable } from './pool.js';

// The sinks' cursors in the event log (<schema>.sink_cursors): an outbox.
// A sink has every event whose seq is at most its cursor.

/**
 * Makes `sink`'s cursor at the log's end unless it has one: an enabled sink
 * gets every event from its first start on. Called before any pass runs.
 */
export async function ensureCursor(db: Queryable, schema: string, sink: string): Promise<void> {
  const s = quoteIdent(schema);
  await db.query(
    `INSERT INTO ${s}.sink_cursors (sink, seq)
     SELECT $1, coalesce(max(seq), 0) FROM ${s}.events
     ON CONFLICT (sink) DO NOTHING`,
    [sink],
  );
}

/** The seq up to which `sink` has the log ('0': none of it). */
export async function cursorOf(db: Queryable, schema: string, sink: string): Promise<string> {
  const { rows } = await db.query<{ seq: string }>(
    `SELECT seq::text AS seq FROM ${quoteIdent(schema)}.sink_cursors WHERE sink = $1`,
    [sink],
  );
  return rows[0]?.seq ?? '0';
}

/**
 * Moves the cursor from `from` to `to`; false (and nothing written) when it
 * is not at `from` any more — another process published meanwhile.
 */
export async function advanceCursor(
  db: Queryable,
  schema: string,
  sink: string,
  from: string,
  to: string,
): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO ${quoteIdent(schema)}.sink_cursors AS c (sink, seq, updated_at) VALUES ($1, $3, now())
     ON CONFLICT (sink) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now() WHERE c.seq = $2`,
    [sink, from, to],
  );
  return result.rowCount === 1;
}

/** How far behind a sink is: events after its cursor, and when the oldest of them happened. */
export async function backlogOf(
  db: Queryable,
  schema: string,
  sink: string,
): Promise<{ events: number; oldest: Date | null }> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<{ events: string; oldest: Date | null }>(
    `SELECT count(*) AS events, min(occurred) AS oldest FROM ${s}.events
      WHERE seq > coalesce((SELECT seq FROM ${s}.sink_cursors WHERE sink = $1), 0)`,
    [sink],
  );
  return { events: Number(rows[0]?.events ?? 0), oldest: rows[0]?.oldest ?? null };
}
