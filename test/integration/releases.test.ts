import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureWorkPool } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import {
  copyFlowSource,
  deleteDeploymentByName,
  readFlowRun,
  registerTemplate,
  type Json,
} from '../harness/template.js';
import { startPrefectWorker, type PrefectWorker } from '../harness/worker.js';
import type { Config } from '../../src/config/schema.js';

// Releases registered with Prefect's own SDK, rolled out in waves and judged
// by runs a real process worker makes: a release whose code is missing
// reaches the first wave only, its run crashes, and it rolls back on its
// own; a good one goes through every wave, each gated on completed runs; a
// release on a pool no worker polls fails with that reason; and an
// operator's pause, resume, promote, abort and rollback work beside a
// running worker. The cases build on each other, in order, on one template.

const WAVE_MS = 240_000;
const apiUrl = inject('prefectApiUrl');
const venv = inject('prefectVenv');
const pool = `cs-test-waves-${randomBytes(4).toString('hex')}`;
const idlePool = `cs-test-idle-${randomBytes(4).toString('hex')}`;
const markers = mkdtempSync(join(tmpdir(), 'cs-markers-'));
const workerCwd = mkdtempSync(join(tmpdir(), 'cs-worker-cwd-'));
const dirs: string[] = [];
let env: TestEnv;
let ids: string[] = [];
let prefectWorker: PrefectWorker | undefined;
let daemon: WorkerProcess | undefined;
let config: Config;

/** A release registered as Prefect's SDK does it; `broken`: its code is gone once registered. */
async function release(version: string, options: { broken?: boolean; pool?: string } = {}) {
  const dir = copyFlowSource();
  dirs.push(dir);
  await registerTemplate({
    apiUrl,
    venv,
    flowName: env.flowName,
    deploymentName: 'template',
    workPool: options.pool ?? pool,
    version,
    pullStepsDir: dir,
    jobVariables: { env: { CONNECTOR_SYNC_TEST_MARKERS: markers, RELEASE: version } },
  });
  // A release whose entrypoint cannot be loaded where the worker runs it.
  if (options.broken) rmSync(join(dir, 'flows'), { recursive: true, force: true });
}

const ledger = async () =>
  new Map(
    (await env.sql<Json>('SELECT * FROM connector_sync.releases ORDER BY seq')).map((r) => [
      r.id,
      r,
    ]),
  );

const releaseEvents = async (id: string) =>
  (
    await env.sql<Json>(
      `SELECT action, payload, related FROM connector_sync.events
        WHERE resource->>'prefect.resource.id' = $1 ORDER BY seq`,
      [`connector-sync.release.${id}`],
    )
  ).map((e) => ({ action: e.action as string, payload: e.payload, related: e.related }));

/** Connector id → the release its deployment is on (its version's prefix). */
async function onRelease(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const d of await prefectApi(apiUrl).deploymentsByTag(env.tag))
    out[d.name.replace('connector-', '')] = String(d.version).split('+')[0]!;
  return out;
}

