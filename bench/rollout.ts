// A release rolled out: the template registered again (new version, pull
// steps, job variables). In one pass (rollout.waves ['100%'], verify none),
// side by side with a bare PATCH loop of the same changes at the same
// concurrency on a fresh server; then in the default waves [1, 10%, 100%]
// with verify: trigger, each wave gated on its runs — a stand-in for a worker
// marks each gate run COMPLETED as soon as it is made, so the figures are
// connector-sync's own cost per wave, not the flow's run time. Also the no-op
// pass with a template.
//   npm run bench:rollout -- [N]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, prefectVenv } from '../scripts/prefect-server.ts';
import { copyFlowSource, registerTemplate } from '../test/harness/template.ts';
import {
  benchConfigFile,
  CONCURRENCY,
  lanes,
  PAGE,
  prefectJson,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
  type BenchEnv,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);
const FLOW = 'bench_release_flow';
const venv = prefectVenv();

async function release(env: BenchEnv, version: string, dir?: string): Promise<void> {
  await registerTemplate({
    apiUrl: env.apiUrl,
    venv,
    flowName: FLOW,
    deploymentName: 'template',
    workPool: 'default',
    version,
    pullStepsDir: dir,
    jobVariables: { env: { RELEASE: version } },
  });
}

/**
 * The same release's PATCHes — to the same deployments (made by a first pass
 * from the same rows and template), with the same bodies — without reads or
 * bookkeeping: what the server itself allows.
 */
async function rawPatches(): Promise<number> {
  const env = await startBenchEnv('rollout_raw', N);
  try {
    await prepare(env);
    const listed = await listManaged(env);
    const dir = copyFlowSource();
    const started = performance.now();
    await lanes(listed, CONCURRENCY, async (d) => {
      const { status } = await prefectJson(env.apiUrl, 'PATCH', `/deployments/${d.id}`, {
        version: d.version.replace(/^1\.0\.0\+/, '2.0.0+'),
        pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: dir } }],
        job_variables: { env: { RELEASE: '2.0.0' } },
      });
      if (status !== 204) throw new Error(`raw PATCH answered ${status}`);
    });
    return (performance.now() - started) / 1000;
  } finally {
    await env.stop();
  }
}

/** Rows the typed flow's schema takes, the template's first release, and the first pass. */
async function prepare(env: BenchEnv): Promise<void> {
  // The typed flow takes connector_id, source, batch_size and full_refresh.
  await env.pool.query(
    `UPDATE cai_connectors SET parameters = jsonb_build_object('batch_size', id)`,
  );
  await release(env, '1.0.0');
  const first = await runWorkerPass(env, config);
  if (first.exitCode !== 0 || first.applied !== N)
    throw new Error(`first pass: exit ${first.exitCode}, applied ${first.applied}`);
}

async function listManaged(env: BenchEnv): Promise<{ id: string; version: string }[]> {
  const all: { id: string; version: string }[] = [];
  for (let page = 1; ; page++) {
    const { data } = await prefectJson<{
      results: { id: string; version: string }[];
      pages: number;
    }>(env.apiUrl, 'POST', '/deployments/paginate', {
      page,
      limit: PAGE,
      deployments: { tags: { all_: ['managed-by:connector-sync'] } },
    });
    all.push(...data.results);
    if (page >= data.pages) return all;
  }
}

const TEMPLATE = `deployment:\n  template: ${FLOW}/template\n`;
const config = {
  CONNECTOR_SYNC_CONFIG: benchConfigFile(
    `${TEMPLATE}rollout:\n  waves: ['100%']\n  verify: none\n`,
  ),
};
const inWaves = {
  CONNECTOR_SYNC_CONFIG: benchConfigFile(`${TEMPLATE}rollout:\n  waves: [1, '10%', '100%']\n`),
};

