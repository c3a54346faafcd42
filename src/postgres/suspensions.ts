import type { Suspension } from '../domain/types.js';
import { notifyWakeup } from './wakeup.js';
import { quoteIdent, type Queryable } from './pool.js';

// <schema>.suspensions: connectors an operator suspended (docs/guides/operating.md, "Suspend and resume").

interface SuspensionRecord {
  connector_id: string;
  suspended_by: string;
  reason: string;
  suspended_at: Date;
}

/** Every suspension, or those of `onlyIds`: id → who, why, since. */
export async function loadSuspensions(
  db: Queryable,
  schema: string,
  onlyIds?: string[],
): Promise<Map<string, Suspension>> {
  const result = await db.query<SuspensionRecord>(
    `SELECT connector_id, suspended_by, reason, suspended_at
       FROM ${quoteIdent(schema)}.suspensions
      ${onlyIds ? 'WHERE connector_id = ANY($1::text[])' : ''}
      ORDER BY connector_id`,
    onlyIds ? [onlyIds] : [],
  );
  return new Map(
    result.rows.map((r) => [
      r.connector_id,
      { by: r.suspended_by, reason: r.reason, since: r.suspended_at },
    ]),
  );
}

/**
 * Suspends the connectors (a connector already suspended gets the new who and
 * why, and keeps its since: it has been left alone since then).
 */
export async function suspend(
  db: Queryable,
  schema: string,
  ids: string[],
  by: string,
  reason: string,
): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.suspensions (connector_id, suspended_by, reason)
     SELECT unnest($1::text[]), $2, $3
     ON CONFLICT (connector_id) DO UPDATE SET
       suspended_by = EXCLUDED.suspended_by, reason = EXCLUDED.reason`,
    [ids, by, reason],
  );
}

/** Lifts the suspensions; the ids that were suspended. */
export async function resume(db: Queryable, schema: string, ids: string[]): Promise<string[]> {
  const result = await db.query<{ connector_id: string }>(
    `DELETE FROM ${quoteIdent(schema)}.suspensions
      WHERE connector_id = ANY($1::text[]) RETURNING connector_id`,
    [ids],
  );
  return result.rows.map((r) => r.connector_id).sort();
}

/**
 * `resume` as the CLI and the console do it: lifts the holds and wakes a
 * running worker for just those connectors (a NOTIFY no one hears costs
 * nothing: without a worker the next pass does it). The ids that were suspended.
 */
export async function resumeAndWake(
  db: Queryable,
  schema: string,
  ids: string[],
): Promise<string[]> {
  const resumed = await resume(db, schema, ids);
  if (resumed.length > 0) await notifyWakeup(db, resumed);
  return resumed;
}
