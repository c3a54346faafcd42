import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import {
  alertRules,
  ALERTS_FILE,
  concretePromQL,
  concreteSql,
  dashboardQueries,
  measureOf,
} from '../harness/monitoring.js';
import { eventually, handMadeDeployment } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';
import {
  PROMETHEUS_BIN,
  prometheusSkipReason,
  startPrometheus,
  type PrometheusServer,
  type RuleState,
} from '../harness/prometheus-server.js';
import { startProxy, type FaultProxy, type FaultRule } from '../harness/proxy.js';

// The dashboard and the alert rules against a real Prometheus scraping a real
// worker: every PromQL expression of config/grafana/connector-sync.json and
// every rule of config/prometheus/alerts.yaml must parse and return data, and
// the rules go pending on what the worker shows (a failed, an invalid and a
// conflicting connector, Prefect's 429s) and stay quiet on what it does not.
// The dashboard's SQL panels run against the real schema.

const JOB = 'connector-sync';
const VALID = 5;

let skipReason: string | null = null;
let env: TestEnv | undefined;
let proxy: FaultProxy | undefined;
let worker: WorkerProcess | undefined;
let prometheus: PrometheusServer | undefined;

/** Creates through the proxy that fail: one rate-limited, `errors` answered 503. */
function failingCreates(errors: number): FaultRule[] {
  const create = (method: string, path: string) => method === 'POST' && path === '/deployments/';
  return [
    { fault: { kind: 'rate-limit', retryAfterSeconds: 1, as: 'seconds' }, match: create, times: 1 },
    { fault: { kind: 'status', status: 503 }, match: create, times: errors },
  ];
}

async function metricsText(): Promise<string> {
  return (await fetch(`${worker!.baseUrl}/metrics`)).text();
}

beforeAll(async () => {
  skipReason = prometheusSkipReason(PROMETHEUS_BIN);
  if (skipReason) {
    console.warn(`prometheus tests skipped: ${skipReason}`);
    return;
  }
  env = await createTestEnv({
    // No retries, and a failed connector waits an hour: the failures stay put.
    config: {
      prefect: { retries: 0 },
      reconcile: { backoff: { baseSeconds: 3600 } },
      events: { retentionDays: 30 },
    },
  });
  const ids = await insertConnectors(
    env,
    Array.from({ length: VALID }, (_, i) => ({ name: `prom-${i}`, schedule: `${i} 4 * * *` })),
  );
  await insertConnectors(env, [{ name: 'bad cron', schedule: 'every day at noon' }]);
  const [taken] = await insertConnectors(env, [{ name: 'taken', schedule: '0 5 * * *' }]);
  await handMadeDeployment(env.apiUrl, env.flowName, `connector-${taken}`);
  expect(ids).toHaveLength(VALID);

  proxy = await startProxy(env.apiUrl, []);
  proxy.setFaults(failingCreates(2));
  worker = await startWorker(env, {
    PREFECT_API_URL: proxy.url,
    CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
  });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
  // The status gauge is set just after the pass's log line.
  await eventually(
    async () => parsePrometheus(await metricsText()),
    (m) => m.value('connector_sync_connectors', { status: 'failed' }) === 3,
    30_000,
  );

  prometheus = await startPrometheus({
    job: JOB,
    target: `127.0.0.1:${worker.port}`,
    ruleFiles: [ALERTS_FILE],
  });
  await untilScraped(3);
  // A targeted pass while Prometheus watches: one more 429 and one more 503,
  // so the counters rise inside its window (rate() > 0).
  proxy.setFaults(failingCreates(1));
  const later = await insertConnectors(env, [
    { name: 'prom-late-1', schedule: '0 6 * * *' },
    { name: 'prom-late-2', schedule: '0 7 * * *' },
  ]);
  await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [later.join(',')]);
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'targeted', 60_000);
  const passes = worker.logs.filter((l) => l.msg === 'pass finished').length;
  await untilScraped(3, `count(connector_sync_passes_total{job="${JOB}", kind="targeted"})`);
  expect(passes).toBe(2);
}, 300_000);

afterAll(async () => {
  await prometheus?.stop();
  worker?.kill('SIGTERM');
  await worker?.exited;
  await proxy?.close();
  await env?.cleanup();
}, 120_000);

/** Waits until Prometheus holds `samples` scrapes (of `probe`, when given, having data). */
async function untilScraped(samples: number, probe?: string): Promise<void> {
  const query = probe
    ? `count_over_time((${probe})[1m:1s])`
    : `count_over_time(up{job="${JOB}"}[1m])`;
  const answer = await eventually(
    () => prometheus!.query(query),
    (a) => Number((a.data?.result[0]?.value as [number, string] | undefined)?.[1] ?? 0) >= samples,
    60_000,
  );
  expect(answer.data?.result, `${query}\n${prometheus!.output()}`).not.toEqual([]);
}

function skipUnlessPrometheus(ctx: TestContext): void {
  if (skipReason) ctx.skip(`prometheus tests skipped: ${skipReason}`);
}

