// No-op pass: nothing changed since the last pass. The least a reconciler can
// do is list the managed deployments (⌈N/200⌉ calls) and write nothing; the
// bare listing is timed in the same run for the ratio.
//   npm run bench:noop -- [N]
import {
  listOnly,
  PAGE,
  percentile,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);
const REPEAT = 3;

const env = await startBenchEnv('noop', N);
try {
  const first = await runWorkerPass(env);
  if (first.exitCode !== 0 || first.applied !== N)
    throw new Error(`setup pass: exit ${first.exitCode}, applied ${first.applied}`);
  const passes = [];
  const lists = [];
  for (let i = 0; i < REPEAT; i++) {
    passes.push(await runWorkerPass(env));
    lists.push(await listOnly(env.apiUrl));
  }
  for (const pass of passes)
    if (pass.applied !== 0 || pass.writes !== 0)
      throw new Error('the no-op pass changed something');
  if (lists[0]!.found !== N)
    throw new Error(`the listing found ${lists[0]!.found} managed deployments, not ${N}`);
  const median = (values: number[]): number => percentile(values, 50);
  const minimum = Math.max(1, Math.ceil(N / PAGE));
  const wall = median(passes.map((p) => p.wallSeconds));
  const listing = median(lists.map((l) => l.seconds));
  report(
    'noop',
    N,
    [
      {
        what: 'first pass (setup, for reference)',
        wall_s: first.wallSeconds,
        reads: first.reads,
        writes: first.writes,
        cpu_s: round(first.cpuSeconds),
        peak_rss_mb: first.peakRssMb,
      },
      {
        what: `list managed only (${lists[0]!.calls} calls)`,
        wall_s: round(listing),
        reads: lists[0]!.calls,
        writes: 0,
      },
      {
        what: 'connector-sync run --once (process)',
        wall_s: wall,
        reads: passes[0]!.reads,
        writes: passes[0]!.writes,
        minimum_calls: minimum,
        cpu_s: round(median(passes.map((p) => p.cpuSeconds))),
        peak_rss_mb: Math.max(...passes.map((p) => p.peakRssMb)),
      },
    ],
    {
      repeats: REPEAT,
      calls_vs_minimum: `${passes[0]!.reads + passes[0]!.writes} / ${minimum}`,
      wall_vs_listing: round(wall / listing),
      by_route: passes[0]!.byRoute,
      note: 'wall time of the process includes Node start-up and the Postgres reads; see docs/benchmarks.md',
    },
  );
} finally {
  await env.stop();
}
