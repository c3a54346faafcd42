import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, insertConnectors, type TestEnv, descriptionOf } from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';

describe('first pass, then a no-op pass (real Postgres + real Prefect)', () => {
  let env: TestEnv;
  let ids: string[];

  beforeAll(async () => {
    env = await createTestEnv();
    ids = await insertConnectors(env, [
      {
        name: 'Customer Data Pipeline',
        schedule: '0 */4 * * *',
        timezone: 'UTC',
        parameters: { source: 'crm', connector_id: 'ignored' },
      },
      {
        name: 'Lab Results',
        schedule: '30  2 * * *',
        timezone: 'Europe/Berlin',
        parameters: { batch: 500 },
      },
      { name: 'Legacy Export', schedule: '0 6 * * 1', is_active: false },
      { name: 'Ad-hoc Sync', schedule: null },
    ]);
  });
  afterAll(async () => env?.cleanup());

  it('creates every deployment as the row says, writes the id back and one created event each', async () => {
    const result = await env.cli(['run', '--once', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.summary).toMatchObject({
      create: 4,
      update: 0,
      delete: 0,
      invalid: 0,
      failed: 0,
    });
    // CSRF protection is off on this server: no write was refused, so no token was ever asked for.
    expect(output.prefect_calls.byRoute).not.toHaveProperty('GET /csrf-token');

    const api = prefectApi(env.apiUrl);
    const deployments = await api.deploymentsByTag(env.tag);
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    const byName = new Map(deployments.map((d) => [d.name, d]));

    const first = byName.get(`connector-${ids[0]}`)!;
    expect(await api.flowName(first.flow_id)).toBe(env.flowName);
    expect(first.description).toBe(descriptionOf('Customer Data Pipeline', ids[0]!));
    // The row's id wins over a connector_id in its parameters, and keeps the column's type (bigint → number).
    expect(first.parameters).toEqual({ source: 'crm', connector_id: Number(ids[0]) });
    expect(first.paused).toBe(false);
    expect(first.schedules).toHaveLength(1);
    expect(first.schedules[0]).toMatchObject({
      slug: 'connector-sync',
      active: true,
      schedule: { cron: '0 */4 * * *', timezone: 'UTC', day_or: true },
    });
    expect([...first.tags].sort()).toEqual([env.tag, `connector-${ids[0]}`].sort());
    expect(first.work_pool_name).toBe('default');
    expect(first.work_queue_name).toBe('default');
    expect(first.entrypoint).toBe('flows/dlt_pipeline_flow.py:run_connector_pipeline');

    const second = byName.get(`connector-${ids[1]}`)!;
    expect(second.schedules[0].schedule).toEqual({
      cron: '30 2 * * *',
      timezone: 'Europe/Berlin',
      day_or: true,
    });
    expect(byName.get(`connector-${ids[2]}`)!.paused).toBe(true); // first seen inactive → created paused
    expect(byName.get(`connector-${ids[3]}`)!.schedules).toEqual([]);

    const rows = await env.sql<{ id: string; prefect_deployment_id: string }>(
      'SELECT id::text, prefect_deployment_id::text FROM cai_connectors ORDER BY id',
    );
    for (const row of rows)
      expect(row.prefect_deployment_id).toBe(byName.get(`connector-${row.id}`)!.id);

    const events = await env.sql(`SELECT * FROM connector_sync.events ORDER BY id`);
    expect(events).toHaveLength(4);
    for (const event of events) {
      const deployment = byName.get(`connector-${event.connector_id}`)!;
      expect(event).toMatchObject({
        event: 'prefect.deployment.created',
        action: 'created',
        deployment_id: deployment.id,
      });
      expect(event.resource).toEqual({
        'prefect.resource.id': `prefect.deployment.${deployment.id}`,
        'prefect.resource.name': deployment.name,
      });
      expect(event.related).toContainEqual({
        'prefect.resource.id': `prefect.flow.${deployment.flow_id}`,
        'prefect.resource.role': 'flow',
        'prefect.resource.name': env.flowName,
      });
      expect(event.related).toContainEqual(
        expect.objectContaining({
          'prefect.resource.id': `connector-sync.connector.${event.connector_id}`,
          'prefect.resource.role': 'connector',
        }),
      );
      expect(event.related.map((r: Record<string, string>) => r['prefect.resource.role'])).toEqual(
        expect.arrayContaining(['work-pool', 'work-queue']),
      );
      expect(event.payload.id).toBe(deployment.id);
    }
    const states = await env.sql(`SELECT status FROM connector_sync.connector_state`);
    expect(states.map((s) => s.status)).toEqual(['synced', 'synced', 'synced', 'synced']);
  });

  it('a second pass makes zero write calls and zero events, and Prefect records no update', async () => {
    const since = new Date();
    const result = await env.cli(['run', '--once', '--json']);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.summary).toMatchObject({
      create: 0,
      update: 0,
      pause: 0,
      resume: 0,
      delete: 0,
      unchanged: 4,
    });
    expect(output.prefect_calls.writes).toBe(0);
    // ⌈N/200⌉ listing calls (4 managed deployments: one page), the flow lookup and the
    // run-health read of their runs (one call up to 200 runs); the work pools are read
    // only by a pass that writes. No CSRF token: this server has protection off, and a
    // token is only fetched once a write is refused for want of one.
    expect(output.prefect_calls.byRoute).toEqual({
      'GET /flows/name/{name}': 1,
      'POST /deployments/paginate': 1,
      'POST /flow_runs/filter': 1,
    });
    expect(output.prefect_calls.reads).toBe(3);
    expect(output.events).toBe(0);
    expect(await env.sql('SELECT * FROM connector_sync.events')).toHaveLength(4);

    // Prefect's own view: its event persister writes a moment later, so give it time to show anything.
    const api = prefectApi(env.apiUrl);
    const deployments = await api.deploymentsByTag(env.tag);
    await new Promise((r) => setTimeout(r, 1500));
    const updates = await api.deploymentEvents(
      deployments.map((d) => d.id),
      since,
      'prefect.deployment.updated',
    );
    expect(updates).toEqual([]);
    // ...and it does record the created events of the first pass, so the query can see events at all.
    const created = await eventually(
      () =>
        api.deploymentEvents(
          deployments.map((d) => d.id),
          new Date(0),
          'prefect.deployment.created',
        ),
      (e) => e.length === 4,
    );
    expect(created).toHaveLength(4);
  });
});
