import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, insertConnectors, type TestEnv, descriptionOf } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// Every kind of change a row can make, applied to a real Prefect server, with
// the events it must produce. Each test has its own database, tag and flow.

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => env?.cleanup());

async function events(action?: string): Promise<any[]> {
  return action
    ? env.sql(`SELECT * FROM connector_sync.events WHERE action = $1 ORDER BY id`, [action])
    : env.sql(`SELECT * FROM connector_sync.events ORDER BY id`);
}

async function deploymentOf(id: string): Promise<Record<string, any>> {
  const all = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  return all.find((d) => d.name === `connector-${id}`)!;
}

describe('row changes', () => {
  it('schedule, parameters and name changes are one PATCH and one updated event with from/to', async () => {
    const [id] = await insertConnectors(env, [
      { name: 'Orders', schedule: '0 */6 * * *', parameters: { a: 1 } },
    ]);
    await env.pass();
    const before = await deploymentOf(id!);
    await env.sql(
      `UPDATE cai_connectors SET schedule = '5 4 * * *', parameters = '{"a": 2}', name = 'Orders v2' WHERE id = $1`,
      [id],
    );

    const result = await env.pass();
    expect(result.plan.changes.map((c) => c.action)).toEqual(['update']);
    expect(result.calls.writes).toBe(1);
    expect(result.calls.byRoute['PATCH /deployments/{id}']).toBe(1);

    const after = await deploymentOf(id!);
    expect(after.id).toBe(before.id); // updated in place, not recreated
    expect(after.schedules[0].id).toBe(before.schedules[0].id); // schedule matched by slug
    expect(after.schedules[0].schedule.cron).toBe('5 4 * * *');
    expect(after.parameters).toEqual({ a: 2, connector_id: Number(id) });
    expect(after.description).toBe(descriptionOf('Orders v2', id!));

    const [updated, ...rest] = await events('updated');
    expect(rest).toEqual([]);
    expect(updated.event).toBe('prefect.deployment.updated');
    expect(updated.deployment_id).toBe(before.id);
    // The version moves with the row's revision (docs/concepts/connectors-and-deployments.md, "Versions").
    expect([...updated.payload.updated_fields].sort()).toEqual([
      'description',
      'parameters',
      'schedules',
      'version',
    ]);
    expect(updated.payload.updates.description).toEqual({
      from: descriptionOf('Orders', id!),
      to: descriptionOf('Orders v2', id!),
    });
    expect(updated.payload.updates.parameters).toEqual({
      from: { a: 1, connector_id: Number(id) },
      to: { a: 2, connector_id: Number(id) },
    });
    expect(updated.payload.updates.schedules.from[0]).toMatchObject({
      cron: '0 */6 * * *',
      timezone: 'UTC',
    });
    expect(updated.payload.updates.schedules.to[0]).toMatchObject({
      cron: '5 4 * * *',
      timezone: 'UTC',
    });

    const again = await env.pass();
    expect(again.calls.writes).toBe(0);
    expect(await events('updated')).toHaveLength(1);
  });

  it('removing the schedule deletes it; deactivate pauses; reactivate resumes', async () => {
    const [id] = await insertConnectors(env, [{ name: 'Feed', schedule: '*/15 * * * *' }]);
    await env.pass();

    await env.sql(`UPDATE cai_connectors SET schedule = '  ' WHERE id = $1`, [id]);
    await env.pass();
    expect((await deploymentOf(id!)).schedules).toEqual([]);

    await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = $1`, [id]);
    const paused = await env.pass();
    expect(paused.plan.changes.map((c) => c.action)).toEqual(['pause']);
    expect((await deploymentOf(id!)).paused).toBe(true);

    await env.sql(`UPDATE cai_connectors SET is_active = true WHERE id = $1`, [id]);
    const resumed = await env.pass();
    expect(resumed.plan.changes.map((c) => c.action)).toEqual(['resume']);
    expect((await deploymentOf(id!)).paused).toBe(false);

    const log = await events();
    expect(log.map((e) => e.action)).toEqual(['created', 'updated', 'paused', 'resumed']);
    expect(log[2].payload).toEqual({
      updated_fields: ['paused'],
      updates: { paused: { from: false, to: true } },
    });
    expect(log[3].payload.updates.paused).toEqual({ from: true, to: false });
    expect(log[2].event).toBe('prefect.deployment.updated');
  });

  it('onInactive: delete deletes the deployment of an inactive connector', async () => {
    const config = env.withConfig({ deployment: { onInactive: 'delete' } });
    const [id] = await insertConnectors(env, [{ name: 'Temp', schedule: '0 1 * * *' }]);
    await env.pass({}, config);
    const deployment = await deploymentOf(id!);
    await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = $1`, [id]);
    const result = await env.pass({}, config);
    expect(result.plan.changes).toMatchObject([{ action: 'delete', reason: 'inactive' }]);
    expect(await prefectApi(env.apiUrl).deployment(deployment.id)).toBeNull();
    const [deleted] = await events('deleted');
    expect(deleted.deployment_id).toBe(deployment.id);
    expect(deleted.payload.id).toBe(deployment.id);
    const [row] = await env.sql(`SELECT prefect_deployment_id FROM cai_connectors WHERE id = $1`, [
      id,
    ]);
    expect(row!.prefect_deployment_id).toBeNull();
    const [state] = await env.sql(
      `SELECT status FROM connector_sync.connector_state WHERE connector_id = $1`,
      [id],
    );
    expect(state!.status).toBe('deleted');
  });
});