/** The queries that failed or returned nothing, with why. */
async function emptyOrFailing(queries: { name: string; expr: string }[]): Promise<string[]> {
  const bad: string[] = [];
  for (const { name, expr } of queries) {
    const answer = await prometheus!.query(expr);
    if (answer.status !== 'success') bad.push(`${name}: ${expr}: ${answer.error}`);
    else if ((answer.data?.result ?? []).length === 0) bad.push(`${name}: ${expr}: no data`);
  }
  return bad;
}

describe('the dashboard against a real Prometheus scraping a real worker', () => {
  it('every PromQL expression of the dashboard parses and returns data', async (ctx) => {
    skipUnlessPrometheus(ctx);
    const queries = dashboardQueries().filter((q) => q.kind === 'prometheus');
    expect(queries.length).toBeGreaterThan(15);
    const concrete = queries.map((q) => ({
      name: `${q.panel} ${q.refId}`,
      expr: concretePromQL(q.query, { job: JOB }),
    }));
    for (const q of concrete) expect(q.expr, q.name).not.toContain('$');
    expect(await emptyOrFailing(concrete)).toEqual([]);
    // Not data by accident: the panels read what the worker says.
    const statuses = await prometheus!.query(
      concretePromQL(queries.find((q) => q.panel === 'Connectors by status')!.query, { job: JOB }),
    );
    const byStatus = Object.fromEntries(
      statuses.data!.result.map((r) => [r.metric.status, (r.value as [number, string])[1]]),
    );
    // The status gauge is set after every pass: the targeted one's two failed creates count.
    expect(byStatus).toEqual({ synced: '2', failed: '5', invalid: '1', conflict: '1' });
  });

  it('every SQL query of the dashboard runs against the real schema and returns rows', async (ctx) => {
    skipUnlessPrometheus(ctx);
    const queries = dashboardQueries().filter((q) => q.kind === 'postgres');
    expect(queries.length).toBeGreaterThanOrEqual(4);
    const db = new pg.Client({ connectionString: env!.databaseUrl });
    await db.connect();
    try {
      for (const q of queries) {
        const sql = concreteSql(q.query, { schema: env!.config.database.schema });
        expect(sql, q.panel).not.toContain('$');
        const { rows } = await db.query(sql);
        expect(rows.length, `${q.panel}: ${sql}`).toBeGreaterThan(0);
      }
    } finally {
      await db.end();
    }
  });
});

describe('the alert rules against a real Prometheus scraping a real worker', () => {
  it('every rule is evaluated without error, and what it compares returns data', async (ctx) => {
    skipUnlessPrometheus(ctx);
    const rules = alertRules();
    const evaluated = await eventually(
      () => prometheus!.rules(),
      (states) =>
        states.length === rules.length && states.every((s) => !s.lastEvaluation.startsWith('0001')),
      30_000,
    );
    expect(evaluated.map((s) => s.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const state of evaluated) {
      expect({ rule: state.name, health: state.health, lastError: state.lastError ?? '' }).toEqual({
        rule: state.name,
        health: 'ok',
        lastError: '',
      });
    }
    const measures = rules.map((r) => ({ name: r.alert, expr: measureOf(r.expr) ?? r.expr }));
    expect(await emptyOrFailing(measures)).toEqual([]);
  });

  it('the rules go pending on the failed, invalid and conflicting connectors and the 429s; the rest stay quiet', async (ctx) => {
    skipUnlessPrometheus(ctx);
    const pending = ['ConnectorSyncConnectorsFailed', 'ConnectorSyncConnectorsInvalid'];
    pending.push('ConnectorSyncConnectorsConflict', 'ConnectorSyncPrefectRateLimited');
    const quiet = ['ConnectorSyncDown', 'ConnectorSyncNoLeader', 'ConnectorSyncPassesFailing'];
    quiet.push('ConnectorSyncNoSuccessfulPass', 'ConnectorSyncDeletesHeld');
    quiet.push('ConnectorSyncPublishBacklog');
    const byName = (states: RuleState[]) => new Map(states.map((s) => [s.name, s]));
    const states = byName(
      await eventually(
        () => prometheus!.rules(),
        (s) => pending.every((name) => byName(s).get(name)?.state === 'pending'),
        30_000,
      ),
    );
    const stateOf = (names: string[]) =>
      Object.fromEntries(names.map((n) => [n, states.get(n)?.state]));
    expect(stateOf(pending)).toEqual(Object.fromEntries(pending.map((n) => [n, 'pending'])));
    expect(stateOf(quiet)).toEqual(Object.fromEntries(quiet.map((n) => [n, 'inactive'])));
    const valueOf = (name: string) => Number(states.get(name)!.alerts![0]!.value);
    expect(valueOf('ConnectorSyncConnectorsFailed')).toBe(5); // the targeted pass's two included
    expect(valueOf('ConnectorSyncConnectorsInvalid')).toBe(1);
    expect(valueOf('ConnectorSyncConnectorsConflict')).toBe(1);
    expect(states.get('ConnectorSyncConnectorsFailed')!.alerts![0]!.labels).toMatchObject({
      job: JOB,
      severity: 'warning',
    });
  });
});
