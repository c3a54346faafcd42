import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';
import { startProxy, type FaultProxy } from '../harness/proxy.js';

// Observe mode plans and reports every pass but never writes to Prefect: every
// call that goes through the proxy is a read (a GET, or a POST of a listing:
// .../filter, .../paginate).

let env: TestEnv;
let proxy: FaultProxy;
let worker: WorkerProcess | undefined;
let ids: string[];

beforeAll(async () => {
  env = await createTestEnv();
  proxy = await startProxy(env.apiUrl, []);
  ids = await insertConnectors(env, [
    { name: 'a', schedule: '0 1 * * *' },
    { name: 'b', schedule: '0 2 * * *' },
    { name: 'c', schedule: '0 3 * * *' },
  ]);
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await proxy?.close();
  await env?.cleanup();
});

function writes(): string[] {
  return proxy.log
    .filter(
      (r) => !(r.method === 'GET' || (r.method === 'POST' && /\/(filter|paginate)$/.test(r.path))),
    )
    .map((r) => `${r.method} ${r.path}`);
}

async function nothingWritten(): Promise<void> {
  expect(writes()).toEqual([]);
  expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toEqual([]);
  for (const table of ['events', 'connector_state', 'passes', 'intents'])
    expect(await env.sql(`SELECT 1 FROM connector_sync.${table}`)).toEqual([]);
}

describe('observe mode', () => {
  it('run --once --observe --json shows the changes and writes nothing', async () => {
    const run = await env.cli(['run', '--once', '--observe', '--json'], {
      PREFECT_API_URL: proxy.url,
    });
    expect(run.code).toBe(2); // changes pending, as a plan
    const json = JSON.parse(run.stdout);
    expect(json.summary).toMatchObject({ create: 3, update: 0, delete: 0 });
    expect(json.changes.map((c: any) => c.connector_id).sort()).toEqual([...ids].sort());
    expect(proxy.log.length).toBeGreaterThan(0);
    await nothingWritten();
  });

  it('the worker with --observe plans every pass, logs its plan, serves /metrics and /api, writes nothing', async () => {
    worker = await startWorker(env, { PREFECT_API_URL: proxy.url }, ['--observe']);
    await worker.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('observe mode'));
    const pass = await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full');
    expect(pass).toMatchObject({ dryRun: true, changes: 3, applied: 0, planned: { create: 3 } });
    // A wake-up runs a targeted pass, observed all the same.
    await env.sql(`UPDATE cai_connectors SET schedule = '9 9 * * *' WHERE id = $1`, [ids[0]]);
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [ids[0]]);
    const targeted = await worker.waitForLog(
      (l) => l.msg === 'pass finished' && l.kind === 'targeted',
    );
    expect(targeted).toMatchObject({ dryRun: true, planned: { create: 1 } });
    const metrics = parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text());
    const passes = metrics.find('connector_sync_passes_total').reduce((n, s) => n + s.value, 0);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(metrics.find('connector_sync_changes_total').every((s) => s.value === 0)).toBe(true);
    const api = await fetch(`${worker.baseUrl}/api/connectors`);
    expect(api.status).toBe(200);
    await nothingWritten();
  });
});