describe('deletes and the mass-delete guard', () => {
  it('hard-deleted row, soft-deleted row and an orphan are deleted, one event each', async () => {
    const ids = await insertConnectors(env, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    await env.pass();
    const api = prefectApi(env.apiUrl);
    // An orphan: a managed deployment no row ever described.
    const flowId = (await deploymentOf(ids[0]!)).flow_id;
    const orphan = await api.call<Record<string, any>>('POST', '/deployments/', {
      name: 'stray-one',
      flow_id: flowId,
      tags: [env.tag],
    });
    expect(orphan.status).toBe(201);

    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [ids[0]]);
    await env.sql(`UPDATE cai_connectors SET deleted_at = now() WHERE id = $1`, [ids[1]]);
    const result = await env.pass();
    const deletes = result.plan.changes.filter((c) => c.action === 'delete');
    expect(deletes.map((c) => (c.action === 'delete' ? c.reason : '')).sort()).toEqual([
      'orphan',
      'row deleted',
      'soft-deleted',
    ]);
    const remaining = await api.deploymentsByTag(env.tag);
    expect(remaining.map((d) => d.name)).toEqual([`connector-${ids[2]}`]);
    expect(await events('deleted')).toHaveLength(3);
    const [soft] = await env.sql(`SELECT prefect_deployment_id FROM cai_connectors WHERE id = $1`, [
      ids[1],
    ]);
    expect(soft!.prefect_deployment_id).toBeNull();
  });

  it('a pass that would delete too many deletes nothing and exits 1; --allow-mass-delete lets it through', async () => {
    const ids = await insertConnectors(
      env,
      Array.from({ length: 12 }, (_, i) => ({ name: `c${i}` })),
    );
    await env.pass();
    await env.sql(`DELETE FROM cai_connectors WHERE id <> $1`, [ids[0]]);
    await env.sql(`UPDATE cai_connectors SET name = 'renamed' WHERE id = $1`, [ids[0]]);

    const held = await env.cli(['run', '--once', '--json']);
    expect(held.code).toBe(1);
    expect(JSON.parse(held.stdout).summary).toMatchObject({ delete: 0, update: 1 });
    expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toHaveLength(12);
    expect((await deploymentOf(ids[0]!)).description).toBe(descriptionOf('renamed', ids[0]!)); // other changes still applied

    const human = await env.cli(['plan']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /mass-delete guard: this pass would delete 11 deployments, more than the limit of 10/,
    );

    const allowed = await env.cli(['run', '--once', '--allow-mass-delete', '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).summary.delete).toBe(11);
    expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toHaveLength(1);
    expect(await events('deleted')).toHaveLength(11);
  });
});

describe('drift and ownership', () => {
  it('drift made in Prefect (schedule, paused, description) is reverted with an updated event', async () => {
    const [id] = await insertConnectors(env, [
      { name: 'Keep me', schedule: '0 2 * * *', timezone: 'Europe/Paris' },
    ]);
    await env.pass();
    const deployment = await deploymentOf(id!);
    const api = prefectApi(env.apiUrl);
    const drift = await api.call('PATCH', `/deployments/${deployment.id}`, {
      description: 'edited by hand',
      paused: true,
      schedules: [
        {
          schedule: { cron: '0 3 * * *', timezone: 'UTC', day_or: true },
          active: true,
          slug: 'connector-sync',
          parameters: {},
        },
      ],
    });
    expect(drift.status).toBe(204);
    // ...and a schedule someone added
    await api.call('POST', `/deployments/${deployment.id}/schedules`, [
      { schedule: { interval: 3600 }, active: true, slug: 'hourly' },
    ]);

    const result = await env.pass();
    expect(result.plan.changes.map((c) => c.action)).toEqual(['update']);
    const after = await deploymentOf(id!);
    expect(after.description).toBe(descriptionOf('Keep me', id!));
    expect(after.paused).toBe(false);
    expect(after.schedules).toHaveLength(1);
    expect(after.schedules[0].schedule).toEqual({
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
      day_or: true,
    });

    const [updated] = await events('updated');
    expect([...updated.payload.updated_fields].sort()).toEqual([
      'description',
      'paused',
      'schedules',
    ]);
    expect(updated.payload.updates.description).toEqual({
      from: 'edited by hand',
      to: descriptionOf('Keep me', id!),
    });
    expect(updated.payload.updates.paused).toEqual({ from: true, to: false });
    expect(updated.payload.updates.schedules.from).toHaveLength(2);
    expect((await env.pass()).calls.writes).toBe(0);
  });

  it('a same-named deployment without the managed tag is left untouched and the connector is a conflict', async () => {
    const [id] = await insertConnectors(env, [{ name: 'Taken', schedule: '0 1 * * *' }]);
    const api = prefectApi(env.apiUrl);
    const flow = await api.call<{ id: string }>('POST', '/flows/', { name: env.flowName });
    const theirs = await api.call<Record<string, any>>('POST', '/deployments/', {
      name: `connector-${id}`,
      flow_id: flow.data.id,
      description: 'somebody else',
      tags: ['hand-made'],
    });
    const cli = await env.cli(['run', '--once', '--json']);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout).problems).toEqual([
      {
        connector_id: id,
        status: 'conflict',
        message: expect.stringContaining('without the managed tag'),
      },
    ]);
    const untouched = await api.deployment(theirs.data.id);
    expect(untouched!.description).toBe('somebody else');
    expect(untouched!.tags).toEqual(['hand-made']);
    const [state] = await env.sql(
      `SELECT status FROM connector_sync.connector_state WHERE connector_id = $1`,
      [id],
    );
    expect(state!.status).toBe('conflict');
    const failed = await events('failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].payload).toMatchObject({ status: 'conflict', retryable: false });
    expect(failed[0].resource['prefect.resource.id']).toBe(`connector-sync.connector.${id}`);

    // The same problem on the next pass is not a new event.
    await env.pass();
    expect(await events('failed')).toHaveLength(1);

    // ownership.adopt takes it over.
    const adopted = await env.pass({}, env.withConfig({ ownership: { adopt: true } }));
    expect(adopted.plan.changes.map((c) => c.action)).toEqual(['update']);
    expect((await api.deployment(theirs.data.id))!.tags).toContain(env.tag);
  });
});

describe('bad rows and other sources', () => {
  it('invalid rows are reported precisely, never reach Prefect, and every other row still syncs (exit 1)', async () => {
    const [good, badCron, badZone] = await insertConnectors(env, [
      { name: 'Fine', schedule: '0 1 * * *' },
      { name: 'Bad cron', schedule: '0 0 */2 * * *' },
      { name: 'Bad zone', schedule: '0 1 * * *', timezone: 'Mars/Olympus' },
    ]);
    await env.sql(`ALTER TABLE cai_connectors ALTER COLUMN parameters TYPE jsonb`);
    const [badParams] = await env.sql<{ id: string }>(
      `INSERT INTO cai_connectors (name, parameters) VALUES ('Bad params', '[1, 2]') RETURNING id`,
    );
    const cli = await env.cli(['run', '--once', '--json']);
    expect(cli.code).toBe(1);
    const output = JSON.parse(cli.stdout);
    expect(output.summary).toMatchObject({ create: 1, invalid: 3 });
    const messages = Object.fromEntries(
      output.problems.map((p: any) => [p.connector_id, p.message]),
    );
    expect(messages[badCron!]).toMatch(/has 6 fields; use 5/);
    expect(messages[badZone!]).toBe(
      'unknown timezone "Mars/Olympus"; use an IANA name such as "Europe/Berlin" or "UTC"',
    );
    expect(messages[badParams!.id]).toMatch(/parameters must be a JSON object, got an array/);
    expect(output.prefect_calls.byRoute['POST /deployments/']).toBe(1);
    const names = (await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).map((d) => d.name);
    expect(names).toEqual([`connector-${good}`]);
    const states = await env.sql(
      `SELECT connector_id, status FROM connector_sync.connector_state ORDER BY connector_id`,
    );
    expect(states.filter((s) => s.status === 'invalid')).toHaveLength(3);

    // A row that turns invalid keeps its deployment untouched.
    await env.sql(`UPDATE cai_connectors SET schedule = 'not a cron' WHERE id = $1`, [good]);
    const again = await env.pass();
    expect(again.plan.changes).toEqual([]);
    expect((await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).map((d) => d.name)).toEqual([
      `connector-${good}`,
    ]);
  });

  it('a view with text ids works: connector_id is a string and write-back goes to the table', async () => {
    await env.sql(
      `CREATE TABLE app_connectors (key text PRIMARY KEY, title text, cron text, tz text, enabled boolean, params jsonb, prefect_deployment_id uuid)`,
    );
    await env.sql(
      `INSERT INTO app_connectors VALUES ('acme-01', 'Acme', '0 5 * * *', 'Asia/Calcutta', true, '{"x": 1}', NULL), ('acme-02', 'Acme 2', NULL, NULL, false, NULL, NULL)`,
    );
    await env.sql(
      `CREATE VIEW connectors_v AS SELECT key AS id, title AS name, cron AS schedule, tz AS timezone, enabled AS is_active, params AS parameters, prefect_deployment_id FROM app_connectors`,
    );
    const config = env.withConfig({ source: { table: 'connectors_v' } });
    const result = await env.pass({}, config);
    expect(result.plan.problems).toEqual([]);
    expect(result.applied).toHaveLength(2);
    const api = prefectApi(env.apiUrl);
    const deployments = await api.deploymentsByTag(env.tag);
    const acme = deployments.find((d) => d.name === 'connector-acme-01')!;
    expect(acme.parameters).toEqual({ x: 1, connector_id: 'acme-01' });
    expect(acme.schedules[0].schedule.timezone).toBe('Asia/Calcutta');
    expect(deployments.find((d) => d.name === 'connector-acme-02')!.paused).toBe(true);
    const rows = await env.sql(
      `SELECT key, prefect_deployment_id FROM app_connectors ORDER BY key`,
    );
    expect(rows[0]!.prefect_deployment_id).toBe(acme.id);
    expect((await env.pass({}, config)).calls.writes).toBe(0);
  });
});
