// Churn pass: 10% of the rows changed since the last pass — schedule and
// parameter edits, deactivations, deletions and new rows. The least a
// reconciler can do is one write per change (no new flow is needed).
//   npm run bench:churn -- [N]
import { PAGE, report, round, runWorkerPass, startBenchEnv } from './support.ts';

const N = Number(process.argv[2] ?? 1000);
const CHANGED = Math.round(N / 10);

const env = await startBenchEnv('churn', N);
try {
  const first = await runWorkerPass(env);
  if (first.exitCode !== 0 || first.applied !== N)
    throw new Error(`setup pass: exit ${first.exitCode}, applied ${first.applied}`);

  // Every 10th row changes; the kind rotates through the mix below.
  const mix = { schedule: 0.3, parameters: 0.3, deactivate: 0.15, delete: 0.1, insert: 0.15 };
  const count = (share: number): number => Math.round(CHANGED * share);
  const ids = Array.from({ length: N }, (_, i) => i + 1).filter((id) => id % 10 === 0);
  let at = 0;
  const take = (n: number): number[] => ids.slice(at, (at += n));
  const sets = {
    schedule: take(count(mix.schedule)),
    parameters: take(count(mix.parameters)),
    deactivate: take(count(mix.deactivate)),
    delete: take(count(mix.delete)),
  };
  const inserts = CHANGED - Object.values(sets).reduce((sum, set) => sum + set.length, 0);
  await env.pool.query(`UPDATE cai_connectors SET schedule = '7 3 * * *' WHERE id = ANY($1)`, [
    sets.schedule,
  ]);
  await env.pool.query(
    `UPDATE cai_connectors SET parameters = parameters || '{"churned": true}' WHERE id = ANY($1)`,
    [sets.parameters],
  );
  await env.pool.query(`UPDATE cai_connectors SET is_active = false WHERE id = ANY($1)`, [
    sets.deactivate,
  ]);
  await env.pool.query(`DELETE FROM cai_connectors WHERE id = ANY($1)`, [sets.delete]);
  await env.pool.query(
    `INSERT INTO cai_connectors (name, schedule, timezone, parameters)
     SELECT 'New connector ' || g, '15 5 * * *', 'UTC', '{}' FROM generate_series(1, $1) g`,
    [inserts],
  );

  const run = await runWorkerPass(env);
  if (run.exitCode !== 0) throw new Error(`churn pass: exit ${run.exitCode}`);
  const minimumReads = Math.max(1, Math.ceil(N / PAGE));
  report(
    'churn',
    N,
    [
      {
        what: 'connector-sync run --once',
        changes: run.applied,
        expected_changes: CHANGED,
        wall_s: run.wallSeconds,
        reads: run.reads,
        minimum_reads: minimumReads,
        writes: run.writes,
        minimum_writes: CHANGED,
        cpu_s: round(run.cpuSeconds),
        peak_rss_mb: run.peakRssMb,
      },
    ],
    {
      mix: Object.fromEntries([
        ...Object.entries(sets).map(([k, v]) => [k, v.length]),
        ['insert', inserts],
      ]),
      by_route: run.byRoute,
    },
  );
} finally {
  await env.stop();
}
