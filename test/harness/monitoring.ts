import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from '../../scripts/prefect-server.ts';

// Reads what ships for monitoring — the alert rules, the Grafana dashboard, the
// dashboard views — and turns their queries into ones a real Prometheus or
// Postgres can run, the way Grafana and the rule evaluator would.

export const ALERTS_FILE = join(REPO, 'config/prometheus/alerts.yaml');
export const ALERT_TESTS_FILE = join(REPO, 'config/prometheus/alerts.test.yaml');
export const DASHBOARD_FILE = join(REPO, 'config/grafana/connector-sync.json');
export const VIEWS_FILE = join(REPO, 'sql/migrations/004_dashboard_views.sql');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as {
    groups: { name: string; rules: AlertRule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

/**
 * What an alert compares against its threshold: `absent(X)` → X, and
 * `<measure> <op> <number>` → the measure. Evaluated against a healthy worker,
 * the measure must return data even when the alert is (rightly) quiet. Null
 * when the expression has neither shape.
 */
export function measureOf(expr: string): string | null {
  const absent = /^absent\((.+)\)$/s.exec(expr.trim());
  if (absent) return absent[1]!;
  const compared = /^(.+?)\s*(?:==|!=|>=|<=|>|<)\s*-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/s.exec(
    expr.trim(),
  );
  return compared ? compared[1]! : null;
}

interface Target {
  refId: string;
  expr?: string;
  rawSql?: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
export interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  kind: 'prometheus' | 'postgres';
  query: string;
}

/** Every query of every panel (rows' nested panels too), by its data source's type. */
export function dashboardQueries(d: Dashboard = dashboard()): DashboardQuery[] {
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => {
      const type = t.datasource?.type ?? panel.datasource?.type ?? '';
      const kind = type === 'prometheus' ? ('prometheus' as const) : ('postgres' as const);
      return {
        panel: panel.title,
        refId: t.refId,
        kind,
        query: (kind === 'prometheus' ? t.expr : t.rawSql) ?? '',
      };
    }),
  );
}

/** A dashboard PromQL expression with Grafana's variables given concrete values. */
export function concretePromQL(expr: string, vars: { job: string }): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replaceAll('${job}', vars.job)
    .replaceAll('$job', vars.job);
}

/** A dashboard SQL query with Grafana's macros and variables given concrete values. */
export function concreteSql(sql: string, vars: { schema: string }): string {
  return sql
    .replace(/\$__timeFilter\((\w+)\)/g, "$1 BETWEEN now() - interval '6 hours' AND now()")
    .replaceAll('$__timeFrom()', "now() - interval '6 hours'")
    .replaceAll('$__timeTo()', 'now()')
    .replaceAll('${schema}', vars.schema)
    .replaceAll('$schema', vars.schema);
}

/** The views the dashboard migration creates, by name. */
export function shippedViews(): string[] {
  return [...readFileSync(VIEWS_FILE, 'utf8').matchAll(/CREATE VIEW (\w+)/g)].map((m) => m[1]!);
}
