import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureWorkPool } from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import {
  copyFlowSource,
  deleteDeploymentByName,
  FIXTURES_DIR,
  readDeploymentByName,
  readFlowRun,
  readRunMarker,
  registerTemplate,
  runDeployment,
  TYPED_FLOW_ENTRYPOINT,
  waitForFlowRun,
  type Json,
} from '../harness/template.js';
import { startPrefectWorker, type PrefectWorker } from '../harness/worker.js';

// Deployments as first-class as `prefect deploy` makes them: a template
// registered with Prefect's own SDK from the typed test flow gives every
// connector its code location, its parameter schema (live: Prefect's CLI
// takes a typed override and refuses a wrong one) and its release; a new
// release rolls out to every connector, one PATCH and one event each; rows
// the schema refuses are invalid and never sent. The cases build on each
// other, in order, on one template.

const FLOW_RUN_TIMEOUT_MS = 150_000;
const setWorkingDirectory = (directory: string) => [
  { 'prefect.deployments.steps.set_working_directory': { directory } },
];

describe('a template deployment and its releases', () => {
  const apiUrl = inject('prefectApiUrl');
  const venv = inject('prefectVenv');
  const pool = `cs-test-release-pool-${randomBytes(4).toString('hex')}`;
  const markers = mkdtempSync(join(tmpdir(), 'cs-markers-'));
  const release2Dir = copyFlowSource();
  const workerCwd = mkdtempSync(join(tmpdir(), 'cs-worker-cwd-'));
  let env: TestEnv;
  let template: Json;
  let ids: string[] = [];
  let worker: PrefectWorker | undefined;

  const deployments = async (): Promise<Json[]> =>
    (await prefectApi(apiUrl).deploymentsByTag(env.tag)).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
  const events = (action: string) =>
    env.sql<Json>(`SELECT * FROM connector_sync.events WHERE action = $1 ORDER BY seq`, [action]);

  beforeAll(async () => {
    await ensureWorkPool(apiUrl, pool);
    // Everything code-related comes from the template: the test env's own entrypoint goes.
    env = await createTestEnv({ config: { deployment: { entrypoint: null } } });
    // The template belongs to the test's own flow (its name is known only now).
    const file = parse(readFileSync(env.configFile, 'utf8')) as Json;
    file.deployment.template = `${env.flowName}/template`;
    delete file.deployment.flowName;
    writeFileSync(env.configFile, stringify(file));
    template = await registerTemplate({
      apiUrl,
      venv,
      flowName: env.flowName,
      deploymentName: 'template',
      workPool: pool,
      version: '1.0.0',
      jobVariables: { env: { CONNECTOR_SYNC_TEST_MARKERS: markers, RELEASE: '1' } },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    if (env) {
      const api = prefectApi(apiUrl);
      for (const d of await api.deploymentsByTag(env.tag))
        await api.call('DELETE', `/deployments/${d.id}`);
      await deleteDeploymentByName(apiUrl, env.flowName, 'template');
    }
    await fetch(`${apiUrl}/work_pools/${pool}`, { method: 'DELETE' }).catch(() => undefined);
    await env?.cleanup();
    for (const dir of [markers, release2Dir, workerCwd])
      rmSync(dir, { recursive: true, force: true });
  });

  const config = () => ({ CONNECTOR_SYNC_CONFIG: env.configFile });
  const withTemplate = () => env.withConfig({});

  it('a missing template is one configuration problem, exit 64', async () => {
    const missing = env.withConfig({ deployment: { template: `${env.flowName}/nope` } });
    await expect(env.pass({}, missing)).rejects.toThrow(
      `template deployment "${env.flowName}/nope" does not exist in Prefect (deployment.template)`,
    );
  });

  it("connectors take the template's code location, schema and release; the schema is live in Prefect", async () => {
    ids = await insertConnectors(env, [
      { name: 'Orders', schedule: '0 1 * * *', parameters: { source: 'shop', batch_size: 250 } },
      { name: 'Invoices', schedule: '0 2 * * *', parameters: {} },
    ]);
    const result = await env.pass({}, withTemplate());
    expect(result.plan.problems).toEqual([]);
    expect(result.applied.map((a) => a.change.action)).toEqual(['create', 'create']);
    const [orders, invoices] = await deployments();
    for (const d of [orders!, invoices!]) {
      expect(d).toMatchObject({
        entrypoint: TYPED_FLOW_ENTRYPOINT,
        path: null,
        pull_steps: setWorkingDirectory(FIXTURES_DIR),
        work_pool_name: pool,
        enforce_parameter_schema: true,
        parameter_openapi_schema: template.parameter_openapi_schema,
      });
      expect(d.version).toMatch(/^1\.0\.0\+[0-9a-f]{8}$/);
      expect(d.job_variables).toEqual({
        env: { CONNECTOR_SYNC_TEST_MARKERS: markers, RELEASE: '1' },
      });
      expect(d.description).toMatch(
        /\n\nManaged by connector-sync from row \d+ of cai_connectors: edits made in Prefect are reverted\.$/,
      );
    }
    expect(orders!.version).not.toBe(invoices!.version); // each row's own revision

    // Prefect itself judges: a typed override is taken, a wrong one refused.
    const run = await runDeployment({
      venv,
      apiUrl,
      flowName: env.flowName,
      deploymentName: `connector-${ids[0]}`,
      params: { batch_size: '100' },
    });
    expect(run.code, run.stdout).toBe(0);
    const flowRun = await readFlowRun(apiUrl, run.flowRunId!);
    expect(flowRun.parameters).toMatchObject({ batch_size: 100, connector_id: Number(ids[0]) });
    expect(flowRun.deployment_version).toBe(orders!.version);
    await fetch(`${apiUrl}/flow_runs/${run.flowRunId}`, { method: 'DELETE' });
    const refused = await runDeployment({
      venv,
      apiUrl,
      flowName: env.flowName,
      deploymentName: `connector-${ids[0]}`,
      params: { batch_size: 'lots' },
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("Validation failed for field 'batch_size'");

    // Converged: nothing more, and the template untouched.
    const again = await env.pass({}, withTemplate());
    expect(again.calls.writes).toBe(0);
    expect(again.calls.byRoute).toEqual({
      'POST /deployments/paginate': 1,
      'GET /deployments/name/{name}/{name}': 1,
      'POST /flow_runs/filter': 1, // run health
    });
    const read = await readDeploymentByName(apiUrl, env.flowName, 'template');
    expect(read.data).toMatchObject({ version: '1.0.0', paused: true, schedules: [], tags: [] });
  }, 90_000);

  it('rows the flow would refuse are invalid with a precise message, and nothing is sent for them', async () => {
    const [wrongType, unknownKey] = await insertConnectors(env, [
      { name: 'Wrong type', parameters: { batch_size: 'lots' } },
      { name: 'Unknown key', parameters: { bogus: true } },
    ]);
    const cli = await env.cli(['run', '--once', '--json'], config());
    expect(cli.code).toBe(1);
    const out = JSON.parse(cli.stdout);
    expect(Object.fromEntries(out.problems.map((p: Json) => [p.connector_id, p.message]))).toEqual({
      [wrongType!]: 'parameter batch_size must be integer, got "lots"',
      [unknownKey!]:
        'parameter bogus is not a parameter of the flow; it takes batch_size, connector_id, full_refresh, source',
    });
    expect(out.prefect_calls.writes).toBe(0);
    expect((await deployments()).map((d) => d.name)).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    await env.sql('DELETE FROM cai_connectors WHERE id = ANY($1::bigint[])', [
      [wrongType, unknownKey],
    ]);
  });

  it('a release rolls out: plan shows it, one pass PATCHes every connector once with one event each, then nothing', async () => {
    template = await registerTemplate({
      apiUrl,
      venv,
      flowName: env.flowName,
      deploymentName: 'template',
      workPool: pool,
      version: '2.0.0',
      pullStepsDir: release2Dir,
      jobVariables: { env: { CONNECTOR_SYNC_TEST_MARKERS: markers, RELEASE: '2' } },
    });
    const plan = await env.cli(['plan', '--json'], config());
    expect(plan.code).toBe(2);
    const planned = JSON.parse(plan.stdout);
    expect(planned.summary).toMatchObject({ update: 2, create: 0 });
    for (const change of planned.changes)
      expect(Object.keys(change.fields).sort()).toEqual(['job_variables', 'pull_steps', 'version']);

    const before = await events('updated');
    const rollout = await env.pass({}, withTemplate());
    expect(rollout.calls.byRoute['PATCH /deployments/{id}']).toBe(2);
    expect(rollout.calls.writes).toBe(2);
    const updated = (await events('updated')).slice(before.length);
    expect(updated.map((e) => e.connector_id).sort()).toEqual([...ids].sort());
    for (const e of updated) {
      expect(e.payload.updates.version.from).toMatch(/^1\.0\.0\+/);
      expect(e.payload.updates.version.to).toMatch(/^2\.0\.0\+/);
      expect(e.payload.updates.pull_steps).toEqual({
        from: setWorkingDirectory(FIXTURES_DIR),
        to: setWorkingDirectory(release2Dir),
      });
    }
    for (const d of await deployments()) {
      expect(d.pull_steps).toEqual(setWorkingDirectory(release2Dir));
      expect(d.version).toMatch(/^2\.0\.0\+[0-9a-f]{8}$/);
    }
    expect((await env.pass({}, withTemplate())).calls.writes).toBe(0);
  }, 60_000);

  it(
    'a real process worker completes a run of a connector deployment whose code came from the template',
    async () => {
      worker = startPrefectWorker({ venv, apiUrl, pool, cwd: workerCwd });
      const run = await runDeployment({
        venv,
        apiUrl,
        flowName: env.flowName,
        deploymentName: `connector-${ids[0]}`,
        params: { full_refresh: 'true' },
      });
      expect(run.code, run.stdout).toBe(0);
      const done = await waitForFlowRun(apiUrl, run.flowRunId!, FLOW_RUN_TIMEOUT_MS - 10_000);
      expect(done.state_type, `${JSON.stringify(done.state)}\n${worker.log()}`).toBe('COMPLETED');
      const marker = readRunMarker(markers, run.flowRunId!);
      expect(marker?.parameters).toEqual({
        connector_id: Number(ids[0]),
        source: 'shop',
        batch_size: 250,
        full_refresh: true,
      });
      expect(marker?.deployment_version).toMatch(/^2\.0\.0\+/);
    },
    FLOW_RUN_TIMEOUT_MS,
  );
});

describe("concurrency, and settings of the connector's own", () => {
  let env: TestEnv;
  const other = `cs-test-big-pool-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    await ensureWorkPool(inject('prefectApiUrl'), other);
    env = await createTestEnv({
      config: { deployment: { jobVariables: { image: 'flows:1', memory: '1Gi' } } },
    });
  });
  afterAll(async () => {
    await fetch(`${inject('prefectApiUrl')}/work_pools/${other}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
    await env?.cleanup();
  });

  it('a concurrency limit with its collision strategy, diffed like every field; removed, it goes', async () => {
    const [id] = await insertConnectors(env, [
      { name: 'Every five minutes', schedule: '*/5 * * * *' },
    ]);
    const limited = env.withConfig({
      deployment: { concurrencyLimit: 1, collisionStrategy: 'CANCEL_NEW' },
    });
    await env.pass({}, limited);
    const api = prefectApi(env.apiUrl);
    let [d] = await api.deploymentsByTag(env.tag);
    expect(d!.global_concurrency_limit?.limit).toBe(1);
    expect(d!.concurrency_options?.collision_strategy).toBe('CANCEL_NEW');
    expect((await env.pass({}, limited)).calls.writes).toBe(0);

    const two = env.withConfig({
      deployment: { concurrencyLimit: 2, collisionStrategy: 'CANCEL_NEW' },
    });
    const raised = await env.pass({}, two);
    expect(
      raised.applied.map((a) =>
        Object.keys(a.change.action === 'update' ? a.change.fields : {}).sort(),
      ),
    ).toEqual([['concurrency_limit', 'version']]);
    [d] = await api.deploymentsByTag(env.tag);
    expect(d!.global_concurrency_limit?.limit).toBe(2);

    const none = await env.pass();
    expect(none.applied).toHaveLength(1);
    [d] = await api.deploymentsByTag(env.tag);
    expect(d!.global_concurrency_limit).toBeNull();
    expect(d!.concurrency_options).toBeNull();
    expect((await env.pass()).calls.writes).toBe(0);
    await env.sql('DELETE FROM cai_connectors WHERE id = $1', [id]);
    await env.pass();
  });

  it('work_pool_name, work_queue_name, job_variables, tags and concurrency_limit columns win over the configuration', async () => {
    await env.sql(`ALTER TABLE cai_connectors
      ADD COLUMN work_pool_name text, ADD COLUMN work_queue_name text, ADD COLUMN job_variables jsonb,
      ADD COLUMN tags text[], ADD COLUMN concurrency_limit integer`);
    const [big, plain, badPool, badTag] = await insertConnectors(env, [
      { name: 'Big', schedule: '0 1 * * *' },
      { name: 'Plain', schedule: '0 2 * * *' },
      { name: 'No such pool', schedule: '0 3 * * *' },
      { name: 'Reserved tag', schedule: '0 4 * * *' },
    ]);
    await env.sql(
      `UPDATE cai_connectors SET work_pool_name = $2, work_queue_name = 'nightly', job_variables = '{"memory": "8Gi"}',
         tags = ARRAY['team:finance'], concurrency_limit = 3 WHERE id = $1`,
      [big, other],
    );
    await env.sql(`UPDATE cai_connectors SET work_pool_name = 'cs-no-such-pool' WHERE id = $1`, [
      badPool,
    ]);
    await env.sql(`UPDATE cai_connectors SET tags = ARRAY['connector-999'] WHERE id = $1`, [
      badTag,
    ]);

    const cli = await env.cli(['run', '--once', '--json']);
    expect(cli.code).toBe(1);
    const out = JSON.parse(cli.stdout);
    expect(Object.fromEntries(out.problems.map((p: Json) => [p.connector_id, p.message]))).toEqual({
      [badPool!]:
        'work pool "cs-no-such-pool" (the row\'s work_pool_name) does not exist in Prefect; create it or fix the row',
      [badTag!]:
        'tag "connector-999" is connector-sync\'s own (connector-*, cs-installation:* and the managed tag tell deployments apart); rename it',
    });
    const byName = Object.fromEntries(
      (await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).map((d) => [d.name, d]),
    );
    expect(Object.keys(byName).sort()).toEqual([`connector-${big}`, `connector-${plain}`].sort());
    expect(byName[`connector-${big}`]).toMatchObject({
      work_pool_name: other,
      work_queue_name: 'nightly',
      job_variables: { image: 'flows:1', memory: '8Gi' },
      global_concurrency_limit: expect.objectContaining({ limit: 3 }),
    });
    expect(byName[`connector-${big}`]!.tags).toContain('team:finance');
    expect(byName[`connector-${plain}`]).toMatchObject({
      work_pool_name: 'default',
      job_variables: { image: 'flows:1', memory: '1Gi' },
    });
    const again = await env.cli(['run', '--once', '--json']);
    expect(JSON.parse(again.stdout).prefect_calls.writes).toBe(0);
  });
});

describe('a parameter schema from the configuration', () => {
  let env: TestEnv;
  const dir = mkdtempSync(join(tmpdir(), 'cs-schema-'));
  const schema = {
    type: 'object',
    properties: {
      connector_id: { type: 'integer', position: 0 },
      tenant: { type: 'string', position: 1 },
      batch_size: { type: 'integer', default: 100, position: 2 },
    },
    required: ['connector_id', 'tenant'],
  };
  beforeAll(async () => {
    writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
    writeFileSync(
      join(dir, 'no-id.json'),
      JSON.stringify({ ...schema, properties: { tenant: { type: 'string' } }, required: [] }),
    );
    env = await createTestEnv({
      config: { deployment: { parameterSchemaFile: join(dir, 'schema.json') } },
    });
  });
  afterAll(async () => {
    await env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a row missing a required parameter is invalid; the others are created with the schema enforced', async () => {
    const [missing, fine] = await insertConnectors(env, [
      { name: 'No tenant', parameters: { batch_size: 5 } },
      { name: 'Tenant', parameters: { tenant: 'acme' } },
    ]);
    const cli = await env.cli(['run', '--once', '--json']);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout).problems).toEqual([
      {
        connector_id: missing,
        status: 'invalid',
        message:
          "parameter tenant is required by the flow (it has no default); add it to the row's parameters",
      },
    ]);
    const [d] = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    expect(d!.name).toBe(`connector-${fine}`);
    expect(d!.enforce_parameter_schema).toBe(true);
    expect(d!.parameter_openapi_schema).toEqual(schema);
  });

  it('a schema that does not take connector_id is one configuration problem, exit 64', async () => {
    const cli = await env.cli(['run', '--once'], {
      CONNECTOR_SYNC_CONFIG: (() => {
        const file = join(dir, 'no-id.yaml');
        const config = parse(readFileSync(env.configFile, 'utf8')) as Json;
        config.deployment.parameterSchemaFile = join(dir, 'no-id.json');
        writeFileSync(file, stringify(config));
        return file;
      })(),
    });
    expect(cli.code).toBe(64);
    expect(cli.stderr.trim()).toMatch(/the flow's parameter schema has no connector_id parameter/);
  });
});
