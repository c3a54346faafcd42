import { renderColumns } from './table.js';
import type { Suspension } from '../domain/types.js';
import type { ConnectorState } from '../domain/connector-state.js';
import type { StoredEvent } from '../domain/events.js';

/** `by alice since 2026-12-01T10:00:00.000Z: "migrating"`, or '' when not suspended. */
function suspendedText(s: Suspension | undefined): string {
  return s ? `by ${s.by} since ${s.since.toISOString()}: ${JSON.stringify(s.reason)}` : '';
}

/** Suspended connectors no pass has seen yet: listed too, with no status. */
function unseen(states: ConnectorState[], suspensions: Map<string, Suspension>): string[] {
  const seen = new Set(states.map((s) => s.connectorId));
  return [...suspensions.keys()].filter((id) => !seen.has(id));
}

export function renderStatusTable(
  states: ConnectorState[],
  suspensions: Map<string, Suspension> = new Map(),
): string {
  const extra = unseen(states, suspensions);
  if (states.length === 0 && extra.length === 0) return 'No connectors seen yet: run a pass first.';
  const rows = states.map((s) => [
    s.connectorId,
    s.status,
    s.deploymentName ?? '-',
    s.deploymentId ?? '-',
    String(s.attempts),
    s.lastSyncedAt?.toISOString() ?? '-',
    s.lastError ?? '',
  ]);
  for (const id of extra) rows.push([id, '-', '-', '-', '-', '-', '']);
  // The column is there only when some connector is suspended.
  const ids = [...states.map((s) => s.connectorId), ...extra];
  if (suspensions.size > 0)
    rows.forEach((row, i) => row.push(suspendedText(suspensions.get(ids[i]!))));
  const header = [
    'CONNECTOR',
    'STATUS',
    'DEPLOYMENT',
    'DEPLOYMENT ID',
    'ATTEMPTS',
    'LAST SYNCED',
    'LAST ERROR',
    ...(suspensions.size > 0 ? ['SUSPENDED'] : []),
  ];
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  const held = suspensions.size > 0 ? `; ${suspensions.size} suspended` : '';
  const total = `${states.length + extra.length} connectors: ${summary || 'none seen by a pass'}${held}.`;
  return [...renderColumns(header, rows), '', total].join('\n');
}

function suspensionJson(s: Suspension | undefined): unknown {
  return s ? { by: s.by, reason: s.reason, since: s.since } : null;
}

/**
 * `status --json` and /api/connectors: `suspended` is null or who, why and
 * since; a suspended connector no pass has seen yet is listed with a null status.
 */
export function statusJson(
  states: ConnectorState[],
  suspensions: Map<string, Suspension> = new Map(),
  withUnseen = true,
): unknown {
  const extra = withUnseen ? unseen(states, suspensions) : [];
  return {
    connectors: [
      ...states.map((s) => ({
        connector_id: s.connectorId,
        status: s.status,
        deployment_id: s.deploymentId,
        deployment_name: s.deploymentName,
        last_error: s.lastError,
        attempts: s.attempts,
        next_attempt_at: s.nextAttemptAt,
        last_synced_at: s.lastSyncedAt,
        suspended: suspensionJson(suspensions.get(s.connectorId)),
      })),
      ...extra.map((id) => ({
        connector_id: id,
        status: null,
        deployment_id: null,
        deployment_name: null,
        last_error: null,
        attempts: 0,
        next_attempt_at: null,
        last_synced_at: null,
        suspended: suspensionJson(suspensions.get(id)),
      })),
    ],
  };
}

export function renderEvent(e: StoredEvent): string {
  const rawName = e.resource['prefect.resource.name'];
  const name = typeof rawName === 'string' ? rawName : '';
  let detail = '';
  if (e.action === 'failed') detail = `${String(e.payload.status)}: ${String(e.payload.message)}`;
  else if (Array.isArray(e.payload.updated_fields))
    detail = `fields: ${e.payload.updated_fields.join(', ')}`;
  return `${e.occurred.toISOString()}  ${e.action.padEnd(8)} connector ${String(e.connector_id ?? '-').padEnd(8)} ${name}  ${detail}`.trimEnd();
}
