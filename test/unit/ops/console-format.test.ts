import { describe, expect, it } from 'vitest';
import {
  deploymentUrl,
  escapeHtml,
  eventDetail,
  fieldChanges,
  passesChart,
  retryText,
  scheduleText,
  passTitle,
  whenText,
  type PassBar,
  comparisonRows,
  runHealthBadge,
  runHealthText,
} from '../../../src/ops/console/format.js';

const pass = (over: Partial<PassBar> = {}): PassBar => ({
  id: '0190c2a4-7d1e-7c3b-9f00-123456789abc',
  started_at: '2026-12-01T10:00:00.000Z',
  kind: 'full',
  result: 'ok',
  duration_ms: 1500,
  changes: { create: 3, update: 0 },
  problems: 1,
  prefect_calls: { reads: 4, writes: 3 },
  ...over,
});

describe('console format helpers', () => {
  it('escapes markup, quotes included, and shows nothing for null', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;',
    );
    expect(escapeHtml(null)).toBe('');
  });

  it('links a deployment into the Prefect UI only when a UI address is set', () => {
    expect(deploymentUrl('http://127.0.0.1:4200/', 'abc')).toBe(
      'http://127.0.0.1:4200/deployments/deployment/abc',
    );
    expect(deploymentUrl(null, 'abc')).toBeNull();
    expect(deploymentUrl('http://ui', null)).toBeNull();
  });

  it('formats times in UTC and a dash for none', () => {
    expect(whenText('2026-12-01T10:00:05.123Z')).toBe('2026-12-01 10:00:05 UTC');
    expect(whenText(null)).toBe('–');
    expect(whenText('not a date')).toBe('–');
  });

  it("turns an update's payload.updates into from/to rows", () => {
    const payload = {
      updated_fields: ['schedules', 'paused'],
      updates: { paused: { from: false, to: true }, description: { from: 'a', to: 'b' } },
    };
    expect(fieldChanges(payload)).toEqual([
      { field: 'paused', from: 'false', to: 'true' },
      { field: 'description', from: 'a', to: 'b' },
    ]);
    expect(fieldChanges({ id: 'x' })).toEqual([]);
  });

  it("says what failed, or names the event's deployment", () => {
    const failed = { action: 'failed', payload: { status: 'invalid', message: 'bad cron' } };
    expect(eventDetail({ ...failed, resource: {} })).toBe('invalid: bad cron');
    const created = { action: 'created', payload: {}, resource: { 'prefect.resource.name': 'd' } };
    expect(eventDetail(created)).toBe('d');
  });

  it('draws one bar per pass, tallest for the longest, with a title for each', () => {
    const svg = passesChart([
      pass({ duration_ms: 1000 }),
      pass({ duration_ms: 4000, result: 'error' }),
    ]);
    const bars = [...svg.matchAll(/<rect class="bar bar-(\w+)"[^>]* height="([\d.]+)"/g)];
    expect(bars.map((b) => b[1])).toEqual(['ok', 'error']);
    expect(Number(bars[1]![2])).toBeGreaterThan(Number(bars[0]![2]) * 3.9);
    expect(svg).toContain('role="img"');
    expect(svg.match(/<title>/g)).toHaveLength(2);
    const lone = /width="([\d.]+)"/.exec(passesChart([pass()]).replace(/^<svg[^>]*>/, ''));
    expect(Number(lone![1])).toBeLessThanOrEqual(24);
    expect(passesChart([])).toBe('<p>No passes recorded yet.</p>');
  });

  it("a pass's title gives duration, changes, problems and calls", () => {
    expect(passTitle(pass())).toBe(
      '2026-12-01 10:00:00 UTC full pass: ok; 1.50 s; 3 create; 1 problems; 4 reads, 3 writes',
    );
  });

  it('escapes a result it does not know', () => {
    expect(passesChart([pass({ result: '"><script>' })])).not.toContain('<script>');
  });

  it('lays desired beside actual, the fields a pass would change first', () => {
    const rows = comparisonRows({
      desired: { fields: { description: 'ehr', tags: ['a', 'b'], paused: false } },
      actual: { fields: { description: 'ehr', tags: ['a'], paused: false } },
      differs: ['tags'],
    });
    expect(rows).toEqual([
      { field: 'tags', desired: '["a","b"]', actual: '["a"]', differs: true },
      { field: 'description', desired: 'ehr', actual: 'ehr', differs: false },
      { field: 'paused', desired: 'false', actual: 'false', differs: false },
    ]);
    expect(
      comparisonRows({ desired: { fields: { paused: true } }, actual: null, differs: [] }),
    ).toEqual([{ field: 'paused', desired: 'true', actual: '–', differs: false }]);
  });
});

