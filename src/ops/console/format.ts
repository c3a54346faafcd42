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

// A bar is at most 24 wide, so a few passes read as bars, not as blocks. The
// bottom margin holds the time axis.
const CHART = {
  width: 640,
  height: 180,
  gap: 1,
  top: 16,
  bottom: 24,
  left: 4,
  right: 40,
  widest: 24,
};

/**
 * The passes (oldest left) as an inline SVG bar chart on a time axis: each
 * bar stands where its pass started, its height is the duration, its colour
 * the result; each bar's <title> tells the rest (a tooltip, and what a
 * screen reader reads). The axis is labelled in UTC (HH:MM, with the date
 * when the span crosses days).
 */
export function passesChart(passes: PassBar[]): string {
  if (passes.length === 0) return '<p>No passes recorded yet.</p>';
  const { width, height, top, bottom, left, right, widest, gap } = CHART;
  const times = passes.map((p) => new Date(p.started_at).getTime());
  const first = Math.min(...times);
  const span = Math.max(Math.max(...times) - first, 60_000);
  const plot = width - left - right;
  const x = (t: number) => left + ((t - first) / span) * plot;
  const label = `Duration of the last ${passes.length} passes, oldest first, on a time axis from ${whenText(new Date(first).toISOString())} to ${whenText(new Date(first + span).toISOString())}`;
  const longest = Math.max(...passes.map((p) => p.duration_ms), 1);
  // As wide as the closest two passes allow (bars of passes close in time do not overlap).
  const sorted = [...times].sort((a, b) => a - b);
  const closest = Math.min(
    ...sorted.slice(1).map((t, i) => ((t - sorted[i]!) / span) * plot),
    plot,
  );
  const barWidth = Math.max(2, Math.min(widest, plot / passes.length - gap, closest - gap));
  const base = height - bottom;
  const bars = passes.map((p, i) => {
    const h = Math.max(2, ((base - top) * p.duration_ms) / longest);
    const at = Math.min(x(times[i]!), left + plot + right - barWidth);
    return (
      `<rect class="bar bar-${escapeHtml(p.result)}" x="${at.toFixed(1)}" y="${(base - h).toFixed(1)}"` +
      ` width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${escapeHtml(passTitle(p))}</title></rect>`
    );
  });
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(label)}">` +
    `<text x="0" y="11" class="axis">longest ${escapeHtml(seconds(longest))}</text>${bars.join('')}` +
    `${timeAxis(first, span, x, base)}</svg>`
  );
}

const TICK_STEPS_MS = [1, 5, 10, 15, 30, 60, 120, 360, 720, 1440].map((m) => m * 60_000);

/** The axis line and 3 to 6 ticks at round UTC times, each labelled HH:MM (or MM-DD HH:MM). */
function timeAxis(first: number, span: number, x: (t: number) => number, base: number): string {
  const step =
    TICK_STEPS_MS.find((s) => span / s <= 6) ?? 86_400_000 * Math.ceil(span / 86_400_000 / 6);
  const days =
    new Date(first).toISOString().slice(0, 10) !==
    new Date(first + span).toISOString().slice(0, 10);
  const ticks: string[] = [];
  for (let t = Math.ceil(first / step) * step; t <= first + span; t += step) {
    const iso = new Date(t).toISOString();
    const text = days ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
    const at = x(t).toFixed(1);
    ticks.push(
      `<line class="tick" x1="${at}" y1="${base}" x2="${at}" y2="${base + 4}"/>` +
        `<text class="axis" x="${at}" y="${base + 15}" text-anchor="middle">${text}</text>`,
    );
  }
  return (
    `<line class="axis-line" x1="${x(first).toFixed(1)}" y1="${base}" x2="${x(first + span).toFixed(1)}" y2="${base}"/>` +
    `${ticks.join('')}<text class="axis" x="${CHART.width}" y="${base + 15}" text-anchor="end">UTC</text>`
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

/**
 * A failed connector's next attempt: when it is still ahead, the time; once
 * it has passed, "due" — the next pass tries it (never a time in the past
 * shown as the future). '' when there is none.
 */
export function retryText(nextAttemptAt: string | null | undefined, now: number): string {
  if (!nextAttemptAt) return '';
  const at = new Date(nextAttemptAt).getTime();
  if (Number.isNaN(at)) return '';
  return at > now ? `retry at ${whenText(nextAttemptAt)}` : 'retry due (the next pass tries it)';
}

/** A row's schedule: its cron and time zone, or "none". */
export function scheduleText(
  schedule: { cron: string | null; timezone: string | null } | null,
): string {
  if (!schedule) return '–';
  if (!schedule.cron) return 'none';
  return schedule.timezone ? `${schedule.cron} (${schedule.timezone})` : schedule.cron;
}
