import type { FinishedRequest, SyncOutcome, SyncRequest } from '../domain/sync-request.js';
import { quoteIdent, type Queryable } from './pool.js';
import { pruneOlderThan } from './retention.js';

// <schema>.sync_requests: `connector-sync sync` / `retry` handing connectors
// (and `approve-deletes` an approval of held deletes) to the leading worker (docs/guides/operating.md, "Sync now and retry"). The CLI inserts and
// NOTIFYs SYNC_CHANNEL; the leader serves every open request in one targeted
// pass, writes each outcome and NOTIFYs SYNCED_CHANNEL with the request's id.

/** A request was written: the leader looks at the open ones. */
export const SYNC_CHANNEL = 'connector_sync_sync';
/** A request was served; the payload is its id. */
export const SYNCED_CHANNEL = 'connector_sync_synced';

/** Writes a request and tells the leader, in one statement; its id. */
export async function requestSync(
  db: Queryable,
  schema: string,
  ids: string[],
  by: string,
  approvedDeletes: string[] | null = null,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `WITH request AS (
       INSERT INTO ${quoteIdent(schema)}.sync_requests (connector_ids, requested_by, approved_deletes)
       VALUES ($1::text[], $2, $4::uuid[]) RETURNING id::text)
     SELECT id, pg_notify($3, id) FROM request`,
    [ids, by, SYNC_CHANNEL, approvedDeletes],
  );
  return rows[0]!.id;
}

/** Every open request, oldest first (at most `limit`: one pass serves a bounded batch). */
export async function openSyncRequests(
  db: Queryable,
  schema: string,
  limit = 500,
): Promise<SyncRequest[]> {
  const { rows } = await db.query<{
    id: string;
    connector_ids: string[];
    requested_by: string;
    approved_deletes: string[] | null;
  }>(
    `SELECT id::text, connector_ids, requested_by, approved_deletes::text[]
       FROM ${quoteIdent(schema)}.sync_requests
      WHERE finished_at IS NULL ORDER BY id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    connectorIds: r.connector_ids,
    requestedBy: r.requested_by,
    approvedDeletes: r.approved_deletes,
  }));
}

/**
 * Writes the outcome of each request still open and NOTIFYs its id; a
 * request already finished (by a CLI that took over) keeps its outcome.
 */
export async function finishSyncRequests(
  db: Queryable,
  schema: string,
  passId: string | null,
  outcomes: { id: string; outcome: SyncOutcome }[],
): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query(
    `WITH done AS (
       UPDATE ${quoteIdent(schema)}.sync_requests r
          SET finished_at = now(), pass_id = $1, outcome = o.outcome
         FROM jsonb_to_recordset($2::jsonb) AS o(id bigint, outcome jsonb)
        WHERE r.id = o.id AND r.finished_at IS NULL
        RETURNING r.id::text)
     SELECT pg_notify($3, id) FROM done`,
    [passId, JSON.stringify(outcomes), SYNCED_CHANNEL],
  );
}

/** A request's outcome once it is served; null while it is open. */
export async function readFinished(
  db: Queryable,
  schema: string,
  id: string,
): Promise<FinishedRequest | null> {
  const { rows } = await db.query<{
    pass_id: string | null;
    finished_at: Date | null;
    outcome: SyncOutcome | null;
  }>(
    `SELECT pass_id, finished_at, outcome FROM ${quoteIdent(schema)}.sync_requests WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row?.finished_at || !row.outcome) return null;
  return { passId: row.pass_id, finishedAt: row.finished_at, outcome: row.outcome };
}

/** Deletes up to `batch` finished requests older than `before` (open ones have no finished_at). */
export function pruneSyncRequests(
  db: Queryable,
  schema: string,
  before: Date,
  batch: number,
): Promise<number> {
  return pruneOlderThan(
    db,
    schema,
    { table: 'sync_requests', column: 'finished_at' },
    before,
    batch,
  );
}
