import type { ConnectorState } from '../domain/connector-state.js';
import type { ConnectorStatus } from '../domain/vocabulary.js';
import { quoteIdent, type Queryable } from './pool.js';

interface StateRecord {
  connector_id: string;
  deployment_id: string | null;
  deployment_name: string | null;
  status: ConnectorStatus;
  last_error: string | null;
  attempts: number;
  next_attempt_at: Date | null;
  last_synced_at: Date | null;
  row_hash: string | null;
}

export async function loadStates(
  db: Queryable,
  schema: string,
): Promise<Map<string, ConnectorState>> {
  const result = await db.query<StateRecord>(
    `SELECT connector_id, deployment_id, deployment_name, status, last_error, attempts,
            next_attempt_at, last_synced_at, row_hash
       FROM ${quoteIdent(schema)}.connector_state ORDER BY connector_id`,
  );
  return new Map(result.rows.map((r) => [r.connector_id, fromRecord(r)]));
}

/** Upserts many states in one statement. */
export async function saveStates(
  db: Queryable,
  schema: string,
  states: ConnectorState[],
): Promise<void> {
  if (states.length === 0) return;
  // One row per connector (the last state given wins): an upsert may not touch a row twice.
  const records = [...new Map(states.map((s) => [s.connectorId, toRecord(s)])).values()];
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.connector_state
       (connector_id, deployment_id, deployment_name, status, last_error, attempts, next_attempt_at, last_synced_at, row_hash, updated_at)
     SELECT connector_id, deployment_id, deployment_name, status, last_error, attempts, next_attempt_at, last_synced_at, row_hash, now()
       FROM jsonb_to_recordset($1::jsonb) AS x(connector_id text, deployment_id uuid, deployment_name text, status text,
            last_error text, attempts integer, next_attempt_at timestamptz, last_synced_at timestamptz, row_hash text)
     ON CONFLICT (connector_id) DO UPDATE SET
       deployment_id = EXCLUDED.deployment_id, deployment_name = EXCLUDED.deployment_name,
       status = EXCLUDED.status, last_error = EXCLUDED.last_error, attempts = EXCLUDED.attempts,
       next_attempt_at = EXCLUDED.next_attempt_at, last_synced_at = EXCLUDED.last_synced_at,
       row_hash = EXCLUDED.row_hash, updated_at = now()`,
    [JSON.stringify(records)],
  );
}

function fromRecord(r: StateRecord): ConnectorState {
  return {
    connectorId: r.connector_id,
    deploymentId: r.deployment_id,
    deploymentName: r.deployment_name,
    status: r.status,
    lastError: r.last_error,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastSyncedAt: r.last_synced_at,
    rowHash: r.row_hash,
  };
}

function toRecord(s: ConnectorState): StateRecord {
  return {
    connector_id: s.connectorId,
    deployment_id: s.deploymentId,
    deployment_name: s.deploymentName,
    status: s.status,
    last_error: s.lastError,
    attempts: s.attempts,
    next_attempt_at: s.nextAttemptAt,
    last_synced_at: s.lastSyncedAt,
    row_hash: s.rowHash,
  };
}

export async function countByStatus(
  db: Queryable,
  schema: string,
): Promise<Record<string, number>> {
  const result = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM ${quoteIdent(schema)}.connector_state GROUP BY status`,
  );
  return Object.fromEntries(result.rows.map((r) => [r.status, Number(r.n)]));
}

/** The connectors whose last pass left them in one of `statuses` (for `retry`). */
export async function idsWithStatus(
  db: Queryable,
  schema: string,
  statuses: readonly string[],
): Promise<string[]> {
  const result = await db.query<{ connector_id: string }>(
    `SELECT connector_id FROM ${quoteIdent(schema)}.connector_state
      WHERE status = ANY($1::text[]) ORDER BY connector_id`,
    [statuses],
  );
  return result.rows.map((r) => r.connector_id);
}

/** Of `ids`, those the worker has a state for (connectors it has reconciled before). */
export async function knownIds(
  db: Queryable,
  schema: string,
  ids: readonly string[],
): Promise<Set<string>> {
  const result = await db.query<{ connector_id: string }>(
    `SELECT connector_id FROM ${quoteIdent(schema)}.connector_state
      WHERE connector_id = ANY($1::text[])`,
    [ids],
  );
  return new Set(result.rows.map((r) => r.connector_id));
}

/**
 * How the fleet is ordered: ids of digits only first, in numeric order (9
 * before 10, by length then text, so any length sorts right and a cursor
 * compares exactly), then every other id in text order. `$n` is a parameter
 * holding an id, or the column itself.
 */
function idOrderKey(id: string): string {
  return `(${id} !~ '^[0-9]+$', CASE WHEN ${id} ~ '^[0-9]+$' THEN length(${id}) ELSE 0 END, ${id})`;
}

/**
 * A page of connector states in id order (numeric ids numerically; cursor =
 * the last id seen). Deleted connectors' tombstones only when asked for (or
 * when `status` is deleted).
 */
export async function pageStates(
  db: Queryable,
  schema: string,
  query: {
    /** Just this connector. */
    id?: string | undefined;
    status?: string | undefined;
    q?: string | undefined;
    after?: string | undefined;
    /** Deleted connectors too (default: hidden unless the status asked for is deleted). */
    deleted?: boolean | undefined;
    limit: number;
  },
): Promise<ConnectorState[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.id !== undefined) where.push(`connector_id = $${params.push(query.id)}`);
  if (query.status) where.push(`status = $${params.push(query.status)}`);
  else if (query.deleted === false) where.push(`status <> 'deleted'`);
  if (query.q) {
    // A substring search walks connector_state (no trigram index: pg_trgm is an extension
    // we do not ask for); the page stops at `limit` rows, so it reads only until it is full.
    const like = `$${params.push(containsPattern(query.q))}`;
    where.push(`(connector_id ILIKE ${like} OR deployment_name ILIKE ${like})`);
  }
  if (query.after) {
    const after = `$${params.push(query.after)}::text`;
    where.push(`${idOrderKey('connector_id')} > ${idOrderKey(after)}`);
  }
  const limitParam = `$${params.push(query.limit)}`;
  const result = await db.query<StateRecord>(
    `SELECT connector_id, deployment_id, deployment_name, status, last_error, attempts,
            next_attempt_at, last_synced_at, row_hash
       FROM ${quoteIdent(schema)}.connector_state
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${idOrderKey('connector_id').slice(1, -1)} LIMIT ${limitParam}`,
    params,
  );
  return result.rows.map(fromRecord);
}

/** An ILIKE pattern matching `text` anywhere, with its own % _ and \\ taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
