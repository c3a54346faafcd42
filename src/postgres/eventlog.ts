import type { SequencedEvent, StoredEvent } from '../domain/events.js';
import type pg from 'pg';
import type { EventRow } from '../domain/events.js';
import { storedContext, type RelatedContext } from '../domain/events.js';
import { storedChange } from '../domain/settle.js';
import type { Masker } from '../domain/mask.js';
import type { Intent } from '../domain/settle.js';
import type { Change } from '../domain/types.js';
import { quoteIdent, withTransaction, type Queryable } from './pool.js';
import { saveStates } from './state.js';
import type { ConnectorState } from '../domain/connector-state.js';

// The event log and its intents (docs/concepts/event-log.md). The events table only ever gains
// confirmed events; intents live beside it until confirmed or settled.

export async function recordIntent(
  db: Queryable,
  schema: string,
  intent: Omit<Intent, 'createdAt'>,
): Promise<void> {
  const { change } = intent;
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.intents (id, pass_id, connector_id, action, deployment_id, flow_id, change, context)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      intent.id,
      intent.passId,
      change.connectorId,
      change.action,
      change.action === 'create' ? null : change.deployment.id,
      intent.flowId,
      JSON.stringify(change),
      JSON.stringify(intent.context),
    ],
  );
}

export async function openIntents(db: Queryable, schema: string): Promise<Intent[]> {
  const result = await db.query<{
    id: string;
    pass_id: string;
    change: Change;
    flow_id: string | null;
    context: RelatedContext;
    created_at: Date;
  }>(
    `SELECT id, pass_id, change, flow_id, context, created_at FROM ${quoteIdent(schema)}.intents ORDER BY id`,
  );
  return result.rows.map((r) => ({
    id: r.id,
    passId: r.pass_id,
    change: storedChange(r.change),
    flowId: r.flow_id,
    context: storedContext(r.context),
    createdAt: r.created_at,
  }));
}

/** The database's clock: intents' `created_at` is read against it, so the worker's clock does not matter. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const result = await db.query<{ now: Date }>('SELECT statement_timestamp() AS now');
  return result.rows[0]!.now;
}

export async function dropIntent(db: Queryable, schema: string, intentId: string): Promise<void> {
  await db.query(`DELETE FROM ${quoteIdent(schema)}.intents WHERE id = $1`, [intentId]);
}

/**
 * Turns an intent into its event, atomically with the connector's new state.
 * Returns false (and writes nothing) when the intent is already gone, so an
 * intent can never become two events.
 */
export async function confirmIntent(
  pool: pg.Pool,
  schema: string,
  intentId: string,
  event: EventRow,
  states: ConnectorState[],
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const deleted = await client.query(`DELETE FROM ${quoteIdent(schema)}.intents WHERE id = $1`, [
      intentId,
    ]);
    if (deleted.rowCount !== 1) return false;
    await saveStates(client, schema, states);
    await insertEvents(client, schema, [event]);
    return true;
  });
}

/** Appends events (failure events, which need no intent) together with connector states. */
export async function appendEvents(
  pool: pg.Pool,
  schema: string,
  events: EventRow[],
  states: ConnectorState[],
): Promise<void> {
  if (events.length === 0 && states.length === 0) return;
  await withTransaction(pool, async (client) => {
    await saveStates(client, schema, states);
    await insertEvents(client, schema, events);
  });
}

/** Any constant: the key of the transaction lock that orders event commits. */
const EVENT_ORDER_LOCK = 0x6373_6576; // "csev"

/**
 * Inserts events as the transaction's last statement, under a transaction
 * lock held until commit, so `seq` follows commit order. Held for one insert
 * and a commit: microseconds against a Prefect call of milliseconds.
 */
