import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureWorkPool, REPO } from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { startPrefectWorker, type PrefectWorker } from '../harness/worker.js';

// The whole point of the product: a deployment connector-sync made is picked
// up by Prefect's scheduler and a real process worker runs the flow for the
// connector, with the row's parameters and id.

const FLOW_RUN_TIMEOUT_MS = 150_000;

describe('a scheduled flow run of a connector deployment runs on a real process worker', () => {
  const pool = `cs-test-pool-${randomBytes(4).toString('hex')}`;
  const markers = mkdtempSync(join(tmpdir(), 'cs-markers-'));
  // The committed flow file; deployment.path tells the worker where to copy it from.
  const workspace = join(REPO, 'test/fixtures');
  let env: TestEnv;
  let worker: PrefectWorker | undefined;

  beforeAll(async () => {
    await ensureWorkPool(inject('prefectApiUrl'), pool);
    // A process worker runs every flow run in a fresh temporary directory, NOT in its own
    // working directory (so `deployment.path: null` finds no code: FileNotFoundError for
    // flows/dlt_pipeline_flow.py): `deployment.path` says where to copy the code from.
    // The deployment's flow keeps the test's unique flow name; that it differs from the
    // @flow name in the file does not matter to Prefect.
    env = await createTestEnv({
      config: { deployment: { workPoolName: pool, path: workspace } },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    // Leave no every-minute schedule behind on the shared server.
    if (env) {
      const api = prefectApi(env.apiUrl);
      for (const d of await api.deploymentsByTag(env.tag))
        await api.call('DELETE', `/deployments/${d.id}`);
    }
    // The pool is this test's alone: remove it (and so nothing else can pick its runs).
    await fetch(`${inject('prefectApiUrl')}/work_pools/${pool}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
    await env?.cleanup();
    rmSync(markers, { recursive: true, force: true });
  });

  it(
    'deploys one connector, and its flow run completes with the row id and parameters',
    async () => {
      const [id] = await insertConnectors(env, [
        { name: 'E2E Pipeline', schedule: '* * * * *', parameters: { source: 'e2e' } },
      ]);
      const run = await env.cli(['run', '--once']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);

      const api = prefectApi(env.apiUrl);
      const [deployment] = await api.deploymentsByTag(env.tag);
      expect(deployment).toBeDefined();
      expect(deployment!.name).toBe(`connector-${id}`);
      expect(deployment!.work_pool_name).toBe(pool);
      expect(deployment!.path).toBe(workspace);
      expect(await api.flowName(deployment!.flow_id)).toBe(env.flowName);

      worker = startPrefectWorker({
        venv: inject('prefectVenv'),
        apiUrl: env.apiUrl,
        pool,
        cwd: workspace,
        env: { CONNECTOR_SYNC_TEST_MARKERS: markers },
      });

      const deadline = Date.now() + FLOW_RUN_TIMEOUT_MS - 10_000;
      let runs: Record<string, any>[] = [];
      while (Date.now() < deadline) {
        const { status, data } = await api.call<Record<string, any>[]>(
          'POST',
          '/flow_runs/filter',
          {
            // Only finished runs: the scheduler keeps up to 100 future ones.
            deployments: { id: { any_: [deployment!.id] } },
            flow_runs: { state: { type: { any_: ['COMPLETED', 'FAILED', 'CRASHED'] } } },
            limit: 50,
          },
        );
        expect(status).toBe(200);
        runs = data;
        if (runs.some((r) => r.state_type === 'COMPLETED')) break;
        // A run that failed or crashed will not complete: stop waiting and show why.
        if (runs.some((r) => ['FAILED', 'CRASHED'].includes(r.state_type))) break;
        if (worker.process.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      const states = runs.map((r) => `${r.name}: ${r.state_type} ${r.state?.message ?? ''}`);
      expect(
        runs.some((r) => r.state_type === 'COMPLETED'),
        `no completed flow run; runs: ${JSON.stringify(states)}\nworker log:\n${worker.log().slice(-4000)}`,
      ).toBe(true);

      const completed = runs.find((r) => r.state_type === 'COMPLETED')!;
      expect(completed.parameters).toEqual({ source: 'e2e', connector_id: Number(id) });
      expect(completed.flow_id).toBe(deployment!.flow_id);

      const marker = join(markers, `connector-${id}.json`);
      expect(existsSync(marker), `marker ${marker} missing`).toBe(true);
      expect(JSON.parse(readFileSync(marker, 'utf8'))).toEqual({
        connector_id: Number(id),
        parameters: { source: 'e2e' },
      });
    },
    FLOW_RUN_TIMEOUT_MS,
  );
});
