import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import {
  CHANGE_EVENTS,
  createTestEnv,
  insertConnectors,
  untilIntentsSettleable,
  type CliResult,
  type TestEnv,
  descriptionOf,
} from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import {
  byPass,
  startProxy,
  type FaultProxy,
  type FaultRule,
  type LoggedRequest,
} from '../harness/proxy.js';

// Fault injection (docs/concepts/event-log.md and "Operating it"): the worker talks to the real Prefect through
// a proxy that adds latency, resets connections, hangs, answers bursts of 5xx
// or 429 with Retry-After, or takes Prefect away. After the faults stop, one
// more pass converges, and then:
//  - Prefect (read directly) holds exactly the deployments the rows ask for,
//    one per connector;
//  - every change has exactly one event, checked against the changes made to
//    the rows and against Prefect's own prefect.deployment.* events;
//  - the worker never crashed: exit code 0, 1 or 69, or still running.
// The totals of injected faults are printed at the end (for docs/reliability.md).

const SCHEMA = 'connector_sync';

/** Short timeouts and backoff so the file runs in a few minutes on a loaded machine. */
const FAST = {
  prefect: { timeoutMs: 2_000, retries: 2, retryMinDelayMs: 100, retryMaxDelayMs: 400 },
  reconcile: { concurrency: 4, backoff: { baseSeconds: 0.3, maxSeconds: 1 } },
};

const isWrite = (method: string, path: string): boolean =>
  method !== 'GET' && !/\/(filter|paginate|count)$/.test(path);

/** Every kind of fault, each call drawn at random (the seed is given where it is used). */
const MIXED: FaultRule[] = [
  { fault: { kind: 'reset', point: 'after-prefect' }, match: isWrite, probability: 0.08 },
  { fault: { kind: 'reset', point: 'before-prefect' }, probability: 0.06 },
  { fault: { kind: 'status', status: 503 }, probability: 0.06 },
  { fault: { kind: 'status', status: 502 }, probability: 0.04 },
  { fault: { kind: 'status', status: 500 }, probability: 0.04 },
  { fault: { kind: 'status', status: 504 }, probability: 0.04 },
  { fault: { kind: 'hang', point: 'after-prefect' }, match: isWrite, probability: 0.04 },
  { fault: { kind: 'hang', point: 'before-prefect' }, probability: 0.02 },
  { fault: { kind: 'rate-limit', retryAfterSeconds: 1, as: 'seconds' }, probability: 0.03 },
  { fault: { kind: 'rate-limit', retryAfterSeconds: 2, as: 'date' }, probability: 0.02 },
  { fault: { kind: 'latency', ms: 200 }, probability: 0.1 },
];

type Action = 'created' | 'updated' | 'paused' | 'resumed' | 'deleted';

interface World {
  env: TestEnv;
  proxy: FaultProxy;
  /** The lifecycle events the row changes call for: connector id → action. */
  expected: [string, Action][];
  /** The 13 connectors of the baseline, by index (c0 … c12). */
  ids: string[];
}

interface ScenarioReport {
  scenario: string;
  mode: 'one-shot' | 'daemon';
  injected: Record<string, number>;
  requests: number;
  /** Exit codes of the one-shot runs under faults (daemon: passes failed/aborted). */
  outcomes: (number | string)[];
  converged: boolean;
  events: number;
}

const reports: ScenarioReport[] = [];
let current: { env: TestEnv; proxy: FaultProxy; workers: WorkerProcess[] } | null = null;

afterEach(async () => {
  if (!current) return;
  for (const w of current.workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await w.exited;
  }
  await current.proxy.close();
  await current.env.cleanup();
  current = null;
});

afterAll(() => {
  const totals: Record<string, number> = {};
  for (const r of reports)
    for (const [label, n] of Object.entries(r.injected)) totals[label] = (totals[label] ?? 0) + n;
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  console.log(
    `FAULT-INJECTION SUMMARY ${JSON.stringify({ totals, all, scenarios: reports }, null, 1)}`,
  );
});

