// What re-creating the runs a PATCH deleted costs (docs/concepts/how-a-pass-works.md,
// "Updates and scheduled runs"): the worst case, every connector on `* * * * *`
// (each update has a run due within the window), one edit of every row, a pass
// with the re-scheduling on (the default) and, on a second edit, off.
//   npm run bench:reschedule -- [N]
import {
  benchConfigFile,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
  type WorkerRun,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);

const env = await startBenchEnv('reschedule', N);
try {
  await env.pool.query(`UPDATE cai_connectors SET schedule = '* * * * *'`);
  const first = await runWorkerPass(env);
  if (first.applied !== N)
    throw new Error(`first pass: exit ${first.exitCode}, applied ${first.applied}`);

  const edit = async (k: number, extra: string): Promise<WorkerRun> => {
    await env.pool.query(
      `UPDATE cai_connectors SET parameters = jsonb_build_object('edit', $1::int)`,
      [k],
    );
    const run = await runWorkerPass(env, { CONNECTOR_SYNC_CONFIG: benchConfigFile(extra) });
    if (run.applied !== N)
      throw new Error(`edit ${k}: exit ${run.exitCode}, applied ${run.applied}`);
    return run;
  };
  const on = await edit(1, '');
  const off = await edit(2, '  rescheduleWithinSeconds: 0\n');
  const row = (what: string, run: WorkerRun) => ({
    what,
    wall_s: run.wallSeconds,
    updates_per_s: round(N / run.wallSeconds, 1),
    reads: run.reads,
    writes: run.writes,
    cpu_s: round(run.cpuSeconds),
    peak_rss_mb: run.peakRssMb,
  });
  report('reschedule', N, [
    row('update every row, runs re-created (rescheduleWithinSeconds: 300)', on),
    row('update every row, not re-created (rescheduleWithinSeconds: 0)', off),
  ]);
} finally {
  await env.stop();
}
