import { renderColumns } from './table.js';
import type { ConnectorState } from '../db/state.js';
import type { StoredEvent } from '../db/eventlog.js';

export function renderStatusTable(states: ConnectorState[]): string {
  if (states.length === 0) return 'No connectors seen yet: run a pass first.';
  const rows = states.map((s) => [
    s.connectorId,
    s.status,
    s.deploymentName ?? '-',
    s.deploymentId ?? '-',
    String(s.attempts),
    s.lastSyncedAt?.toISOString() ?? '-',
    s.lastError ?? '',
  ]);
  const header = [
    'CONNECTOR',
    'STATUS',
    'DEPLOYMENT',
    'DEPLOYMENT ID',
    'ATTEMPTS',
    'LAST SYNCED',
    'LAST ERROR',
  ];
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  return [...renderColumns(header, rows), '', `${states.length} connectors: ${summary}.`].join(
    '\n',
  );
}

export function statusJson(states: ConnectorState[]): unknown {
  return {
    connectors: states.map((s) => ({
      connector_id: s.connectorId,
      status: s.status,
      deployment_id: s.deploymentId,
      deployment_name: s.deploymentName,
      last_error: s.lastError,
      attempts: s.attempts,
      next_attempt_at: s.nextAttemptAt,
      last_synced_at: s.lastSyncedAt,
    })),
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
