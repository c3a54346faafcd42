import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// docs/guides/moving-from-push.md, step by step, on deployments
// made the way the backend's PrefectService makes them: `connector-<id>-pipeline`,
// tagged `connector-<id>` and `scheduled`, parameters {connector_id}, one
// schedule without a slug, the id written back to the row. Observe first,
// then take them over with nameTemplate + ownership.adopt — in place, same
// ids, their runs kept — then the backend is switched off.

let env: TestEnv;
let ids: string[];
/** connector id → the deployment the backend made for it. */
const made = new Map<string, string>();
/** A run of the first connector's deployment, made before the move: it must stay its run. */
let runBefore: string;

/** The configuration of the move (docs/guides/moving-from-push.md), as a file of its own beside the test's. */
function configWith(file: string, move: { observe?: boolean; adopt?: boolean }): string {
  const base = parse(readFileSync(env.configFile, 'utf8')) as Record<string, any>;
  const merged = {
    ...base,
    deployment: {
      ...base.deployment,
      nameTemplate: 'connector-{id}-pipeline',
      tags: ['scheduled'],
    },
    ownership: { ...base.ownership, adopt: move.adopt === true },
    reconcile: { ...base.reconcile, mode: move.observe ? 'observe' : 'apply' },
  };
  const path = join(dirname(env.configFile), file);
  writeFileSync(path, stringify(merged));
  return path;
}

/** What PrefectService.createDeployment sends (seed 004), with Prefect 3's real field names. */
async function backendCreates(id: string, cron: string): Promise<string> {
  const api = prefectApi(env.apiUrl);
  const flow = await api.call<{ id: string }>('POST', '/flows/', { name: env.flowName });
  const created = await api.call<{ id: string }>('POST', '/deployments/', {
    name: `connector-${id}-pipeline`,
    flow_id: flow.data.id,
    entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline',
    work_pool_name: env.config.deployment.workPoolName ?? 'default',
    work_queue_name: 'default',
    parameters: { connector_id: Number(id) },
    schedules: [{ schedule: { cron, timezone: 'UTC' }, active: true }],
    tags: [`connector-${id}`, 'scheduled'],
  });
  expect(created.status).toBe(201);
  await env.sql(`UPDATE cai_connectors SET prefect_deployment_id = $1 WHERE id = $2`, [
    created.data.id,
    id,
  ]);
  return created.data.id;
}

async function deployment(id: string): Promise<Record<string, any>> {
  const read = await prefectApi(env.apiUrl).call<Record<string, any>>('GET', `/deployments/${id}`);
  expect(read.status).toBe(200);
  return read.data;
}

beforeAll(async () => {
  env = await createTestEnv();
  ids = await insertConnectors(env, [
    { name: 'ehr', schedule: '0 */4 * * *' },
    { name: 'labs', schedule: '30 2 * * *' },
    { name: 'billing', schedule: '15 6 * * 1' },
  ]);
  for (const [i, id] of ids.entries())
    made.set(id, await backendCreates(id, ['0 */4 * * *', '30 2 * * *', '15 6 * * 1'][i]!));
  const run = await prefectApi(env.apiUrl).call<{ id: string }>(
    'POST',
    `/deployments/${made.get(ids[0]!)}/create_flow_run`,
    {},
  );
  expect(run.status).toBe(201);
  runBefore = run.data.id;
});
afterAll(async () => {
  await env?.cleanup();
});

