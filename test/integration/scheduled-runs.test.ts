import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ensureDatabase,
  ensureWorkPool,
  startPrefectServer,
  type PrefectServer,
} from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { startPrefectWorker, type PrefectWorker } from '../harness/worker.js';

// Writes that never cost a scheduled run (docs/concepts/how-a-pass-works.md,
// "Updates and scheduled runs"): every PATCH deletes a deployment's future
// auto-scheduled runs, and Prefect's scheduler makes them again only from the
// moment it next looks. 20 connectors on `* * * * *`, every row edited a few
// seconds before a minute boundary, at several offsets: each deployment has
// exactly one run per minute slot, none missing, none doubled — with a worker
// picking runs up as they come due, and with none polling (an outage), where
// the late runs waiting for it survive the writes.

const CONNECTORS = 20;
/** Seconds before each successive minute boundary at which every row is edited. */
const OFFSETS = [2, 5, 1];

const MINUTE = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const nextBoundary = (after = Date.now()): number => Math.ceil((after + 1) / MINUTE) * MINUTE;

interface Scenario {
  env: TestEnv;
  pool: string;
  worker: PrefectWorker | undefined;
  server?: PrefectServer;
}

async function setUp(withWorker: boolean, server?: PrefectServer): Promise<Scenario> {
  const pool = `cs-runs-pool-${randomBytes(4).toString('hex')}`;
  const apiUrl = server?.apiUrl ?? inject('prefectApiUrl');
  await ensureWorkPool(apiUrl, pool);
  const env = await createTestEnv({
    apiUrl,
    config: {
      // The worker's runs start `true` and end: picked up, at the cost of a
      // process each and no Python, so the rest of the suite is not starved.
      deployment: { workPoolName: pool, jobVariables: { command: 'true' } },
      reconcile: { rescheduleWithinSeconds: 300 },
    },
  });
  await insertConnectors(
    env,
    Array.from({ length: CONNECTORS }, (_, i) => ({
      name: `every-minute-${i}`,
      schedule: '* * * * *',
    })),
  );
  expect((await env.cli(['run', '--once'])).code).toBe(0);
  // Runs are fetched only once due, every 5 s: a run due in 2 s is still
  // Scheduled when the edit lands (the case a PATCH costs), as in an outage.
  const markers = mkdtempSync(join(tmpdir(), 'cs-runs-'));
  const worker = withWorker
    ? startPrefectWorker({
        venv: inject('prefectVenv'),
        apiUrl: env.apiUrl,
        pool,
        cwd: markers,
        env: {
          PREFECT_WORKER_QUERY_SECONDS: '5',
          PREFECT_WORKER_PREFETCH_SECONDS: '0',
        },
      })
    : undefined;
  return { env, pool, worker, ...(server ? { server } : {}) };
}

/**
 * A Prefect server of its own whose scheduler looks seldom (its recent-deployments
 * loop every 30 s, its main loop every 2 minutes): the runs a PATCH deletes
 * come back all the same, since connector-sync does not wait for it.
 */
async function slowScheduler(): Promise<PrefectServer> {
  const database = `cs_runs_slow_${randomBytes(4).toString('hex')}`;
  ensureDatabase(database);
  return startPrefectServer({
    database,
    env: {
      PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS: '30',
      PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: '120',
    },
  });
}

async function tearDown(s: Scenario | undefined): Promise<void> {
  if (!s) return;
  await s.worker?.stop();
  const api = prefectApi(s.env.apiUrl);
  for (const d of await api.deploymentsByTag(s.env.tag))
    await api.call('DELETE', `/deployments/${d.id}`);
  await fetch(`${s.env.apiUrl}/work_pools/${s.pool}`, { method: 'DELETE' }).catch(() => undefined);
  await s.env.cleanup();
  await s.server?.stop();
}

/**
 * Edits every row a few seconds before successive boundaries; returns the
 * slots they straddle (the first, and the last). Every slot from the first on
 * is checked: the deployments existed well before it.
 */
async function editAroundBoundaries(env: TestEnv): Promise<{ first: number; last: number }> {
  let boundary = await firstScheduledSlot(env);
  const first = boundary;
  for (const [k, offset] of OFFSETS.entries()) {
    await sleep(boundary - offset * 1000 - Date.now());
    await env.sql(`UPDATE cai_connectors SET parameters = $1`, [JSON.stringify({ edit: k })]);
    const run = await env.cli(['run', '--once', '--json']);
    expect(run.code).toBe(0);
    const { applied, prefect_calls: calls } = JSON.parse(run.stdout);
    console.log(
      `edit ${k}, ${offset} s before ${new Date(boundary).toISOString()}: ${applied} updates, ${JSON.stringify(calls.byRoute)}, done ${((Date.now() - boundary) / 1000).toFixed(1)} s after the boundary`,
    );
    expect(applied).toBe(CONNECTORS);
    // Each update has a run due within the window: each is followed by its
    // re-scheduling (more calls when a busy Prefect made one be retried).
    expect(calls.byRoute['POST /deployments/{id}/schedule']).toBeGreaterThanOrEqual(CONNECTORS);
    boundary += MINUTE;
  }
  return { first, last: boundary - MINUTE };
}