/** Runs passes (as `run --once` would, in this process) until `done` says so. */
async function passesUntil(done: () => Promise<boolean>, timeoutMs = WAVE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs} ms`);
    await env.pass({}, config);
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function waitFor(what: string, done: () => Promise<boolean>, timeoutMs = WAVE_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms\n${daemon?.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const stateOf = async (id: string) => (await ledger()).get(id)?.state as string | undefined;

beforeAll(async () => {
  await ensureWorkPool(apiUrl, pool);
  await ensureWorkPool(apiUrl, idlePool);
  env = await createTestEnv({
    config: {
      deployment: { entrypoint: null },
      rollout: { waves: [1, 2, '100%'], verify: 'trigger', gateTimeout: '3m', checkEvery: '2s' },
    },
  });
  const file = parse(readFileSync(env.configFile, 'utf8')) as Json;
  file.deployment.template = `${env.flowName}/template`;
  delete file.deployment.flowName;
  writeFileSync(env.configFile, stringify(file));
  config = env.withConfig({});
  await release('1.0.0');
  ids = await insertConnectors(env, [
    { name: 'Orders', schedule: '*/5 * * * *', parameters: { source: 'shop' } }, // the canary
    { name: 'Invoices', schedule: '0 2 * * *', parameters: {} },
    { name: 'Refunds', schedule: '0 3 * * *', parameters: {} },
    { name: 'Payouts', schedule: '0 4 * * *', parameters: {} },
  ]);
  prefectWorker = startPrefectWorker({ venv, apiUrl, pool, cwd: workerCwd });
  await env.pass({}, config);
}, 180_000);

afterAll(async () => {
  daemon?.kill('SIGTERM');
  await daemon?.exited;
  await prefectWorker?.stop();
  if (env) {
    const api = prefectApi(apiUrl);
    for (const d of await api.deploymentsByTag(env.tag))
      await api.call('DELETE', `/deployments/${d.id}`);
    await deleteDeploymentByName(apiUrl, env.flowName, 'template');
  }
  for (const p of [pool, idlePool])
    await fetch(`${apiUrl}/work_pools/${p}`, { method: 'DELETE' }).catch(() => undefined);
  await env?.cleanup();
  for (const dir of [markers, workerCwd, ...dirs]) rmSync(dir, { recursive: true, force: true });
});

describe('releases in waves, judged by their runs', () => {
  it('the first release is where the fleet is: complete, every connector on it', async () => {
    expect([...(await ledger()).values()].map((r) => [r.id, r.state])).toEqual([
      ['1.0.0', 'complete'],
    ]);
    expect(Object.values(await onRelease())).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    const status = JSON.parse((await env.cli(['status', '--json'])).stdout);
    expect(status.connectors.map((c: Json) => c.release)).toEqual([
      '1.0.0',
      '1.0.0',
      '1.0.0',
      '1.0.0',
    ]);
  });

  it(
    'a release whose code is missing reaches the first wave only; its run crashes; it rolls back on its own',
    async () => {
      await release('2.0.0', { broken: true });
      const plan = await env.cli(['plan']);
      expect(plan.stdout).toContain('release 2.0.0 starts (wave 1 of 3)');
      await passesUntil(async () => (await stateOf('2.0.0')) === 'failed');
      const failed = (await ledger()).get('2.0.0')!;
      expect(failed.members).toEqual([ids[0]]);
      const run = await readFlowRun(apiUrl, failed.gate.runs[0].flowRunId);
      expect(['CRASHED', 'FAILED']).toContain(run.state_type);
      expect(run.tags).toContain('connector-sync-release:2.0.0');
      expect(failed.reason).toContain(`run ${run.id} of 2.0.0 ended ${run.state_name}`);

      await passesUntil(async () => (await ledger()).get('2.0.0')!.rolled_back_at !== null);
      expect(Object.values(await onRelease())).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
      expect((await releaseEvents('2.0.0')).map((e) => e.action)).toEqual([
        'release-started',
        'release-failed',
        'release-rolled-back',
      ]);
      // The rest of the fleet never carried it: no update of theirs went to 2.0.0.
      const to2 = await env.sql<Json>(
        `SELECT DISTINCT connector_id FROM connector_sync.events
          WHERE action = 'updated' AND payload->'updates'->'version'->>'to' LIKE '2.0.0+%'`,
      );
      expect(to2.map((e) => e.connector_id)).toEqual([ids[0]]);
      // The template still says 2.0.0: the fleet stays where it is, and says why.
      const again = await env.pass({}, config);
      expect(again.calls.writes).toBe(0);
      expect(again.plan.notices.map((n) => n.message).join('\n')).toContain(
        "the template's release 2.0.0 is failed",
      );
    },
    WAVE_MS + 60_000,
  );

  it(
    'a good release goes through every wave, each gated on completed runs of its version',
    async () => {
      await release('3.0.0');
      await passesUntil(async () => (await stateOf('3.0.0')) === 'complete', 3 * WAVE_MS);
      expect(Object.values(await onRelease())).toEqual(['3.0.0', '3.0.0', '3.0.0', '3.0.0']);
      const events = await releaseEvents('3.0.0');
      expect(events.map((e) => e.action)).toEqual([
        'release-started',
        'release-wave-passed',
        'release-wave-passed',
        'release-wave-passed',
        'release-completed',
      ]);
      const passed = events.filter((e) => e.action === 'release-wave-passed');
      expect(passed.map((e) => e.payload.connectors.length)).toEqual([1, 1, 2]);
      const runs = passed.flatMap((e) => e.related.map((r: Json) => r['prefect.resource.id']));
      expect(runs).toHaveLength(4); // one run per connector
      for (const resource of runs) {
        const run = await readFlowRun(apiUrl, resource.replace('prefect.flow-run.', ''));
        expect(run.state_type).toBe('COMPLETED');
        expect(run.deployment_version).toMatch(/^3\.0\.0\+/);
      }
      // status narrows by release and by status.
      const on = async (...args: string[]) =>
        JSON.parse((await env.cli(['status', '--json', ...args])).stdout).connectors.map(
          (c: Json) => c.connector_id,
        );
      expect(await on('--release', '3.0.0')).toHaveLength(4);
      expect(await on('--release', '1.0.0')).toEqual([]);
      expect(await on('--status', 'synced', '--release', '3.0.0')).toHaveLength(4);
      expect(await on('--status', 'failed', 'invalid')).toEqual([]);
      const listed = JSON.parse((await env.cli(['releases', '--json'])).stdout);
      expect(listed.map((r: Json) => [r.release, r.state, r.connectors])).toEqual([
        ['3.0.0', 'complete', 4],
        ['2.0.0', 'failed', 0],
        ['1.0.0', 'complete', 0],
      ]);
    },
    3 * WAVE_MS + 60_000,
  );

  it(
    'a release on a pool no worker polls fails its first wave with that reason, and rolls back',
    async () => {
      await release('4.0.0', { pool: idlePool });
      const short = env.withConfig({ rollout: { gateTimeout: '20s' } });
      const deadline = Date.now() + WAVE_MS;
      while ((await stateOf('4.0.0')) !== 'failed' && Date.now() < deadline) {
        await env.pass({}, short);
        await new Promise((r) => setTimeout(r, 2000));
      }
      expect((await ledger()).get('4.0.0')).toMatchObject({
        state: 'failed',
        reason: `0 of 1 runs of wave 1 finished within the gate timeout (no worker has polled pool ${idlePool})`,
      });
      await passesUntil(async () => (await ledger()).get('4.0.0')!.rolled_back_at !== null);
      expect(Object.values(await onRelease())).toEqual(['3.0.0', '3.0.0', '3.0.0', '3.0.0']);
    },
    2 * WAVE_MS,
  );
});

describe('an operator’s controls, beside a running worker', () => {
  const cli = async (args: string[]) => {
    const result = await env.cli(args);
    expect(result.code, `${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
    return result.stdout;
  };

  it(
    'pause holds a release; resume and promote move it; abort rolls it back; rollback pins the fleet',
    async () => {
      daemon = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '* * * * *' });
      await release('5.0.0');
      await env.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
      await waitFor('5.0.0 started', async () => (await stateOf('5.0.0')) === 'rolling-out');
      expect(
        await cli(['release', 'pause', '5.0.0', '--reason', 'looking at the canary']),
      ).toContain('Paused release 5.0.0 at wave 1 of 3');
      // Paused: whatever its runs do, no wave passes.
      await new Promise((r) => setTimeout(r, 20_000));
      expect((await ledger()).get('5.0.0')).toMatchObject({ state: 'paused', wave: 0 });

      await cli(['release', 'resume', '5.0.0']);
      await cli(['release', 'promote', '5.0.0']);
      await waitFor('wave 2 written', async () => {
        const r = (await ledger()).get('5.0.0')!;
        return r.members.length >= 2;
      });
      expect((await releaseEvents('5.0.0')).map((e) => e.action).slice(0, 4)).toEqual([
        'release-started',
        'release-paused',
        'release-resumed',
        'release-wave-passed',
      ]);
      await cli(['release', 'abort', '5.0.0', '--reason', 'enough']);
      await waitFor(
        'aborted 5.0.0 rolled back',
        async () => (await ledger()).get('5.0.0')!.rolled_back_at !== null,
      );
      expect(Object.values(await onRelease())).toEqual(['3.0.0', '3.0.0', '3.0.0', '3.0.0']);
      expect((await ledger()).get('5.0.0')!.reason).toMatch(/^aborted by .+: enough$/);

      expect(await cli(['release', 'rollback', '1.0.0'])).toContain(
        'Rolled the fleet back to release 1.0.0',
      );
      await waitFor('fleet on 1.0.0', async () =>
        Object.values(await onRelease()).every((v) => v === '1.0.0'),
      );
      expect((await ledger()).get('3.0.0')!.state).toBe('rolled-back');
      const shown = await cli(['release', 'show', '3.0.0']);
      expect(shown).toContain('release 3.0.0 — rolled-back');
      expect(shown).toContain('connector-sync.release.rolled-back');
      // An unknown release is bad usage, naming the ones there are.
      const unknown = await env.cli(['release', 'pause', 'nope']);
      expect(unknown.code).toBe(64);
      expect(unknown.stderr).toContain('no release "nope"; the ledger has');
    },
    3 * WAVE_MS,
  );
});