describe('run health in the console', () => {
  const crashing = {
    health: 'failing',
    readiness: 'NOT_READY',
    last_run_state: 'Crashed',
    last_run_at: '2026-12-01T09:00:00.000Z',
    runs_late: 1,
    failed_runs: 2,
    of_last_runs: 5,
  };

  it('a badge per verdict, with failed and late counts beside it and the words as its title', () => {
    expect(runHealthBadge(crashing)).toBe(
      '<span class="rh rh-failing" title="Run health: failing; last run Crashed at 2026-12-01 09:00:00 UTC; 2 of the last 5 failed; 1 late; Prefect says NOT_READY">failing</span> 2/5 failed 1 late',
    );
    expect(
      runHealthBadge({ ...crashing, health: 'healthy', failed_runs: 0, runs_late: 0 }),
    ).toMatch(/^<span class="rh rh-healthy" title="[^"]*">healthy<\/span>$/);
    expect(runHealthBadge(null)).toBe('<span class="rh-none">–</span>');
  });

  it('says when nothing was read, and escapes what Prefect named', () => {
    expect(runHealthText(undefined)).toBe(
      'Run health: not read yet (no deployment, or no full pass since).',
    );
    expect(runHealthBadge({ ...crashing, health: '<b>' })).toContain('rh-&#60;b&#62;');
    expect(runHealthText({ ...crashing, last_run_state: null })).toContain(
      'no run in the lookback window',
    );
  });
});

describe('retryText and scheduleText', () => {
  const now = Date.parse('2026-12-01T10:00:00Z');
  it('a retry still ahead is a time; one in the past is due, never a future time', () => {
    expect(retryText('2026-12-01T10:05:00Z', now)).toBe('retry at 2026-12-01 10:05:00 UTC');
    expect(retryText('2026-12-01T09:55:00Z', now)).toBe('retry due (the next pass tries it)');
    expect(retryText(null, now)).toBe('');
  });
  it('a schedule is its cron and zone, or none', () => {
    expect(scheduleText({ cron: '0 4 * * *', timezone: 'UTC' })).toBe('0 4 * * * (UTC)');
    expect(scheduleText({ cron: null, timezone: null })).toBe('none');
    expect(scheduleText(null)).toBe('–');
  });
});

describe('passesChart: the time axis', () => {
  it('places bars by start time and labels round UTC times', () => {
    const svg = passesChart([
      { ...chartPass, started_at: '2026-12-01T10:00:00Z' },
      { ...chartPass, started_at: '2026-12-01T10:30:00Z' },
      { ...chartPass, started_at: '2026-12-01T10:31:00Z' },
    ]);
    const xs = [...svg.matchAll(/<rect [^>]*x="([\d.]+)"/g)].map((m) => Number(m[1]));
    // 30 minutes apart, then 1: the gaps on the axis say so.
    expect((xs[1]! - xs[0]!) / (xs[2]! - xs[1]!)).toBeCloseTo(30, 0);
    expect(svg).toContain('>10:00<');
    expect(svg).toContain('>10:30<');
    expect(svg).toContain('>UTC<');
  });
});

const chartPass = {
  id: 'p',
  started_at: '2026-12-01T10:00:00Z',
  kind: 'full',
  result: 'ok',
  duration_ms: 1000,
  changes: {},
  problems: 0,
  prefect_calls: { reads: 1, writes: 0 },
};