export async function insertEvents(
  db: Queryable,
  schema: string,
  events: EventRow[],
): Promise<void> {
  if (events.length === 0) return;
  await db.query('SELECT pg_advisory_xact_lock($1)', [EVENT_ORDER_LOCK]);
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.events
       (id, occurred, event, action, connector_id, deployment_id, resource, related, payload, pass_id)
     SELECT id, occurred, event, action, connector_id, deployment_id, resource, related, payload, pass_id
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, occurred timestamptz, event text, action text,
            connector_id text, deployment_id uuid, resource jsonb, related jsonb, payload jsonb, pass_id uuid)
      ORDER BY id`,
    [JSON.stringify(events)],
  );
}

/** `after` names no event: a typo, or a cursor from another database. */
export class UnknownCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`no event has the id ${cursor}; use an event id from an earlier page`);
  }
}

/** NOTIFYed by the event log's trigger for every event committed (its id as payload). */
export const EVENTS_CHANNEL = 'connector_sync_events';

export interface EventQuery {
  since?: Date | undefined;
  connectorId?: string | undefined;
  action?: string | undefined;
  /** Return events committed after the event with this id (cursor paging). */
  after?: string | undefined;
  limit: number;
}

const EVENT_COLUMNS =
  'id, occurred, event, action, connector_id, deployment_id, resource, related, payload, pass_id';

export type EventFilters = Omit<EventQuery, 'limit' | 'after'>;

/** Where-clauses for the filters; their values are appended to `params`. */
function filterClauses(filters: EventFilters, params: unknown[]): string[] {
  const where: string[] = [];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filters.since) add('occurred >= ?', filters.since);
  if (filters.connectorId) add('connector_id = ?', filters.connectorId);
  if (filters.action) add('action = ?', filters.action);
  return where;
}

function whereSql(where: string[]): string {
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/**
 * Masked again as it is read (docs/guides/security.md): events are stored masked,
 * but ones written before masking, or under a narrower `masking.keys`, are
 * not — and nothing read from the log leaves unmasked.
 */
function masked<T extends { payload: Record<string, unknown> }>(row: T, masker: Masker): T {
  return { ...row, payload: masker.eventPayload(row.payload) };
}

export async function queryEvents(
  db: Queryable,
  schema: string,
  query: EventQuery,
  masker: Masker,
): Promise<StoredEvent[]> {
  const params: unknown[] = [];
  const where = filterClauses(query, params);
  if (query.after) {
    const cursor = await db.query(`SELECT 1 FROM ${quoteIdent(schema)}.events WHERE id = $1`, [
      query.after,
    ]);
    if (cursor.rowCount === 0) throw new UnknownCursorError(query.after);
    params.push(query.after);
    where.push(`seq > (SELECT seq FROM ${quoteIdent(schema)}.events WHERE id = $${params.length})`);
  }
  params.push(query.limit);
  const result = await db.query<StoredEvent>(
    `SELECT ${EVENT_COLUMNS} FROM ${quoteIdent(schema)}.events
      ${whereSql(where)}
      ORDER BY seq LIMIT $${params.length}`,
    params,
  );
  return result.rows.map((row) => masked(row, masker));
}

function sequenced(rows: (StoredEvent & { seq: string })[], masker: Masker): SequencedEvent[] {
  return rows.map(({ seq, ...event }) => ({ seq, event: masked(event, masker) }));
}

/**
 * The newest `limit` events matching the filters, oldest first, and how many
 * match in all up to the newest of them (so the count agrees with the page
 * even while events keep coming). Counted only when the page is full.
 */
export async function newestEvents(
  db: Queryable,
  schema: string,
  filters: EventFilters,
  limit: number,
  masker: Masker,
): Promise<{ events: SequencedEvent[]; total: number }> {
  const params: unknown[] = [];
  const where = filterClauses(filters, params);
  const table = `${quoteIdent(schema)}.events`;
  const page = await db.query<StoredEvent & { seq: string }>(
    `SELECT seq, ${EVENT_COLUMNS} FROM ${table} ${whereSql(where)}
      ORDER BY seq DESC LIMIT $${params.length + 1}`,
    [...params, limit],
  );
  const events = sequenced(page.rows.reverse(), masker);
  if (events.length < limit) return { events, total: events.length };
  const counted = await db.query<{ total: string }>(
    `SELECT count(*) AS total FROM ${table}
      ${whereSql([...where, `seq <= $${params.length + 1}`])}`,
    [...params, events.at(-1)!.seq],
  );
  return { events, total: Number(counted.rows[0]!.total) };
}

/**
 * Events matching the filters committed after the event at `afterSeq`, in
 * commit order. `seq` is taken under a lock held until commit, so once an
 * event is visible every event with a smaller seq is too: reading on from the
 * last seq seen skips nothing, whenever and however often it is read.
 */
export async function eventsAfterSeq(
  db: Queryable,
  schema: string,
  filters: EventFilters,
  afterSeq: string,
  limit: number,
  masker: Masker,
): Promise<SequencedEvent[]> {
  const params: unknown[] = [];
  const where = filterClauses(filters, params);
  params.push(afterSeq);
  where.push(`seq > $${params.length}`);
  params.push(limit);
  const result = await db.query<StoredEvent & { seq: string }>(
    `SELECT seq, ${EVENT_COLUMNS} FROM ${quoteIdent(schema)}.events ${whereSql(where)}
      ORDER BY seq LIMIT $${params.length}`,
    params,
  );
  return sequenced(result.rows, masker);
}

/** The seq of the newest committed event ('0' when there is none): where a live feed starts. */
export async function lastSeq(db: Queryable, schema: string): Promise<string> {
  const result = await db.query<{ seq: string }>(
    `SELECT coalesce(max(seq), 0)::text AS seq FROM ${quoteIdent(schema)}.events`,
  );
  return result.rows[0]!.seq;
}

/**
 * Each connector's newest event (the console's "last change"): one backward
 * step of the (connector_id, seq) index per id.
 */
export async function lastEventOf(
  db: Queryable,
  schema: string,
  ids: readonly string[],
): Promise<Map<string, { action: string; occurred: Date }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ connector_id: string; action: string; occurred: Date }>(
    `SELECT i.id AS connector_id, e.action, e.occurred
       FROM unnest($1::text[]) AS i(id)
       CROSS JOIN LATERAL (
         SELECT action, occurred FROM ${quoteIdent(schema)}.events
          WHERE connector_id = i.id ORDER BY seq DESC LIMIT 1) e`,
    [ids],
  );
  return new Map(rows.map((r) => [r.connector_id, { action: r.action, occurred: r.occurred }]));
}