/** A worker's stand-in: every gate run of `release` still scheduled ends COMPLETED. */
async function completeGateRuns(env: BenchEnv, release: string): Promise<number> {
  let done = 0;
  for (;;) {
    const { data } = await prefectJson<{ id: string }[]>(env.apiUrl, 'POST', '/flow_runs/filter', {
      flow_runs: {
        tags: { all_: [`connector-sync-release:${release}`] },
        state: { type: { any_: ['SCHEDULED', 'PENDING', 'RUNNING'] } },
      },
      limit: PAGE,
    });
    if (data.length === 0) return done;
    await lanes(data, CONCURRENCY, async (run) => {
      await prefectJson(env.apiUrl, 'POST', `/flow_runs/${run.id}/set_state`, {
        state: { type: 'COMPLETED' },
        force: true,
      });
    });
    done += data.length;
  }
}

/** The release in waves: passes until the ledger says complete, one row per pass. */
async function rolloutInWaves(env: BenchEnv): Promise<Record<string, unknown>[]> {
  await release(env, '3.0.0', copyFlowSource());
  const rows: Record<string, unknown>[] = [];
  for (let pass = 1; pass <= 12; pass++) {
    const run = await runWorkerPass(env, inWaves);
    const [ledger] = (
      await env.pool.query<{ state: string; wave: number; members: number }>(
        `SELECT state, wave, cardinality(members) AS members FROM connector_sync.releases WHERE id = '3.0.0'`,
      )
    ).rows;
    const completed = await completeGateRuns(env, '3.0.0');
    rows.push({
      what: `pass ${pass}: ${ledger!.state}, wave ${ledger!.wave + 1}, ${ledger!.members} connectors`,
      wall_s: run.wallSeconds,
      patches: run.byRoute['PATCH /deployments/{id}'] ?? 0,
      runs_triggered: run.byRoute['POST /deployments/{id}/create_flow_run'] ?? 0,
      reads: run.reads,
      writes: run.writes,
      gate_runs_completed_after: completed,
      peak_rss_mb: run.peakRssMb,
    });
    if (ledger!.state === 'complete') return rows;
  }
  throw new Error('the release in waves did not complete in 12 passes');
}
const rawSeconds = await rawPatches();

const env = await startBenchEnv('rollout', N);
try {
  await prepare(env);
  const noop = await runWorkerPass(env, config);
  await release(env, '2.0.0', copyFlowSource());
  // Exit 2: changes pending.
  const plan = spawnSync(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'plan', '--json'], {
    env: { ...process.env, DATABASE_URL: env.databaseUrl, PREFECT_API_URL: env.apiUrl, ...config },
    encoding: 'utf8',
  }).stdout;
  const planned = (JSON.parse(plan) as { summary: { update: number } }).summary.update;
  const rollout = await runWorkerPass(env, config);
  if (rollout.applied !== N)
    throw new Error(`rollout: exit ${rollout.exitCode}, applied ${rollout.applied}`);
  const after = await runWorkerPass(env, config);
  const waves = await rolloutInWaves(env);
  const listing = Math.ceil(N / PAGE);
  report(
    'rollout',
    N,
    [
      {
        what: 'raw PATCH loop (the limit)',
        wall_s: round(rawSeconds),
        patches_per_s: round(N / rawSeconds, 1),
        calls: N,
      },
      {
        what: "connector-sync run --once (waves: ['100%'], verify: none)",
        wall_s: rollout.wallSeconds,
        patches_per_s: round(N / rollout.wallSeconds, 1),
        reads: rollout.reads,
        writes: rollout.writes,
        minimum_calls: `1 template read + ${listing} listing + ${N} PATCH`,
        cpu_s: round(rollout.cpuSeconds),
        peak_rss_mb: rollout.peakRssMb,
      },
      {
        what: 'the pass after it',
        wall_s: after.wallSeconds,
        reads: after.reads,
        writes: after.writes,
      },
      {
        what: 'a no-op pass with a template',
        wall_s: noop.wallSeconds,
        reads: noop.reads,
        writes: noop.writes,
      },
      ...waves,
    ],
    {
      throughput_vs_raw: round(rawSeconds / rollout.wallSeconds),
      waves_total_wall_s: round(waves.reduce((sum, r) => sum + Number(r.wall_s), 0)),
      plan_showed_updates: planned,
      rollout_by_route: rollout.byRoute,
      noop_by_route: noop.byRoute,
    },
  );
} finally {
  await env.stop();
}