describe("moving over from the backend's push", () => {
  it('1. observe: without adopt every connector is a conflict; with it, updates in place — and nothing is written', async () => {
    const before = await Promise.all(ids.map((id) => deployment(made.get(id)!)));
    const strangers = configWith('observe.yaml', { observe: true });
    const plain = await env.cli(['run', '--once', '--json'], { CONNECTOR_SYNC_CONFIG: strangers });
    expect(plain.code).toBe(1);
    const conflicts = JSON.parse(plain.stdout).problems;
    expect(conflicts.map((p: any) => p.status)).toEqual(['conflict', 'conflict', 'conflict']);
    expect(conflicts[0].message).toContain('set ownership.adopt');

    const adopting = configWith('observe-adopt.yaml', { observe: true, adopt: true });
    const planned = await env.cli(['run', '--once', '--json'], {
      CONNECTOR_SYNC_CONFIG: adopting,
    });
    expect(planned.code).toBe(2);
    const json = JSON.parse(planned.stdout);
    expect(json.summary).toMatchObject({ create: 0, update: 3, delete: 0, conflict: 0 });
    expect(json.changes.map((c: any) => c.deployment_id).sort()).toEqual([...made.values()].sort());
    const after = await Promise.all(ids.map((id) => deployment(made.get(id)!)));
    expect(after.map((d) => d.updated)).toEqual(before.map((d) => d.updated));
    expect(await env.sql(`SELECT * FROM connector_sync.events`)).toEqual([]);
  });

  it('2. take over with nameTemplate + ownership.adopt: the same deployments, their runs kept', async () => {
    const taking = configWith('adopt.yaml', { adopt: true });
    const run = await env.cli(['run', '--once', '--json'], { CONNECTOR_SYNC_CONFIG: taking });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).summary).toMatchObject({ create: 0, update: 3, delete: 0 });
    for (const [i, id] of ids.entries()) {
      const d = await deployment(made.get(id)!);
      expect(d.name).toBe(`connector-${id}-pipeline`);
      expect([...d.tags].sort()).toEqual([`connector-${id}`, env.tag, 'scheduled'].sort());
      expect(d.parameters).toEqual({ connector_id: Number(id) });
      expect(d.schedules).toHaveLength(1);
      expect(d.schedules[0]).toMatchObject({
        slug: 'connector-sync',
        active: true,
        schedule: { cron: ['0 */4 * * *', '30 2 * * *', '15 6 * * 1'][i], timezone: 'UTC' },
      });
    }
    const [row] = await env.sql<{ prefect_deployment_id: string }>(
      `SELECT prefect_deployment_id FROM cai_connectors WHERE id = $1`,
      [ids[0]],
    );
    expect(row!.prefect_deployment_id).toBe(made.get(ids[0]!));
    const kept = await prefectApi(env.apiUrl).call<Record<string, any>>(
      'GET',
      `/flow_runs/${runBefore}`,
    );
    expect(kept.status).toBe(200);
    expect(kept.data.deployment_id).toBe(made.get(ids[0]!));
    const events = await env.sql<{ action: string; deployment_id: string }>(
      `SELECT action, deployment_id FROM connector_sync.events ORDER BY seq`,
    );
    expect(events.map((e) => e.action)).toEqual(['updated', 'updated', 'updated']);
    expect(events.map((e) => e.deployment_id).sort()).toEqual([...made.values()].sort());
    // Taken over: a second pass has nothing to do.
    const again = await env.cli(['run', '--once', '--json'], { CONNECTOR_SYNC_CONFIG: taking });
    expect(JSON.parse(again.stdout).summary).toMatchObject({ update: 0, unchanged: 3 });
  });

  it('3. with the backend switched off, connector-sync alone follows the rows (adopt off again)', async () => {
    const alone = configWith('after.yaml', {});
    await env.sql(`UPDATE cai_connectors SET schedule = '45 3 * * *' WHERE id = $1`, [ids[1]]);
    await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = $1`, [ids[2]]);
    const [added] = await insertConnectors(env, [{ name: 'pharmacy', schedule: '0 5 * * *' }]);
    const run = await env.cli(['run', '--once', '--json'], { CONNECTOR_SYNC_CONFIG: alone });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).summary).toMatchObject({
      create: 1,
      update: 1,
      pause: 1,
      delete: 0,
    });
    expect((await deployment(made.get(ids[1]!)!)).schedules[0].schedule.cron).toBe('45 3 * * *');
    expect((await deployment(made.get(ids[2]!)!)).paused).toBe(true);
    const [row] = await env.sql<{ prefect_deployment_id: string }>(
      `SELECT prefect_deployment_id FROM cai_connectors WHERE id = $1`,
      [added],
    );
    expect((await deployment(row!.prefect_deployment_id)).name).toBe(`connector-${added}-pipeline`);
  });
});
