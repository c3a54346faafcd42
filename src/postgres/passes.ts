import type { PassRecord } from '../domain/pass-record.js';
import { quoteIdent, type Queryable } from './pool.js';

// <schema>.passes: the history of real passes (docs/concepts/exactly-once.md, "Pass history").

const COLUMNS =
  'id, started_at, finished_at, kind, result, changes, problems, events, calls, duration_ms, error';

export async function insertPass(db: Queryable, schema: string, pass: PassRecord): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.passes (${COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      pass.id,
      pass.startedAt,
      pass.finishedAt,
      pass.kind,
      pass.result,
      JSON.stringify(pass.changes),
      pass.problems,
      pass.events,
      JSON.stringify(pass.calls),
      pass.durationMs,
      pass.error,
    ],
  );
}

interface PassRow {
  id: string;
  started_at: Date;
  finished_at: Date;
  kind: PassRecord['kind'];
  result: PassRecord['result'];
  changes: Record<string, number>;
  problems: number;
  events: number;
  calls: { reads: number; writes: number };
  duration_ms: number;
  error: string | null;
}

/**
 * The newest passes first, `limit` of them, started before the pass `before`
 * (a cursor: the id of the last pass of the previous page).
 */
export async function recentPasses(
  db: Queryable,
  schema: string,
  query: { limit: number; before?: string | undefined; result?: string | undefined },
): Promise<PassRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.before)
    where.push(
      `(started_at, id) < (SELECT started_at, id FROM ${quoteIdent(schema)}.passes WHERE id = $${params.push(query.before)})`,
    );
  if (query.result) where.push(`result = $${params.push(query.result)}`);
  const limit = `$${params.push(query.limit)}`;
  const { rows } = await db.query<PassRow>(
    `SELECT ${COLUMNS} FROM ${quoteIdent(schema)}.passes
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY started_at DESC, id DESC LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => ({
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    kind: r.kind,
    result: r.result,
    changes: r.changes,
    problems: r.problems,
    events: r.events,
    calls: r.calls,
    durationMs: r.duration_ms,
    error: r.error,
  }));
}
