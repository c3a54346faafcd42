import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { REPO } from '../../../scripts/prefect-server.ts';
import { findKubectl, NO_KUBECTL, renderOverlay } from '../../harness/kustomize.js';
import { Metrics } from '../../../src/ops/metrics.js';
import {
  ALERT_TESTS_FILE,
  ALERTS_FILE,
  alertRules,
  concretePromQL,
  concreteSql,
  dashboard,
  dashboardQueries,
  measureOf,
  shippedViews,
} from '../../harness/monitoring.js';

// What can be checked without Prometheus: the PrometheusRule is alerts.yaml,
// the PodMonitor finds the Deployment's pods, every rule has the shape the
// integration test relies on and a promtool case that fires it, and the
// dashboard and rules name only metrics the worker has and views that ship.
// test/integration/dashboard-prometheus.test.ts runs them for real.

const yamlOf = (path: string) =>
  parseAllDocuments(readFileSync(join(REPO, path), 'utf8')).map(
    (d) => d.toJS() as Record<string, any>,
  );

/** Every series name the worker's /metrics can show (histograms as their _bucket/_sum/_count). */
async function workerSeries(): Promise<Set<string>> {
  const metrics = await new Metrics().registry.getMetricsAsJSON();
  return new Set(
    metrics.flatMap((m) =>
      String(m.type) === 'histogram'
        ? ['_bucket', '_sum', '_count'].map((s) => m.name + s)
        : [m.name],
    ),
  );
}

/** Names in a PromQL expression that are series of the worker (connector_sync_*, process_*). */
function seriesNames(expr: string): string[] {
  return [...expr.matchAll(/\b(connector_sync_\w+|process_\w+)/g)].map((m) => m[1]!);
}

describe('config/kubernetes/components/monitoring', () => {
  it('the PrometheusRule holds exactly the groups of config/prometheus/alerts.yaml', () => {
    const [rule] = yamlOf('config/kubernetes/components/monitoring/prometheusrule.yaml');
    expect(rule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(rule!.spec).toEqual(parse(readFileSync(ALERTS_FILE, 'utf8')));
  });

  it("the PodMonitor selects the Deployment's pods, scrapes its http port and names the job connector-sync", (ctx) => {
    // As prod renders them (the overlay that adds the component).
    if (!findKubectl()) ctx.skip(NO_KUBECTL);
    const prod = renderOverlay('prod');
    const monitor = prod.find((d) => d.kind === 'PodMonitor');
    const deployment = prod.find((d) => d.kind === 'Deployment');
    const pod = deployment!.spec.template;
    expect(monitor!.kind).toBe('PodMonitor');
    expect(pod.metadata.labels).toMatchObject(monitor!.spec.selector.matchLabels);
    const ports = pod.spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.name));
    expect(monitor!.spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: 'http', path: '/metrics' }),
    ]);
    expect(ports).toContain('http');
    expect(pod.metadata.labels[monitor!.spec.jobLabel]).toBe('connector-sync');
  });
});

describe('config/prometheus/alerts.yaml', () => {
  const rules = alertRules();

  it('every rule: a unique name, a severity, a summary and a description, a measure to evaluate', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      const measure = measureOf(rule.expr);
      expect(measure, rule.alert).not.toBeNull();
      expect(measure, rule.alert).not.toBe(rule.expr);
    }
  });

  it('measureOf: the side compared with the threshold, or what absent() looks for', () => {
    expect(measureOf('absent(up{job="x"})')).toBe('up{job="x"}');
    expect(measureOf('max by (job) (a and on (job) b == 1) >= 3')).toBe(
      'max by (job) (a and on (job) b == 1)',
    );
    expect(measureOf('sum(rate(x[5m])) / sum(rate(y[5m])) > 0.05')).toBe(
      'sum(rate(x[5m])) / sum(rate(y[5m]))',
    );
    expect(measureOf('sum(rate(x[5m]))')).toBeNull();
  });

  it('every rule has a promtool case in which it fires', () => {
    const cases = parse(readFileSync(ALERT_TESTS_FILE, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(
      cases.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    expect([...fired].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('names only series the worker exposes', async () => {
    const known = await workerSeries();
    const unknown = rules.flatMap((r) => seriesNames(r.expr)).filter((n) => !known.has(n));
    expect(unknown).toEqual([]);
  });
});

describe('config/grafana/connector-sync.json', () => {
  const d = dashboard();
  const queries = dashboardQueries(d);

  it('unique panel ids; every panel on the Prometheus or the Postgres variable', () => {
    const panels = d.panels.filter((p) => p.type !== 'row');
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    for (const panel of panels) {
      expect(['${datasource}', '${postgres}'], panel.title).toContain(panel.datasource?.uid);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    const variables = d.templating.list.map((v) => v.name).sort();
    expect(variables).toEqual(['datasource', 'job', 'postgres', 'schema']);
  });

  it('PromQL names only series the worker exposes (or up), and no variable is left once substituted', async () => {
    const known = await workerSeries();
    const prom = queries.filter((q) => q.kind === 'prometheus');
    const unknown = prom.flatMap((q) => seriesNames(q.query)).filter((n) => !known.has(n));
    expect(unknown).toEqual([]);
    for (const q of prom) expect(concretePromQL(q.query, { job: 'j' }), q.panel).not.toContain('$');
  });

  it('SQL reads only the views the migration ships, through the schema variable', () => {
    const views = new Set(shippedViews());
    const sql = queries.filter((q) => q.kind === 'postgres');
    expect(sql.length).toBeGreaterThan(0);
    for (const q of sql) {
      const read = [...q.query.matchAll(/FROM\s+(\S+)/gi)].map((m) => m[1]!);
      expect(read.length, q.panel).toBeGreaterThan(0);
      for (const name of read) {
        expect(name, q.panel).toMatch(/^\$\{schema\}\./);
        expect(views, q.panel).toContain(name.replace('${schema}.', ''));
      }
      expect(concreteSql(q.query, { schema: 's' }), q.panel).not.toContain('$');
    }
  });
});
