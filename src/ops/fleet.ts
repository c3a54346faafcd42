import type pg from 'pg';
import { lastEventOf } from '../postgres/eventlog.js';
import { readConnectorReleases } from '../postgres/releases.js';
import { loadRunHealth } from '../postgres/run-health.js';
import { readSource } from '../postgres/source.js';
import { pageStates } from '../postgres/state.js';
import { loadSuspensions } from '../postgres/suspensions.js';
import { statusJson } from '../render/status.js';
import type { connectorsQueryOf } from './queries.js';

// `/api/connectors`: a page of connector states (postgres/state.ts pageStates:
// numeric ids in numeric order, deleted ones only when asked for), each with
// what the console's fleet table shows beside it — its name, schedule and
// whether it is paused as its source row says now (one read of those ids;
// null when the row is gone), and its last change (its newest event).

export interface FleetDeps {
  pool: pg.Pool;
  schema: string;
  /** source.table: the page's rows are read from it by id. */
  sourceTable: string;
}

type Entry = Record<string, unknown> & { connector_id: string };

export async function fleetPage(
  deps: FleetDeps,
  query: ReturnType<typeof connectorsQueryOf>,
): Promise<Record<string, unknown>> {
  const { pool, schema } = deps;
  const states = await pageStates(pool, schema, query);
  const ids = states.map((s) => s.connectorId);
  const [suspensions, health, releases, rows, last] = await Promise.all([
    loadSuspensions(pool, schema, ids),
    loadRunHealth(pool, schema, ids),
    readConnectorReleases(pool, schema, ids),
    // The source is the backend's: when it cannot be read, the page still shows the states.
    rowsOf(deps, ids).catch((error: unknown) => error as Error),
    lastEventOf(pool, schema, ids),
  ]);
  const rowMap = rows instanceof Error ? new Map<string, RowView>() : rows;
  const page = statusJson(states, suspensions, false, health, releases) as { connectors: Entry[] };
  const connectors = page.connectors.map((c) => {
    const row = rowMap.get(c.connector_id);
    const change = last.get(c.connector_id);
    return {
      ...c,
      name: row?.name ?? null,
      schedule: row ? { cron: row.schedule, timezone: row.timezone } : null,
      paused: row ? row.paused : null,
      last_change: change ? { action: change.action, at: change.occurred } : null,
    };
  });
  const next = states.length === query.limit ? states.at(-1)!.connectorId : null;
  const sourceError = rows instanceof Error ? `source rows unread: ${rows.message}` : null;
  return { connectors, next_cursor: next, source_error: sourceError };
}

interface RowView {
  name: string | null;
  schedule: string | null;
  timezone: string | null;
  /** is_active false (a deactivated connector's deployment is paused). */
  paused: boolean | null;
}

/** The page's source rows by id (a row deleted since, or soft-deleted, is left out). */
async function rowsOf(deps: FleetDeps, ids: string[]): Promise<Map<string, RowView>> {
  if (ids.length === 0) return new Map();
  const { rows } = await readSource(deps.pool, deps.sourceTable, ids);
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : null);
  return new Map(
    rows
      .filter((r) => !r.deleted)
      .map((r) => [
        r.id,
        {
          name: text(r.name),
          schedule: text(r.schedule),
          timezone: text(r.timezone),
          paused: typeof r.isActive === 'boolean' ? !r.isActive : null,
        },
      ]),
  );
}
