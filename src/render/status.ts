import { renderColumns } from './table.js';
import type { Suspension } from '../domain/types.js';
import type { ConnectorState } from '../domain/connector-state.js';
import type { StoredEvent } from '../domain/events.js';
import type { CheckedRunHealth } from '../domain/run-health.js';

/** Run health by connector id (<schema>.run_health), as the last full pass read it. */
export type RunHealthById = ReadonlyMap<string, CheckedRunHealth>;

/** `Crashed 2026-12-07T09:00:00.000Z`, or '-' when no run was read. */
function lastRunText(h: CheckedRunHealth | undefined): string {
  if (!h?.lastRunAt) return '-';
  return `${h.lastRunState ?? '?'} ${h.lastRunAt.toISOString()}`;
}

/** The run-health cells of a row: HEALTH, LAST RUN, LATE, FAILED (of the last N). */
function healthCells(h: CheckedRunHealth | undefined): string[] {
  if (!h) return ['-', '-', '-', '-'];
  return [h.health, lastRunText(h), String(h.runsLate), `${h.failedRuns}/${h.runsConsidered}`];
}

/** `; run health: 3 healthy, 1 failing`, or '' when no pass has read any. */
function healthSummary(health: RunHealthById): string {
  if (health.size === 0) return '';
  const counts = new Map<string, number>();
  for (const h of health.values()) counts.set(h.health, (counts.get(h.health) ?? 0) + 1);
  return `; run health: ${[...counts].map(([verdict, n]) => `${n} ${verdict}`).join(', ')}`;
}

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
  health: RunHealthById = new Map(),
  releases: Map<string, string> = new Map(),
): string {
  const extra = unseen(states, suspensions);
  if (states.length === 0 && extra.length === 0) return 'No connectors seen yet: run a pass first.';
  const rows = states.map((s) => [
    s.connectorId,
    statusText(s),
    s.deploymentName ?? '-',
    s.deploymentId ?? '-',
    String(s.attempts),
    s.lastSyncedAt?.toISOString() ?? '-',
    s.lastError ?? '',
  ]);
  for (const id of extra) rows.push([id, '-', '-', '-', '-', '-', '']);
  const ids = [...states.map((s) => s.connectorId), ...extra];
  // The release column follows STATUS once the ledger has one.
  if (releases.size > 0) rows.forEach((row, i) => row.splice(2, 0, releases.get(ids[i]!) ?? '-'));
  // Run health's columns follow once a full pass has read any.
  if (health.size > 0)
    rows.forEach((row, i) =>
      row.splice(releases.size > 0 ? 3 : 2, 0, ...healthCells(health.get(ids[i]!))),
    );
  // The column is there only when some connector is suspended.
  if (suspensions.size > 0)
    rows.forEach((row, i) => row.push(suspendedText(suspensions.get(ids[i]!))));
  const header = [
    'CONNECTOR',
    'STATUS',
    ...(releases.size > 0 ? ['RELEASE'] : []),
    ...(health.size > 0 ? ['HEALTH', 'LAST RUN', 'LATE', 'FAILED'] : []),
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
  const total = `${states.length + extra.length} connectors: ${summary || 'none seen by a pass'}${held}${healthSummary(health)}.`;
  return [...renderColumns(header, rows), '', total].join('\n');
}

/**
 * An invalid row leaves its deployment as it was: the connector still runs
 * the spec of its last sync. Null otherwise.
 */
function stillRunningSince(s: ConnectorState): Date | null {
  return s.status === 'invalid' && s.deploymentId !== null ? s.lastSyncedAt : null;
}

/** `invalid — still running the spec of <time>` for such a connector; its status otherwise. */
function statusText(s: ConnectorState): string {
  const since = stillRunningSince(s);
  return since ? `${s.status} — still running the spec of ${since.toISOString()}` : s.status;
}

function suspensionJson(s: Suspension | undefined): unknown {
  return s ? { by: s.by, reason: s.reason, since: s.since } : null;
}

/** A connector's run health in JSON; null when no full pass has read it (no deployment, or none yet). */
export function runHealthJson(h: CheckedRunHealth | undefined): unknown {
  if (!h) return null;
  return {
    health: h.health,
    readiness: h.readiness,
    last_run_state: h.lastRunState,
    last_run_state_type: h.lastRunStateType,
    last_run_at: h.lastRunAt,
    runs_late: h.runsLate,
    failed_runs: h.failedRuns,
    of_last_runs: h.runsConsidered,
    deployment_id: h.deploymentId,
    checked_at: h.checkedAt,
  };
}

/**
 * `status --json` and /api/connectors: `suspended` is null or who, why and
 * since; a suspended connector no pass has seen yet is listed with a null
 * status; `run_health` is null or what the last full pass read of its runs.
 */
export function statusJson(
  states: ConnectorState[],
  suspensions: Map<string, Suspension> = new Map(),
  withUnseen = true,
  health: RunHealthById = new Map(),
  releases: Map<string, string> = new Map(),
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
        still_running_since: stillRunningSince(s),
        release: releases.get(s.connectorId) ?? null,
        suspended: suspensionJson(suspensions.get(s.connectorId)),
        run_health: runHealthJson(health.get(s.connectorId)),
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
        still_running_since: null,
        release: releases.get(id) ?? null,
        suspended: suspensionJson(suspensions.get(id)),
        run_health: runHealthJson(health.get(id)),
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
