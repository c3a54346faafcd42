// First pass: every connector created. Side by side with the physical limit,
// a bare POST /deployments/ loop at the same concurrency on a fresh server.
//   npm run bench:first-pass -- [N]
import {
  CONCURRENCY,
  lanes,
  prefectJson,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);

/** The same creates, no reads, no bookkeeping: what the server itself allows. */
async function rawCreates(apiUrl: string, n: number): Promise<number> {
  const flow = await prefectJson<{ id: string }>(apiUrl, 'POST', '/flows/', {
    name: 'raw_bench_flow',
  });
  const started = performance.now();
  await lanes(
    Array.from({ length: n }, (_, i) => i + 1),
    CONCURRENCY,
    async (i) => {
      const { status } = await prefectJson(apiUrl, 'POST', '/deployments/', {
        name: `raw-${i}`,
        flow_id: flow.data.id,
        description: `Connector ${i}`,
        parameters: { n: i, connector_id: i },
        schedules: [
          {
            schedule: { cron: `${i % 60} */4 * * *`, timezone: 'UTC', day_or: true },
            active: true,
            slug: 'connector-sync',
            parameters: {},
          },
        ],
        paused: false,
        tags: ['raw-bench', `connector-${i}`],
        work_pool_name: 'default',
        work_queue_name: 'default',
        entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline',
        enforce_parameter_schema: false,
      });
      if (status !== 201) throw new Error(`raw create answered ${status}`);
    },
  );
  return (performance.now() - started) / 1000;
}

const raw = await startBenchEnv('first_raw', 0);
let rawSeconds: number;
try {
  rawSeconds = await rawCreates(raw.apiUrl, N);
} finally {
  await raw.stop();
}

const env = await startBenchEnv('first', N);
try {
  const run = await runWorkerPass(env);
  if (run.exitCode !== 0 || run.applied !== N)
    throw new Error(`first pass: exit ${run.exitCode}, applied ${run.applied}`);
  const ours = N / run.wallSeconds;
  const limit = N / rawSeconds;
  report(
    'first-pass',
    N,
    [
      {
        what: 'raw POST loop (the limit)',
        wall_s: round(rawSeconds),
        creates_per_s: round(limit, 1),
        reads: 0,
        writes: N + 1,
      },
      {
        what: 'connector-sync run --once',
        wall_s: run.wallSeconds,
        creates_per_s: round(ours, 1),
        reads: run.reads,
        writes: run.writes,
        minimum_writes: N + 1,
        cpu_s: round(run.cpuSeconds),
        peak_rss_mb: run.peakRssMb,
      },
    ],
    { throughput_vs_raw: round(ours / limit), by_route: run.byRoute },
  );
} finally {
  await env.stop();
}
