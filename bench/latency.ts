// Single-change latency: a row update until Prefect shows it, with the NOTIFY
// trigger installed (targeted pass) and with schedule-only polling (a full
// pass on the default schedule, every minute). p50/p95 over CHANGES changes each.
//   npm run bench:latency -- [N]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from '../scripts/prefect-server.ts';
import {
  benchConfigFile,
  type BenchEnv,
  percentile,
  prefectJson,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 50);

interface Daemon {
  child: ChildProcess;
  passes: number;
}

function startDaemon(env: BenchEnv, schedule: string): Promise<Daemon> {
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: env.apiUrl,
      CONNECTOR_SYNC_CONFIG: benchConfigFile(),
      CONNECTOR_SYNC_SCHEDULE: schedule,
      LOG_LEVEL: 'info',
      PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const daemon: Daemon = { child, passes: 0 };
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`worker exited ${code}`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      try {
        if ((JSON.parse(line) as { msg?: string }).msg === 'pass finished' && ++daemon.passes === 1)
          resolve(daemon);
      } catch {
        /* not a log line */
      }
    });
  });
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  daemon.child.removeAllListeners('exit');
  const exited = new Promise((resolve) => daemon.child.on('exit', resolve));
  daemon.child.kill('SIGTERM');
  await exited;
}

/** Milliseconds from the row's commit until Prefect's deployment has the new cron. */
async function oneChange(
  env: BenchEnv,
  connectorId: number,
  deploymentId: string,
  i: number,
): Promise<number> {
  const cron = `${i % 60} ${Math.floor(i / 60) % 24} * * ${1 + (i % 5)}`;
  await env.pool.query(
    `UPDATE cai_connectors SET schedule = $1, updated_at = now() WHERE id = $2`,
    [cron, connectorId],
  );
  const committed = performance.now();
  for (;;) {
    const { data } = await prefectJson<{ schedules: { schedule: { cron?: string } }[] }>(
      env.apiUrl,
      'GET',
      `/deployments/${deploymentId}`,
    );
    if (data.schedules[0]?.schedule.cron === cron) return performance.now() - committed;
    if (performance.now() - committed > 120_000)
      throw new Error(`change ${i} never reached Prefect`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function measure(
  env: BenchEnv,
  mode: 'trigger' | 'polling',
  offset: number,
): Promise<number[]> {
  const deployments = (
    await env.pool.query<{ id: string; deployment: string }>(
      `SELECT id::text, prefect_deployment_id::text AS deployment FROM cai_connectors WHERE prefect_deployment_id IS NOT NULL ORDER BY id LIMIT $1`,
      [CHANGES],
    )
  ).rows;
  const daemon = await startDaemon(env, mode === 'polling' ? '* * * * *' : '0 0 1 1 *');
  try {
    if (mode === 'trigger') {
      // One change at a time, apart: what a user editing a connector sees.
      const out: number[] = [];
      for (const [i, row] of deployments.entries()) {
        out.push(await oneChange(env, Number(row.id), row.deployment, offset + i));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      return out;
    }
    // Polling: changes land at random phases of the schedule, overlapping.
    return await Promise.all(
      deployments.map(async (row, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 1_300));
        return oneChange(env, Number(row.id), row.deployment, offset + i);
      }),
    );
  } finally {
    await stopDaemon(daemon);
  }
}

const env = await startBenchEnv('latency', N);
try {
  const first = await runWorkerPass(env);
  if (first.exitCode !== 0) throw new Error(`setup pass: exit ${first.exitCode}`);
  const polling = await measure(env, 'polling', 0);
  await env.pool.query(readFileSync(join(REPO, 'sql/optional/wakeup_trigger.sql'), 'utf8'));
  const trigger = await measure(env, 'trigger', 500);
  const row = (what: string, values: number[]): Record<string, unknown> => ({
    what,
    changes: values.length,
    p50_ms: round(percentile(values, 50), 0),
    p95_ms: round(percentile(values, 95), 0),
    max_ms: round(Math.max(...values), 0),
  });
  report('latency', N, [
    row('NOTIFY trigger (targeted pass)', trigger),
    row('schedule only (default, every minute)', polling),
  ]);
} finally {
  await env.stop();
}
