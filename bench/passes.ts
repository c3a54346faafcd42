// First pass and no-op pass over N connectors against a real Prefect server
// (started here, backed by the local Postgres) and the real Postgres.
//   node bench/passes.ts [N] [concurrency]      (after `npm run build`)
// Prints a table and writes bench/results/passes-<N>.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../dist/config/load.js';
import { migrate } from '../dist/db/migrate.js';
import { runPass } from '../dist/reconcile/pass.js';
import { createRuntime } from '../dist/runtime.js';
import {
  ensureDatabase,
  ensureWorkPool,
  REPO,
  startPrefectServer,
} from '../scripts/prefect-server.ts';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 8);
const DB = `cs_bench_${N}`;
const PG = 'postgres://postgres@127.0.0.1:5432';

function psql(database: string, sql: string): void {
  execFileSync('psql', [
    '-qh',
    '127.0.0.1',
    '-U',
    'postgres',
    '-d',
    database,
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    sql,
  ]);
}

async function main(): Promise<void> {
  psql('postgres', `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  psql('postgres', `DROP DATABASE IF EXISTS cs_bench_prefect WITH (FORCE)`);
  ensureDatabase(DB);
  // Prefect's default scheduler loop (60 s), as in production.
  const server = await startPrefectServer({
    database: 'cs_bench_prefect',
    env: { PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: '60' },
  });
  try {
    await ensureWorkPool(server.apiUrl, 'default');
    const pool = new pg.Pool({ connectionString: `${PG}/${DB}` });
    await pool.query(
      (await import('node:fs')).readFileSync(
        join(REPO, 'sql/reference/cai_connectors.sql'),
        'utf8',
      ),
    );
    await pool.query(
      `INSERT INTO cai_connectors (name, schedule, timezone, parameters)
       SELECT 'Connector ' || g, (g % 60) || ' */4 * * *', 'UTC', jsonb_build_object('n', g) FROM generate_series(1, $1) g`,
      [N],
    );
    const loaded = loadConfig({
      env: { DATABASE_URL: `${PG}/${DB}`, PREFECT_API_URL: server.apiUrl },
      overrides: { 'reconcile.concurrency': CONCURRENCY },
    });
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    await migrate(pool, loaded.config.database.schema);
    const rows: Record<string, unknown>[] = [];
    for (const name of ['first pass', 'no-op pass']) {
      const rt = createRuntime(loaded.config, pino({ level: 'warn' }));
      const cpu = process.cpuUsage();
      const started = performance.now();
      const result = await runPass(rt, { dryRun: false, allowMassDelete: false });
      const wall = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      await rt.close();
      rows.push({
        pass: name,
        N,
        concurrency: CONCURRENCY,
        wall_s: Number(wall.toFixed(2)),
        changes: result.applied.length,
        reads: result.calls.reads,
        writes: result.calls.writes,
        per_s: Number((result.applied.length / wall).toFixed(1)),
        cpu_s: Number(((used.user + used.system) / 1e6).toFixed(2)),
        peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
        problems: result.plan.problems.length + result.failures.length,
      });
    }
    rows.push(await rawCreates(server.apiUrl, N, CONCURRENCY));
    await pool.end();
    console.table(rows);
    mkdirSync(join(REPO, 'bench/results'), { recursive: true });
    writeFileSync(
      join(REPO, `bench/results/passes-${N}.json`),
      `${JSON.stringify({ when: new Date().toISOString(), rows }, null, 2)}\n`,
    );
  } finally {
    await server.stop();
  }
}

/** The physical limit: the same creates as a bare HTTP loop, same concurrency, no bookkeeping. */
async function rawCreates(
  apiUrl: string,
  n: number,
  concurrency: number,
): Promise<Record<string, unknown>> {
  const post = async (
    path: string,
    body: unknown,
  ): Promise<{ status: number; data: { id: string } }> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, data: (await response.json()) as { id: string } };
  };
  const flow = await post('/flows/', { name: 'raw_bench_flow' });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const response = await post('/deployments/', {
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
        if (response.status !== 201) throw new Error(`raw create answered ${response.status}`);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  return {
    pass: 'raw POST loop',
    N: n,
    concurrency,
    wall_s: Number(wall.toFixed(2)),
    changes: n,
    reads: 0,
    writes: n + 1,
    per_s: Number((n / wall).toFixed(1)),
  };
}

await main();
