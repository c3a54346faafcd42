import type { FinishedRequest } from '../../domain/sync-request.js';
import { readSource } from '../../postgres/source.js';
import { knownIds } from '../../postgres/state.js';
import { readFinished, requestSync } from '../../postgres/sync-requests.js';
import type { Queryable } from '../../postgres/pool.js';

// Connectors handed to the leading worker as `connector-sync sync` hands them
// (postgres/sync-requests.ts: a row and a NOTIFY; the leader serves it in a
// targeted pass that ignores backoff, writes the outcome and NOTIFYs). The
// console asks from inside a worker — leader or standby — so it never takes
// the lock itself: it hands the request over and waits a little for the outcome.

/**
 * Of `ids`, those that name nothing: neither a row of the source nor a
 * connector reconciled before (a typo). A row deleted since is known.
 */
export async function unknownConnectors(
  db: Queryable,
  where: { schema: string; table: string },
  ids: string[],
): Promise<string[]> {
  const inSource = new Set((await readSource(db, where.table, ids)).rows.map((r) => r.id));
  const known = await knownIds(db, where.schema, ids);
  return ids.filter((id) => !inSource.has(id) && !known.has(id));
}

const LOOK_EVERY_MS = 200;

/**
 * Writes the request and waits up to `waitMs` for the leader's outcome: the
 * request's id, and its outcome or null when it is still open (it stays
 * open: the leader serves it when it can).
 */
export async function handToLeader(
  db: Queryable,
  schema: string,
  request: { connectorIds: string[]; by: string; approvedDeletes: string[] | null },
  waitMs: number,
): Promise<{ request: string; finished: FinishedRequest | null }> {
  const id = await requestSync(
    db,
    schema,
    request.connectorIds,
    request.by,
    request.approvedDeletes,
  );
  const deadline = Date.now() + waitMs;
  for (;;) {
    const finished = await readFinished(db, schema, id);
    if (finished || Date.now() >= deadline) return { request: id, finished };
    await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
  }
}
