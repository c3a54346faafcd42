import { renderColumns } from './table.js';
import type { PassRecord } from '../domain/pass-record.js';

// The pass history as a table and as JSON (`connector-sync passes`, /api/passes).

/** Newest first, as given: one line per pass, the error (if any) last. */
export function renderPassesTable(passes: PassRecord[], more: boolean): string {
  if (passes.length === 0) return 'No passes recorded yet (dry runs are not recorded).';
  const header = ['STARTED', 'KIND', 'RESULT', 'DURATION', 'CHANGES', 'PROBLEMS', 'CALLS', 'ERROR'];
  const rows = passes.map((p) => [
    p.startedAt.toISOString(),
    p.kind,
    p.result,
    seconds(p.durationMs),
    changesText(p.changes),
    String(p.problems),
    `${p.calls.reads}r/${p.calls.writes}w`,
    p.error ?? '',
  ]);
  const lines = renderColumns(header, rows);
  if (more) lines.push('', `Showing the newest ${passes.length}; use --limit to see more.`);
  return lines.join('\n');
}

/** `{"create": 3, "update": 1}` as `3 create, 1 update`; none as `-`. */
export function changesText(changes: Record<string, number>): string {
  const parts = Object.entries(changes)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => `${n} ${action}`);
  return parts.length ? parts.join(', ') : '-';
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)}s` : `${Math.round(ms / 1000)}s`;
}

export function passJson(p: PassRecord): Record<string, unknown> {
  return {
    id: p.id,
    started_at: p.startedAt.toISOString(),
    finished_at: p.finishedAt.toISOString(),
    kind: p.kind,
    result: p.result,
    duration_ms: p.durationMs,
    changes: p.changes,
    problems: p.problems,
    events: p.events,
    prefect_calls: p.calls,
    error: p.error,
  };
}
