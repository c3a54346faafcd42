// What the ops console shows, as text and markup: pure, no DOM and no Node, so the
// browser loads the compiled file as it is (GET /format.js) and unit tests call it.

/** Text made safe to put between tags or in a quoted attribute. */
export function escapeHtml(value: string | number | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The deployment's page in Prefect's UI, or null when no UI address is configured. */
export function deploymentUrl(uiUrl: string | null, deploymentId: string | null): string | null {
  if (!uiUrl || !deploymentId) return null;
  return `${uiUrl.replace(/\/+$/, '')}/deployments/deployment/${encodeURIComponent(deploymentId)}`;
}

/** A time as `YYYY-MM-DD HH:MM:SS UTC`, or a dash for none. */
export function whenText(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

/** An update event's `payload.updates` (`{field: {from, to}}`) as rows, values as compact JSON. */
export function fieldChanges(payload: Record<string, unknown>): FieldChange[] {
  const updates = payload.updates;
  if (!updates || typeof updates !== 'object') return [];
  return Object.entries(updates as Record<string, unknown>).map(([field, change]) => {
    const { from, to } = (change ?? {}) as { from?: unknown; to?: unknown };
    return { field, from: jsonText(from), to: jsonText(to) };
  });
}

/**
 * The masked paths whose values changed (an update's `masked_changes`, a
 * comparison's `maskedDiffers`) as one line; '' when there are none.
 */
export function maskedChangesText(paths: unknown, verb = 'changed'): string {
  if (!Array.isArray(paths) || paths.length === 0) return '';
  return `masked ${paths.length === 1 ? 'value' : 'values'} ${verb}: ${paths.map(String).join(', ')}`;
}

function jsonText(value: unknown): string {
  if (value === undefined) return '–';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface ComparisonRow {
  field: string;
  desired: string;
  actual: string;
  differs: boolean;
}

/**
 * `/api/connectors/<id>`'s comparison as table rows: every field either
 * side has, values as compact JSON ('–' where a side has none), the fields a
 * pass would change first.
 */
export function comparisonRows(comparison: {
  desired: { fields: Record<string, unknown> } | null;
  actual: { fields: Record<string, unknown> } | null;
  differs: string[];
}): ComparisonRow[] {
  const desired = comparison.desired?.fields ?? {};
  const actual = comparison.actual?.fields ?? {};
  const fields = [...new Set([...Object.keys(desired), ...Object.keys(actual)])];
  const differs = new Set(comparison.differs);
  const rows = fields.map((field) => ({
    field,
    desired: field in desired ? jsonText(desired[field]) : '–',
    actual: field in actual ? jsonText(actual[field]) : '–',
    differs: differs.has(field),
  }));
  return [...rows.filter((r) => r.differs), ...rows.filter((r) => !r.differs)];
}

/** One line about an event that is not an update: what failed, or what was made. */
export function eventDetail(event: {
  action: string;
  payload: Record<string, unknown>;
  resource: Record<string, unknown>;
}): string {
  const { payload } = event;
  if (event.action === 'failed') return `${text(payload.status)}: ${text(payload.message)}`;
  const name = event.resource['prefect.resource.name'];
  return typeof name === 'string' ? name : '';
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

export interface PassBar {
  id: string;
  started_at: string;
  kind: string;
  result: string;
  duration_ms: number;
  changes: Record<string, number>;
  problems: number;
  prefect_calls: { reads: number; writes: number };
}

// A bar is at most 24 wide, so a few passes read as bars, not as blocks.
const CHART = { width: 640, height: 160, gap: 2, top: 16, bottom: 4, widest: 24 };

/**
 * The passes (oldest left) as an inline SVG bar chart: height is the duration,
 * colour the result; each bar's <title> tells the rest (a tooltip, and what a
 * screen reader reads).
 */
export function passesChart(passes: PassBar[]): string {
  const { width, height, gap, top, bottom, widest } = CHART;
  const label = `Duration of the last ${passes.length} passes, oldest first`;
  if (passes.length === 0) return '<p>No passes recorded yet.</p>';
  const longest = Math.max(...passes.map((p) => p.duration_ms), 1);
  const barWidth = Math.min(widest, Math.max(2, (width - gap * passes.length) / passes.length));
  const bars = passes.map((p, i) => {
    const h = Math.max(2, ((height - top - bottom) * p.duration_ms) / longest);
    const x = i * (barWidth + gap);
    return (
      `<rect class="bar bar-${escapeHtml(p.result)}" x="${x.toFixed(1)}" y="${(height - bottom - h).toFixed(1)}"` +
      ` width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${escapeHtml(passTitle(p))}</title></rect>`
    );
  });
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(label)}">` +
    `<text x="0" y="11" class="axis">longest ${escapeHtml(seconds(longest))}</text>${bars.join('')}</svg>`
  );
}

export function passTitle(p: PassBar): string {
  const changes = Object.entries(p.changes)
    .filter(([, n]) => n > 0)
    .map(([action, n]) => `${n} ${action}`);
  return [
    `${whenText(p.started_at)} ${p.kind} pass: ${p.result}`,
    seconds(p.duration_ms),
    changes.length ? changes.join(', ') : 'no changes',
    `${p.problems} problems`,
    `${p.prefect_calls.reads} reads, ${p.prefect_calls.writes} writes`,
  ].join('; ');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms / 1000)} s`;
}

/** A connector's `run_health` as `/api/connectors` answers it (null: no full pass read it). */
export interface RunHealthView {
  health: string;
  readiness: string | null;
  last_run_state: string | null;
  last_run_at: string | null;
  runs_late: number;
  failed_runs: number;
  of_last_runs: number;
}

/** What a connector's runs say, in words: the badge's title and the connector's page. */
export function runHealthText(rh: RunHealthView | null | undefined): string {
  if (!rh) return 'Run health: not read yet (no deployment, or no full pass since).';
  const last = rh.last_run_state
    ? `last run ${rh.last_run_state} at ${whenText(rh.last_run_at)}`
    : 'no run in the lookback window';
  return [
    `Run health: ${rh.health}`,
    last,
    `${rh.failed_runs} of the last ${rh.of_last_runs} failed`,
    `${rh.runs_late} late`,
    `Prefect says ${rh.readiness ?? 'nothing of its readiness'}`,
  ].join('; ');
}

/** The fleet table's run-health badge (with its words as a tooltip), or a dash for none. */
export function runHealthBadge(rh: RunHealthView | null | undefined): string {
  if (!rh) return '<span class="rh-none">–</span>';
  const failed = rh.failed_runs > 0 ? ` ${rh.failed_runs}/${rh.of_last_runs} failed` : '';
  const late = rh.runs_late > 0 ? ` ${rh.runs_late} late` : '';
  return (
    `<span class="rh rh-${escapeHtml(rh.health)}" title="${escapeHtml(runHealthText(rh))}">` +
    `${escapeHtml(rh.health)}</span>${escapeHtml(failed + late)}`
  );
}