/**
 * 13 connectors synced directly (12 active, 1 inactive), then changed so that
 * every action appears: 3 updates (name and schedule), 2 pauses, 1 resume,
 * 2 deletes and 3 creates. The proxy starts with no fault.
 */
async function world(config: Record<string, unknown> = {}): Promise<World> {
  const env = await createTestEnv({ config: merge(FAST, config) });
  const proxy = await startProxy(env.apiUrl, []);
  current = { env, proxy, workers: [] };
  const ids = await insertConnectors(env, [
    ...Array.from({ length: 12 }, (_, i) => ({ name: `c${i}`, schedule: '0 1 * * *' })),
    { name: 'c12', schedule: '0 1 * * *', is_active: false },
  ]);
  // The world is set up with Prefect's usual patience: FAST's 2 s timeout is for
  // the faults under test, not for a machine busy with other test files.
  const baseline = await env.pass({}, env.withConfig({ prefect: { timeoutMs: 10_000 } }));
  expect(baseline.failures).toEqual([]);
  expect(baseline.applied).toHaveLength(13);

  const id = (i: number): string => ids[i]!;
  await env.sql(
    `UPDATE cai_connectors SET name = name || '-v2', schedule = '0 2 * * *' WHERE id = ANY($1)`,
    [[id(0), id(1), id(2)]],
  );
  await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = ANY($1)`, [[id(3), id(4)]]);
  await env.sql(`UPDATE cai_connectors SET is_active = true WHERE id = $1`, [id(12)]);
  await env.sql(`DELETE FROM cai_connectors WHERE id = ANY($1)`, [[id(5), id(6)]]);
  const added = await insertConnectors(env, [
    { name: 'n0', schedule: '0 3 * * *' },
    { name: 'n1', schedule: null },
    { name: 'n2', schedule: '30 4 * * 1', timezone: 'Europe/Berlin' },
  ]);
  const expected: [string, Action][] = [
    ...ids.slice(0, 13).map((c): [string, Action] => [c, 'created']), // the baseline
    [id(0), 'updated'],
    [id(1), 'updated'],
    [id(2), 'updated'],
    [id(3), 'paused'],
    [id(4), 'paused'],
    [id(12), 'resumed'],
    [id(5), 'deleted'],
    [id(6), 'deleted'],
    ...added.map((c): [string, Action] => [c, 'created']),
  ];
  return { env, proxy, expected, ids };
}

/** `run --once` through the proxy. */
async function runOnce(w: World): Promise<CliResult & { json: Record<string, any> | null }> {
  const result = await w.env.cli(['run', '--once', '--json'], {
    PREFECT_API_URL: w.proxy.url,
    LOG_LEVEL: 'warn',
  });
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(result.stdout) as Record<string, any>;
  } catch {
    /* a run that ended before a pass prints no JSON */
  }
  return { ...result, json };
}

async function daemon(w: World): Promise<WorkerProcess> {
  const worker = await startWorker(w.env, {
    PREFECT_API_URL: w.proxy.url,
    // No scheduled pass during the test: passes come from start, retries and NOTIFY.
    CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
  });
  current!.workers.push(worker);
  return worker;
}

/** Asks the daemon for full passes until one finishes with nothing left to do. */
async function daemonConverges(w: World, worker: WorkerProcess, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mark = worker.logs.length;
    await w.env.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
    const line = await worker.waitForLog(
      (l) => worker.logs.indexOf(l) >= mark && l.msg === 'pass finished' && l.kind === 'full',
      Math.max(1_000, deadline - Date.now()),
    );
    if (line.changes === 0 && line.problems === 0 && !line.waiting) return;
    if (Date.now() > deadline) throw new Error('the daemon did not converge');
    await new Promise((r) => setTimeout(r, 500)); // let per-connector backoff run out
  }
}

/** Prefect, the rows, our events and Prefect's own events all agree. */
async function expectConverged(w: World, scenario: Omit<ScenarioReport, 'converged' | 'events'>) {
  const { env } = w;
  expect(await env.sql(`SELECT * FROM ${SCHEMA}.intents`)).toEqual([]);

  // Prefect holds exactly what the rows ask for: one deployment per live row.
  const rows = await env.sql<{
    id: string;
    name: string;
    schedule: string | null;
    is_active: boolean;
  }>('SELECT id::text, name, schedule, is_active FROM cai_connectors ORDER BY id');
  const api = prefectApi(env.apiUrl);
  const deployments = await api.deploymentsByTag(env.tag);
  expect(deployments.map((d) => d.name).sort()).toEqual(
    rows.map((r) => `connector-${r.id}`).sort(),
  );
  const byName = new Map(deployments.map((d) => [d.name as string, d]));
  for (const row of rows) {
    const d = byName.get(`connector-${row.id}`)!;
    expect(d.paused, `paused of ${row.id}`).toBe(!row.is_active);
    expect(d.description, `description of ${row.id}`).toBe(descriptionOf(row.name, String(row.id)));
    expect(d.schedules.map((s: any) => s.schedule.cron)).toEqual(
      row.schedule ? [row.schedule] : [],
    );
    expect(d.tags).toContain(`connector-${row.id}`);
  }
  const states = await env.sql<{ connector_id: string; status: string }>(
    `SELECT connector_id, status FROM ${SCHEMA}.connector_state`,
  );
  for (const s of states) {
    const live = rows.some((r) => r.id === s.connector_id);
    expect(s.status, `state of ${s.connector_id}`).toBe(live ? 'synced' : 'deleted');
  }

  // Exactly one event per change: what the rows called for, nothing twice, nothing missing.
  const events = await env.sql<{ connector_id: string; action: Action; deployment_id: string }>(
    `SELECT connector_id, action, deployment_id::text FROM ${SCHEMA}.events
      WHERE ${CHANGE_EVENTS} ORDER BY id`,
  );
  const key = ([c, a]: [string, string]): string => `${c}:${a}`;
  expect(events.map((e) => key([e.connector_id, e.action])).sort()).toEqual(
    w.expected.map(key).sort(),
  );

  // Prefect's own events as the independent witness: per deployment, one
  // created, one deleted, and one updated for each update/pause/resume we logged
  // (every update here changes a field Prefect tracks; a repeated PATCH that
  // changes nothing emits no Prefect event).
  const ours = tallyBy(events, (e) => `${e.deployment_id}:${witnessAction(e.action)}`);
  const ids = [...new Set(events.map((e) => e.deployment_id))];
  const overlaps = overlappingPatches(w.proxy.log);
  const theirs = await eventually(
    async () =>
      tallyBy(await api.deploymentEvents(ids, new Date(Date.now() - 3_600_000)), (e) => {
        const id = String(e.resource['prefect.resource.id']).replace('prefect.deployment.', '');
        return `${id}:${String(e.event).replace('prefect.deployment.', '')}`;
      }),
    (t) => witnessAgrees(t, ours, overlaps),
    20_000,
  );
  expect(witnessDisagreements(theirs, ours, overlaps)).toEqual([]);

  reports.push({ ...scenario, converged: true, events: events.length });
}

function witnessAction(action: Action): string {
  return action === 'paused' || action === 'resumed' ? 'updated' : action;
}

function tallyBy<T>(items: T[], keyOf: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[keyOf(item)] = (out[keyOf(item)] ?? 0) + 1;
  return out;
}

/**
 * Prefect counts an update once per PATCH that found the deployment as it
 * was before: two PATCHes of one change that overlap inside Prefect (a retry
 * sent while the attempt that timed out was still being served, on a busy
 * machine) may both count. Per deployment: how many of our PATCHes reached
 * Prefect while an earlier one to it had not been answered yet.
 */
function overlappingPatches(log: LoggedRequest[]): Map<string, number> {
  const patches = log.filter((r) => r.method === 'PATCH' && r.forwarded && byPass(r));
  const overlaps = new Map<string, number>();
  patches.forEach((patch, i) => {
    const earlierInFlight = patches
      .slice(0, i)
      .some((e) => e.path === patch.path && (e.answeredAt === null || e.answeredAt > patch.at));
    const id = /^\/deployments\/([^/]+)$/.exec(patch.path)?.[1];
    if (earlierInFlight && id) overlaps.set(id, (overlaps.get(id) ?? 0) + 1);
  });
  return overlaps;
}

/**
 * Where Prefect's tally differs from ours: every key must agree, except that
 * a deployment's `updated` may count more than ours by at most its
 * overlapping PATCHes (and never fewer).
 */
function witnessDisagreements(
  theirs: Record<string, number>,
  ours: Record<string, number>,
  overlaps: Map<string, number>,
): string[] {
  const keys = new Set([...Object.keys(theirs), ...Object.keys(ours)]);
  return [...keys].flatMap((k) => {
    const [id, action] = k.split(':') as [string, string];
    const extra = action === 'updated' ? (overlaps.get(id) ?? 0) : 0;
    const [t, o] = [theirs[k] ?? 0, ours[k] ?? 0];
    return t >= o && t <= o + extra
      ? []
      : [`${k}: Prefect ${t}, ours ${o}, overlapping PATCHes ${extra}`];
  });
}

function witnessAgrees(
  theirs: Record<string, number>,
  ours: Record<string, number>,
  overlaps: Map<string, number>,
): boolean {
  return witnessDisagreements(theirs, ours, overlaps).length === 0;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const existing = out[k];
    out[k] = isObject(existing) && isObject(v) ? merge(existing, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One-shot scenario: runs under `rules` (each run's exit code is kept), then one clean run. */
async function oneShotScenario(
  name: string,
  rules: FaultRule[],
  options: { runs?: number; seed?: number; config?: Record<string, unknown> } = {},
): Promise<{
  w: World;
  codes: number[];
  final: Awaited<ReturnType<typeof runOnce>>;
  /** How many of the proxy's logged requests came from the runs under faults. */
  faulted: number;
}> {
  const w = await world(options.config);
  w.proxy.setFaults(rules, options.seed);
  const codes: number[] = [];
  for (let i = 0; i < (options.runs ?? 1); i++) {
    const run = await runOnce(w);
    codes.push(run.code);
    // 2: connectors left alone while an earlier run's unknown outcome may still land.
    expect([0, 1, 2, 69], run.stderr).toContain(run.code);
  }
  await w.proxy.clearFaults();
  const injected = { ...w.proxy.injected };
  const faulted = w.proxy.log.length;
  // An unknown outcome (timeout, 5xx) is settled only once its call can no longer land.
  await untilIntentsSettleable(w.env.db, w.env.config);
  const final = await runOnce(w);
  expect(final.code, final.stderr).toBe(0);
  await expectConverged(w, {
    scenario: name,
    mode: 'one-shot',
    injected,
    requests: w.proxy.log.length,
    outcomes: codes,
  });
  return { w, codes, final, faulted };
}

describe('faults on the way to Prefect, one-shot runs', () => {
  it('latency, including answers slower than the timeout after Prefect applied the change', async () => {
    const { w, codes } = await oneShotScenario('latency', [
      // Two writes answered after the 2 s timeout (Prefect applied them): at most
      // two of a call's three attempts, so every change gets through.
      { fault: { kind: 'latency', ms: 2_500, point: 'after-prefect' }, match: isWrite, times: 2 },
      { fault: { kind: 'latency', ms: 300 } },
    ]);
    expect(w.proxy.injected['latency-after-prefect']).toBe(2);
    expect(w.proxy.injected['latency-before-prefect']).toBeGreaterThan(10);
    expect(codes).toEqual([0]); // slow calls are retried within the pass
  });

  it('connection resets, before and after Prefect applied the call', async () => {
    const { w } = await oneShotScenario('reset', [
      { fault: { kind: 'reset', point: 'after-prefect' }, match: isWrite, times: 4 },
      {
        fault: { kind: 'reset', point: 'before-prefect' },
        match: (m, p) => !isWrite(m, p),
        times: 2,
      },
    ]);
    expect(w.proxy.injected['reset-after-prefect']).toBe(4);
    expect(w.proxy.injected['reset-before-prefect']).toBe(2);
  });

  it('hung responses: the call times out, is retried, and the hung one never lands twice', async () => {
    const { w } = await oneShotScenario('hang', [
      { fault: { kind: 'hang', point: 'after-prefect' }, match: isWrite, times: 2 },
      { fault: { kind: 'hang', point: 'before-prefect' }, match: isWrite, times: 2 },
    ]);
    expect(w.proxy.injected['hang-after-prefect']).toBe(2);
    expect(w.proxy.injected['hang-before-prefect']).toBe(2);
  });

  it('bursts of 500, 502, 503 and 504 are retried', async () => {
    // One burst of 2 per kind of call: no call meets more than its 2 retries can absorb.
    const { w, codes } = await oneShotScenario('5xx bursts', [
      { fault: { kind: 'status', status: 500 }, match: (m) => m === 'GET', times: 2 },
      {
        fault: { kind: 'status', status: 502 },
        match: (m, p) => m === 'POST' && p === '/deployments/',
        times: 2,
      },
      { fault: { kind: 'status', status: 503 }, match: (m) => m === 'PATCH', times: 2 },
      { fault: { kind: 'status', status: 504 }, match: (m) => m === 'DELETE', times: 2 },
    ]);
    for (const status of [500, 502, 503, 504]) expect(w.proxy.injected[`status-${status}`]).toBe(2);
    expect(codes).toEqual([0]);
  });

  it('a Prefect that keeps answering 503 ends the pass early: exit 69, then one clean pass converges', async () => {
    const { w, codes, final } = await oneShotScenario('503 until cleared (circuit)', [
      { fault: { kind: 'status', status: 503 }, match: isWrite },
    ]);
    expect(codes).toEqual([69]);
    // The circuit opened after 5 changes in a row failed (3 attempts each), not after all 11.
    const burst = w.proxy.injected['status-503']!;
    expect(burst).toBeGreaterThanOrEqual(15);
    expect(burst).toBeLessThan(11 * 3);
    expect(final.json!.settled.didNot).toBeGreaterThan(0); // the unknown outcomes were settled
  });

  it('Prefect gone (connections reset, then refused): exit 69, nothing written', async () => {
    const w = await world();
    const count = `SELECT count(*) FILTER (WHERE ${CHANGE_EVENTS})::int AS changes,
                          count(*) FILTER (WHERE action = 'pass-failed')::int AS failed_passes
                     FROM ${SCHEMA}.events`;
    const [before] = await w.env.sql(count);
    w.proxy.setFaults([{ fault: { kind: 'outage', mode: 'reset' } }]);
    const reset = await runOnce(w);
    w.proxy.setFaults([{ fault: { kind: 'outage', mode: 'refuse' } }]);
    const refused = await runOnce(w);
    expect(refused.stderr).toMatch(/ECONNREFUSED/);
    await w.proxy.clearFaults();
    expect([reset.code, refused.code]).toEqual([69, 69]);
    // No change is logged, and each run that failed says so once.
    expect(await w.env.sql(count)).toEqual([
      { changes: before!.changes, failed_passes: before!.failed_passes + 2 },
    ]);
    const injected = { ...w.proxy.injected };
    const final = await runOnce(w);
    expect(final.code, final.stderr).toBe(0);
    await expectConverged(w, {
      scenario: 'outage (one-shot)',
      mode: 'one-shot',
      injected,
      requests: w.proxy.log.length,
      outcomes: [reset.code, refused.code],
    });
  });

  it('429 with Retry-After in seconds: every request waits, not just the limited one', async () => {
    const { w } = await oneShotScenario('429 Retry-After seconds', [
      {
        fault: { kind: 'rate-limit', retryAfterSeconds: 2, as: 'seconds' },
        match: isWrite,
        times: 1,
      },
    ]);
    expectQuietAfter429(w.proxy, 2_000);
  });

  it('429 with Retry-After as an HTTP date: every request waits until then', async () => {
    const { w } = await oneShotScenario('429 Retry-After HTTP date', [
      {
        fault: { kind: 'rate-limit', retryAfterSeconds: 3, as: 'date' },
        match: isWrite,
        times: 1,
      },
    ]);
    // An HTTP date has whole seconds: 3 s ahead is at least 2 s away.
    expectQuietAfter429(w.proxy, 2_000);
  });

  it('the request rate never exceeds prefect.requestsPerSecond (counted at the proxy)', async () => {
    const rate = 8;
    const { w, faulted } = await oneShotScenario('rate limit', [], {
      config: { prefect: { requestsPerSecond: rate } },
    });
    // The limit is per process: count the first run's requests only.
    const times = w.proxy.log
      .slice(0, faulted)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    const busiest = maxInWindow(times, 1_000);
    console.log(`rate limit ${rate}/s: ${times.length} requests, busiest second ${busiest}`);
    expect(times.length).toBeGreaterThan(rate + 2); // enough requests for the limit to bind
    // Arrival times blur the 125 ms spacing a little: one or two over, never a burst.
    expect(busiest).toBeLessThanOrEqual(rate + 2);
    // And the limit did bind: n requests took about (n - 1) / rate seconds at least.
    const span = times[times.length - 1]! - times[0]!;
    expect(span).toBeGreaterThanOrEqual(((times.length - 1) * 1_000 * 0.8) / rate);
  });

  it('a mix of every fault, drawn at random with a fixed seed', async () => {
    const { w, codes } = await oneShotScenario('mixed random (seed 42)', MIXED, {
      runs: 2,
      seed: 42,
    });
    expect(Object.keys(w.proxy.injected).length).toBeGreaterThanOrEqual(4);
    expect(codes.every((c) => c === 0 || c === 1 || c === 69)).toBe(true);
  });
});

describe('faults under the long-running worker', () => {
  it('an outage: passes fail with a growing pause, the worker stays up and converges after', async () => {
    const w = await world();
    w.proxy.setFaults([{ fault: { kind: 'outage', mode: 'reset' } }]);
    const worker = await daemon(w);
    // Two failed passes: the pause after each is longer than the one before.
    await worker.waitForLog((l) => l.msg === 'pass failed' && l.retryInMs === 4_000, 30_000);
    const failed = worker.logs.filter((l) => l.msg === 'pass failed');
    expect(failed.map((l) => l.retryInMs)).toEqual([2_000, 4_000]);
    const second = failed[1]!;
    await w.proxy.clearFaults();
    await worker.waitForLog((l) => l.msg === 'pass finished', 30_000);
    // The pass after the second failure came no sooner than its pause allowed.
    const next = w.proxy.log.find(
      (r) => r.at > (second.time as number) && r.fault === null && byPass(r),
    )!;
    expect(next.at - (second.time as number)).toBeGreaterThanOrEqual(3_900);
    await daemonConverges(w, worker);
    expect(worker.child.exitCode).toBeNull();
    expect((await fetch(`${worker.baseUrl}/healthz`)).status).toBe(200);
    const injected = { ...w.proxy.injected };
    await expectConverged(w, {
      scenario: 'outage (daemon)',
      mode: 'daemon',
      injected,
      requests: w.proxy.log.length,
      outcomes: failed.map((l) => `pass failed, retry in ${String(l.retryInMs)} ms`),
    });
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('a burst of 503 on writes: the pass is cut short, the next comes later, then it converges', async () => {
    const w = await world();
    w.proxy.setFaults([{ fault: { kind: 'status', status: 503 }, match: isWrite, times: 40 }]);
    const worker = await daemon(w);
    const aborted = await worker.waitForLog((l) => l.msg === 'pass aborted', 30_000);
    expect(aborted.retryInMs).toBe(2_000);
    // No pass asks Prefect while the worker holds back after the aborted one
    // (the publisher, a client of its own, keeps its own backoff).
    const abortedAt = aborted.time as number;
    const nextRequest = await eventually(
      () => Promise.resolve(w.proxy.log.find((r) => r.at > abortedAt + 100 && byPass(r))),
      (r) => r !== undefined,
      20_000,
    );
    expect(nextRequest!.at - abortedAt).toBeGreaterThanOrEqual(1_900);
    await daemonConverges(w, worker);
    await w.proxy.clearFaults();
    expect(worker.child.exitCode).toBeNull();
    const passes = worker.logs.filter((l) => l.msg === 'pass finished').length;
    const injected = { ...w.proxy.injected };
    await expectConverged(w, {
      scenario: '503 burst on writes (daemon)',
      mode: 'daemon',
      injected,
      requests: w.proxy.log.length,
      outcomes: [
        ...worker.logs
          .filter((l) => l.msg === 'pass aborted')
          .map((l) => `pass aborted, retry in ${String(l.retryInMs)} ms`),
        `${passes} passes finished`,
      ],
    });
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});

describe('faults under the long-running worker, mixed', () => {
  it('a mix of every fault drawn at random (seed 7): the worker stays up and converges after', async () => {
    const w = await world();
    w.proxy.setFaults(MIXED, 7);
    const worker = await daemon(w);
    const ended = (l: Record<string, unknown>): boolean =>
      l.msg === 'pass finished' || l.msg === 'pass failed';
    // Two more rounds of row changes while the faults go on, so that every pass has writes:
    // each round renames one connector, deletes another and adds a new one.
    await worker.waitForLog(ended, 30_000); // the first pass, with the changes made by world()
    for (const [renamed, deleted] of [
      [7, 8],
      [9, 10],
    ] as const) {
      await w.env.sql(`UPDATE cai_connectors SET name = name || '-r' WHERE id = $1`, [
        w.ids[renamed],
      ]);
      await w.env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [w.ids[deleted]]);
      const [added] = await insertConnectors(w.env, [
        { name: `r${renamed}`, schedule: '0 6 * * *' },
      ]);
      w.expected.push(
        [w.ids[renamed]!, 'updated'],
        [w.ids[deleted]!, 'deleted'],
        [added!, 'created'],
      );
      // The next pass (asked for by NOTIFY; after a failed one, when its pause is over).
      const before = worker.logs.filter(ended).length;
      await eventually(
        async () => {
          await w.env.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
          return worker.logs.filter(ended).length;
        },
        (n) => n > before,
        30_000,
      );
    }
    await w.proxy.clearFaults();
    const underFaults = worker.logs.filter(ended);
    expect(underFaults.length).toBeGreaterThanOrEqual(3);
    const injected = { ...w.proxy.injected };
    await daemonConverges(w, worker);
    expect(worker.child.exitCode).toBeNull();
    await expectConverged(w, {
      scenario: 'mixed random (seed 7, daemon)',
      mode: 'daemon',
      injected,
      requests: w.proxy.log.length,
      outcomes: underFaults.map((l) =>
        l.msg === 'pass failed'
          ? 'pass failed'
          : `pass finished: ${String(l.changes)} changes, ${String(l.problems)} problems`,
      ),
    });
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});

/** After the first 429, nothing arrives until Retry-After has passed (after a grace for calls already in flight). */
function expectQuietAfter429(proxy: FaultProxy, pauseMs: number): void {
  const limited = proxy.log.find((r) => r.status === 429)!;
  expect(limited).toBeDefined();
  const grace = 500;
  const early = proxy.log.filter(
    (r) => r.at > limited.at + grace && r.at < limited.at + pauseMs - 100,
  );
  expect(early).toEqual([]);
  const retried = proxy.log.find(
    (r) => r.at > limited.at + grace && r.method === limited.method && r.path === limited.path,
  )!;
  expect(retried.at - limited.at).toBeGreaterThanOrEqual(pauseMs - 50);
  const next = proxy.log.find((r) => r.at > limited.at + grace)!;
  console.log(
    `429 Retry-After: next request ${next.at - limited.at} ms after the 429, the retry ${retried.at - limited.at} ms after`,
  );
}

function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
