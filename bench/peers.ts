// The tools users would pick instead, for the same N deployments, each on a
// fresh Prefect server: `prefect deploy --all` on a generated prefect.yaml,
// and a naive sequential client doing what the seed's backend did (look the
// deployment up, then POST it, one connector at a time).
//   npm run bench:peers -- [N]        (N = 200 by default)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { prefectVenv, REPO } from '../scripts/prefect-server.ts';
import { prefectJson, report, round, runWorkerPass, startBenchEnv } from './support.ts';

const N = Number(process.argv[2] ?? 200);
const FLOW = 'run_connector_pipeline';
const ENTRYPOINT = 'flows/dlt_pipeline_flow.py:run_connector_pipeline';
const cronOf = (i: number): string => `${i % 60} */4 * * *`;

/** `prefect deploy --all`: the CLI imports the flow, then creates each deployment. */
function prefectDeploy(apiUrl: string, n: number): number {
  const project = mkdtempSync(join(tmpdir(), 'cs-bench-deploy-'));
  mkdirSync(join(project, 'flows'));
  copyFileSync(
    join(REPO, 'test/fixtures/flows/dlt_pipeline_flow.py'),
    join(project, 'flows/dlt_pipeline_flow.py'),
  );
  const manifest = {
    name: 'bench',
    'prefect-version': '3.9.1',
    build: null,
    push: null,
    pull: [{ 'prefect.deployments.steps.set_working_directory': { directory: project } }],
    deployments: Array.from({ length: n }, (_, k) => ({
      name: `connector-${k + 1}`,
      entrypoint: ENTRYPOINT,
      parameters: { connector_id: k + 1 },
      schedules: [{ cron: cronOf(k + 1), timezone: 'UTC' }],
      tags: ['connector-sync', `connector-${k + 1}`],
      work_pool: { name: 'default', work_queue_name: 'default' },
    })),
  };
  writeFileSync(join(project, 'prefect.yaml'), stringify(manifest));
  const started = performance.now();
  execFileSync(join(prefectVenv(), 'bin/prefect'), ['--no-prompt', 'deploy', '--all'], {
    cwd: project,
    env: { ...process.env, PREFECT_API_URL: apiUrl, PREFECT_HOME: join(project, '.prefect') },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return (performance.now() - started) / 1000;
}

/** The seed's backend, one connector at a time: flow, look-up, create. */
async function naiveSequential(
  apiUrl: string,
  n: number,
): Promise<{ seconds: number; calls: number }> {
  let calls = 0;
  const started = performance.now();
  for (let i = 1; i <= n; i++) {
    const flow = await prefectJson<{ id: string }>(apiUrl, 'POST', '/flows/', { name: FLOW });
    const found = await prefectJson(apiUrl, 'GET', `/deployments/name/${FLOW}/connector-${i}`);
    calls += 3;
    if (found.status !== 404) continue;
    const created = await prefectJson(apiUrl, 'POST', '/deployments/', {
      name: `connector-${i}`,
      flow_id: flow.data.id,
      parameters: { connector_id: i },
      schedules: [{ schedule: { cron: cronOf(i), timezone: 'UTC' }, active: true }],
      tags: ['connector-sync', `connector-${i}`],
      work_pool_name: 'default',
      work_queue_name: 'default',
      entrypoint: ENTRYPOINT,
    });
    if (created.status !== 201) throw new Error(`naive create answered ${created.status}`);
  }
  return { seconds: (performance.now() - started) / 1000, calls };
}

const rows: Record<string, unknown>[] = [];

const deployEnv = await startBenchEnv('peers_deploy', 0);
try {
  const seconds = prefectDeploy(deployEnv.apiUrl, N);
  rows.push({ what: 'prefect deploy --all', wall_s: round(seconds), per_s: round(N / seconds, 1) });
} finally {
  await deployEnv.stop();
}

const naiveEnv = await startBenchEnv('peers_naive', 0);
try {
  const naive = await naiveSequential(naiveEnv.apiUrl, N);
  rows.push({
    what: 'naive sequential client',
    wall_s: round(naive.seconds),
    per_s: round(N / naive.seconds, 1),
    calls: naive.calls,
  });
} finally {
  await naiveEnv.stop();
}

const env = await startBenchEnv('peers', N);
try {
  const run = await runWorkerPass(env);
  if (run.exitCode !== 0 || run.applied !== N)
    throw new Error(`first pass: exit ${run.exitCode}, applied ${run.applied}`);
  rows.push({
    what: 'connector-sync run --once',
    wall_s: run.wallSeconds,
    per_s: round(N / run.wallSeconds, 1),
    calls: run.reads + run.writes,
  });
} finally {
  await env.stop();
}

const ours = rows.at(-1)!.wall_s as number;
report('peers', N, rows, {
  faster_than_prefect_deploy: round((rows[0]!.wall_s as number) / ours, 1),
  faster_than_naive: round((rows[1]!.wall_s as number) / ours, 1),
});
