import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureWorkPool } from '../../scripts/prefect-server.ts';
import {
  copyFlowSource,
  deleteDeploymentByName,
  FIXTURES_DIR,
  flowRunsOf,
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

// The test support for template deployments, proven against the real server:
// a template registered (and registered again, a release) with Prefect's own
// SDK from the typed test flow, Prefect's CLI accepting a typed `-p` override
// and refusing a wrong one, and one real process worker completing a run of a
// plain-POST deployment that copied the template's code location. The cases
// build on each other (one template, released twice), in order.

const FLOW_RUN_TIMEOUT_MS = 150_000;

const setWorkingDirectory = (directory: string) => [
  { 'prefect.deployments.steps.set_working_directory': { directory } },
];

describe('template deployments registered with Prefect’s own SDK', () => {
  const apiUrl = inject('prefectApiUrl');
  const venv = inject('prefectVenv');
  const id = randomBytes(4).toString('hex');
  const pool = `cs-test-tmpl-pool-${id}`;
  const flowName = `cs_test_tmpl_${id}`;
  const deploymentName = 'template';
  const copyFlowName = `cs_test_tmpl_copy_${id}`;
  const markers = mkdtempSync(join(tmpdir(), 'cs-markers-'));
  const release2Dir = copyFlowSource();
  const workerCwd = mkdtempSync(join(tmpdir(), 'cs-worker-cwd-'));
  let release1: Json;
  let release2: Json;
  let worker: PrefectWorker | undefined;

  beforeAll(async () => {
    // A pool of this file alone: no other worker picks up its runs.
    await ensureWorkPool(apiUrl, pool);
  });
  afterAll(async () => {
    await worker?.stop();
    await deleteDeploymentByName(apiUrl, copyFlowName, 'connector-42');
    await deleteDeploymentByName(apiUrl, flowName, deploymentName);
    await fetch(`${apiUrl}/work_pools/${pool}`, { method: 'DELETE' }).catch(() => undefined);
    rmSync(markers, { recursive: true, force: true });
    rmSync(release2Dir, { recursive: true, force: true });
    rmSync(workerCwd, { recursive: true, force: true });
  });

  it('registers a paused template without schedules, its schema derived from the typed flow', async () => {
    release1 = await registerTemplate({
      apiUrl,
      venv,
      flowName,
      deploymentName,
      workPool: pool,
      version: '1.0.0',
      jobVariables: { env: { RELEASE: '1' } },
    });
    expect(release1).toMatchObject({
      name: deploymentName,
      version: '1.0.0',
      paused: true,
      schedules: [],
      enforce_parameter_schema: true,
      entrypoint: TYPED_FLOW_ENTRYPOINT,
      path: null,
      pull_steps: setWorkingDirectory(FIXTURES_DIR),
      job_variables: { env: { RELEASE: '1' } },
      work_pool_name: pool,
      work_queue_name: 'default',
      parameters: {},
      concurrency_limit: null,
      concurrency_options: null,
      global_concurrency_limit: null,
    });
    // The deployment's flow is the test's, not the @flow name in the file.
    const flow = (await (await fetch(`${apiUrl}/flows/${release1.flow_id}`)).json()) as Json;
    expect(flow.name).toBe(flowName);

    const schema = release1.parameter_openapi_schema;
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(['connector_id']);
    const shape = Object.fromEntries(
      Object.entries(schema.properties as Record<string, Json>).map(([k, p]) => [
        k,
        [p.type, p.default, p.position],
      ]),
    );
    expect(shape).toEqual({
      connector_id: ['integer', undefined, 0],
      source: ['string', 'crm', 1],
      batch_size: ['integer', 100, 2],
      full_refresh: ['boolean', false, 3],
    });
    // The docstring's Args become the parameters' descriptions.
    expect(schema.properties.batch_size.description).toBe(
      'Rows per batch written to the destination.',
    );

    expect(await readDeploymentByName(apiUrl, flowName, 'no-such-template')).toEqual({
      status: 404,
      data: { detail: 'Deployment not found' },
    });
  }, 60_000);

  it('registering again is a release: the same deployment with a new version, pull steps and job variables', async () => {
    release2 = await registerTemplate({
      apiUrl,
      venv,
      flowName,
      deploymentName,
      workPool: pool,
      version: '2.0.0',
      pullStepsDir: release2Dir,
      // The marker folder travels in the template's job variables: a run that
      // writes a marker got them.
      jobVariables: { env: { RELEASE: '2', CONNECTOR_SYNC_TEST_MARKERS: markers } },
    });
    expect(release2.id).toBe(release1.id);
    expect(release2.flow_id).toBe(release1.flow_id);
    expect(release2).toMatchObject({
      version: '2.0.0',
      paused: true,
      schedules: [],
      pull_steps: setWorkingDirectory(release2Dir),
      job_variables: { env: { RELEASE: '2', CONNECTOR_SYNC_TEST_MARKERS: markers } },
    });
    expect(release2.parameter_openapi_schema).toEqual(release1.parameter_openapi_schema);
  }, 60_000);

  it('Prefect’s CLI takes a typed -p override and refuses a wrong type, an unknown key and a missing required one', async () => {
    const target = { venv, apiUrl, flowName, deploymentName };

    const accepted = await runDeployment({
      ...target,
      params: { connector_id: 7, batch_size: '100' },
    });
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(accepted.flowRunId).toMatch(/^[0-9a-f-]{36}$/);
    const flowRun = await readFlowRun(apiUrl, accepted.flowRunId!);
    // "100" on the command line arrives as the integer the schema asks for.
    expect(flowRun.parameters).toEqual({ connector_id: 7, batch_size: 100 });
    expect(flowRun.deployment_id).toBe(release2.id);
    expect(flowRun.deployment_version).toBe('2.0.0');

    const wrongType = await runDeployment({
      ...target,
      params: { connector_id: 7, batch_size: 'lots' },
    });
    expect(wrongType.code).toBe(1);
    expect(wrongType.flowRunId).toBeNull();
    expect(wrongType.stdout).toContain(
      "Error creating flow run: Validation failed for field 'batch_size'. Failure reason: 'lots' is not of type 'integer'",
    );

    const unknownKey = await runDeployment({ ...target, params: { connector_id: 7, nope: 1 } });
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stdout).toContain(
      "The following parameters were specified but not found on the deployment: 'nope'",
    );

    const missing = await runDeployment({ ...target, params: { batch_size: 5 } });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("'connector_id' is a required property");

    // Only the accepted override made a run; remove it so the worker below runs one flow run.
    const runs = await flowRunsOf(apiUrl, release2.id);
    expect(runs.map((r) => r.id)).toEqual([accepted.flowRunId]);
    await fetch(`${apiUrl}/flow_runs/${accepted.flowRunId}`, { method: 'DELETE' });
  }, 60_000);

  it(
    'a process worker completes a run of a plain-POST deployment that copies the template’s code location',
    async () => {
      const flow = await post('/flows/', { name: copyFlowName });
      const created = await post('/deployments/', {
        name: 'connector-42',
        flow_id: flow.id,
        parameters: { connector_id: 42, source: 'copy' },
        parameter_openapi_schema: release2.parameter_openapi_schema,
        enforce_parameter_schema: release2.enforce_parameter_schema,
        entrypoint: release2.entrypoint,
        path: release2.path,
        pull_steps: release2.pull_steps,
        job_variables: release2.job_variables,
        work_pool_name: release2.work_pool_name,
        work_queue_name: release2.work_queue_name,
        version: `${release2.version}+r1`,
        paused: false,
      });

      const started = await runDeployment({
        venv,
        apiUrl,
        flowName: copyFlowName,
        deploymentName: 'connector-42',
        params: { batch_size: 250, full_refresh: true },
      });
      expect(started.code, started.stdout + started.stderr).toBe(0);

      // Its working directory holds no flow code: only the pull step finds it.
      worker = startPrefectWorker({ venv, apiUrl, pool, cwd: workerCwd });
      const w = worker;
      const final = await waitForFlowRun(
        apiUrl,
        started.flowRunId!,
        FLOW_RUN_TIMEOUT_MS - 15_000,
        () => w.process.exitCode !== null,
      );
      expect(
        final.state_type,
        `${final.state_type} ${final.state?.message ?? ''}\nworker log:\n${w.log().slice(-4000)}`,
      ).toBe('COMPLETED');
      expect(final.deployment_id).toBe(created.id);
      expect(final.deployment_version).toBe('2.0.0+r1');

      expect(readRunMarker(markers, started.flowRunId!)).toEqual({
        flow_run_id: started.flowRunId,
        deployment_name: 'connector-42',
        deployment_version: '2.0.0+r1',
        parameters: { connector_id: 42, source: 'copy', batch_size: 250, full_refresh: true },
        types: { connector_id: 'int', source: 'str', batch_size: 'int', full_refresh: 'bool' },
      });
    },
    FLOW_RUN_TIMEOUT_MS,
  );

  async function post(path: string, body: unknown): Promise<Json> {
    const response = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const data = (await response.json()) as Json;
    expect(response.ok, `${path}: ${response.status} ${JSON.stringify(data)}`).toBe(true);
    return data;
  }
});