/**
 * The first minute boundary, 20 s away at least, for which Prefect's
 * scheduler has made every deployment its run: the edits start there, so a
 * missing run afterwards is one an edit cost (a scheduler that looks seldom,
 * on a busy machine, may take a while to make the first runs of a new deployment).
 */
async function firstScheduledSlot(env: TestEnv): Promise<number> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const earliest = nextBoundary(Date.now() + 20_000);
    const counts = await runsPerSlot(env, earliest, earliest + 10 * MINUTE);
    const ids = (await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).map((d) => d.id as string);
    for (let slot = earliest; slot <= earliest + 10 * MINUTE; slot += MINUTE)
      if (ids.every((id) => counts.has(`${id} ${new Date(slot).toISOString()}`))) return slot;
    if (Date.now() > deadline) throw new Error('Prefect scheduled no common slot within 4 minutes');
    await sleep(5_000);
  }
}

/** Auto-scheduled runs per deployment and slot, for slots in [from, to]. */
async function runsPerSlot(env: TestEnv, from: number, to: number): Promise<Map<string, number>> {
  const api = prefectApi(env.apiUrl);
  const ids = (await api.deploymentsByTag(env.tag)).map((d) => d.id as string);
  // Only the window's runs, in a stable order, each counted once by its id:
  // Prefect's scheduler goes on making runs while the pages are read, and a
  // run seen on two pages must not read as a doubled slot.
  const runs = new Map<string, Record<string, any>>();
  for (let offset = 0; ; offset += 200) {
    const { data } = await api.call<Record<string, any>[]>('POST', '/flow_runs/filter', {
      limit: 200,
      offset,
      sort: 'EXPECTED_START_TIME_ASC',
      flow_runs: {
        deployment_id: { any_: ids },
        expected_start_time: {
          after_: new Date(from - 1000).toISOString(),
          before_: new Date(to + 1000).toISOString(),
        },
      },
    });
    for (const run of data) runs.set(run.id as string, run);
    if (data.length < 200) break;
  }
  const counts = new Map<string, number>();
  for (const run of runs.values()) {
    const slot = Date.parse(run.expected_start_time as string);
    if (!run.auto_scheduled || slot < from || slot > to) continue;
    const key = `${run.deployment_id as string} ${new Date(slot).toISOString()}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

async function expectOneRunPerSlot(env: TestEnv, from: number, to: number): Promise<void> {
  const api = prefectApi(env.apiUrl);
  const deployments = await api.deploymentsByTag(env.tag);
  expect(deployments).toHaveLength(CONNECTORS);
  const counts = await runsPerSlot(env, from, to);
  const wrong: string[] = [];
  for (const d of deployments)
    for (let slot = from; slot <= to; slot += MINUTE) {
      const n = counts.get(`${d.id as string} ${new Date(slot).toISOString()}`) ?? 0;
      if (n !== 1) wrong.push(`${d.name as string} ${new Date(slot).toISOString()}: ${n} runs`);
    }
  expect(wrong).toEqual([]);
}

describe.concurrent('updates near a cron tick cost no run and invent none', () => {
  let withWorker: Scenario | undefined;
  let outage: Scenario | undefined;
  let slow: Scenario | undefined;
  beforeAll(async () => {
    [withWorker, outage, slow] = await Promise.all([
      setUp(true),
      setUp(false),
      slowScheduler().then((server) => setUp(false, server)),
    ]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([tearDown(withWorker), tearDown(outage), tearDown(slow)]);
  });

  it('a worker picking runs up: every slot has exactly one run', async () => {
    const { env } = withWorker!;
    const { first, last } = await editAroundBoundaries(env);
    // The slot just after the last edit has come and gone (the worker fetched it).
    await sleep(last + MINUTE + 15_000 - Date.now());
    await expectOneRunPerSlot(env, first, last + MINUTE);
    const picked = await prefectApi(env.apiUrl).call<number>('POST', '/flow_runs/count', {
      flow_runs: { state: { type: { not_any_: ['SCHEDULED'] } } },
      deployments: { tags: { all_: [env.tag] } },
    });
    expect(picked.data).toBeGreaterThan(0); // the worker did pick runs up
  }, 660_000);

  it('no worker polling (an outage): the late runs survive the writes, and every slot has exactly one', async () => {
    const { env } = outage!;
    const { first, last } = await editAroundBoundaries(env);
    await sleep(last + MINUTE + 5_000 - Date.now());
    // Every run of the window is still waiting (none was picked up): late, not lost.
    await expectOneRunPerSlot(env, first, last + MINUTE);
  }, 660_000);

  it("the same with Prefect's scheduler looking seldom (its loop settings change nothing)", async () => {
    const { env } = slow!;
    const { first, last } = await editAroundBoundaries(env);
    await sleep(last + MINUTE + 5_000 - Date.now());
    await expectOneRunPerSlot(env, first, last + MINUTE);
  }, 660_000);
});
