// The console and its controls at scale (issue 12): N connectors (a real
// first pass against a real Prefect; 1 in 200 rows then made invalid and a
// second pass run) and EVENTS events in the log (the passes' own, plus
// synthetic `updated` events with from/to spread over 100 days and the
// 10,000 connectors, and a pass history of 20 days). Then, against the
// running worker:
//  1. every page and API call the console makes, REQUESTS times each, one at
//     a time from a client: p50 / p95 / max (and each query's plan checked
//     for a sequential scan of the events table);
//  2. `connector-sync sync ID` of one connector against the leading worker,
//     end to end as an operator runs it (a CLI process: start-up, hand-over,
//     the worker's targeted pass, the outcome), with the row changed first
//     (one PATCH) and unchanged (no write); and the hand-over alone (request
//     written → outcome NOTIFY), without the CLI's start-up.
//   npm run bench:console -- [N] [EVENTS]
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { REPO } from '../scripts/prefect-server.ts';
import {
  benchConfigFile,
  type BenchEnv,
  percentile,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
} from './support.ts';

const N = Number(process.argv[2] ?? 10_000);
const EVENTS = Number(process.argv[3] ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const SYNCS = Number(process.env.BENCH_SYNCS ?? 30);
/** No sink: the worker must not start publishing a million synthetic events to Prefect. */
const CONFIG = benchConfigFile('events:\n  publish:\n    prefect: false\n');

interface Worker {
  child: ChildProcess;
  baseUrl: string;
}

function startWorker(env: BenchEnv): Promise<Worker> {
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: env.apiUrl,
      CONNECTOR_SYNC_CONFIG: CONFIG,
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
      LOG_LEVEL: 'info',
      PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let port = 0;
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`worker exited ${code}`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      let log: { msg?: string; port?: number; kind?: string };
      try {
        log = JSON.parse(line) as typeof log;
      } catch {
        return;
      }
      if (log.msg === 'worker started') port = log.port ?? 0;
      // Its start pass over every connector is done: from now on it idles.
      if (log.msg === 'pass finished' && log.kind === 'full')
        resolve({ child, baseUrl: `http://127.0.0.1:${port}` });
    });
  });
}

async function stopWorker(worker: Worker): Promise<void> {
  worker.child.removeAllListeners('exit');
  const exited = new Promise((resolve) => worker.child.on('exit', resolve));
  worker.child.kill('SIGTERM');
  await exited;
}

/** Synthetic history, in batches (triggers off: no NOTIFY per row); what the log holds after years of passes. */
async function fillLog(env: BenchEnv): Promise<void> {
  const started = performance.now();
  const { rows } = await env.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM connector_sync.events',
  );
  const missing = EVENTS - Number(rows[0]!.n);
  const client = await env.pool.connect();
  try {
    await client.query(`SET session_replication_role = replica`);
    for (let from = 0; from < missing; from += 100_000) {
      await client.query(
        `WITH s AS (
           SELECT row_number() OVER (ORDER BY connector_id) - 1 AS k, connector_id, deployment_id, deployment_name
             FROM connector_sync.connector_state WHERE deployment_id IS NOT NULL)
         INSERT INTO connector_sync.events
           (id, occurred, event, action, connector_id, deployment_id, resource, payload, pass_id)
         SELECT gen_random_uuid(),
                now() - interval '101 days' + g * (interval '100 days' / $2::int),
                'prefect.deployment.updated', 'updated', s.connector_id, s.deployment_id,
                jsonb_build_object('prefect.resource.id', 'prefect.deployment.' || s.deployment_id,
                                   'prefect.resource.name', s.deployment_name),
                jsonb_build_object('updates', jsonb_build_object(
                  'schedules', jsonb_build_object(
                    'from', jsonb_build_array(jsonb_build_object('cron', (g % 60) || ' */4 * * *', 'timezone', 'UTC')),
                    'to', jsonb_build_array(jsonb_build_object('cron', ((g + 1) % 60) || ' */4 * * *', 'timezone', 'UTC'))),
                  'version', jsonb_build_object('from', md5(g::text), 'to', md5((g + 1)::text)))),
                gen_random_uuid()
           FROM generate_series($1::int + 1, least($1::int + 100000, $2::int)) g
           JOIN s ON s.k = g % (SELECT count(*) FROM s)`,
        [from, missing],
      );
    }
    // 20 days of passes, one a minute: the chart's and /api/passes' table.
    await client.query(
      `INSERT INTO connector_sync.passes
         (id, started_at, finished_at, kind, result, changes, problems, events, calls, duration_ms)
       SELECT gen_random_uuid(), now() - g * interval '1 minute' - interval '1 day',
              now() - g * interval '1 minute' - interval '1 day' + interval '6 seconds',
              CASE WHEN g % 10 = 0 THEN 'full' ELSE 'targeted' END,
              CASE WHEN g % 97 = 0 THEN 'error' ELSE 'ok' END,
              '{"update": 1}', 0, 1, '{"reads": 3, "writes": 1}', 6000
         FROM generate_series(1, 28800) g`,
    );
    await client.query(`SET session_replication_role = origin`);
    await client.query('ANALYZE connector_sync.events');
    await client.query('ANALYZE connector_sync.passes');
  } finally {
    client.release();
  }
  console.log(
    `log filled: ${missing} synthetic events, 28,800 passes, ${round((performance.now() - started) / 1000, 1)} s`,
  );
}

/** One GET, timed to the end of its body (a stream: to its headers). */
async function timedGet(url: string, stream = false): Promise<number> {
  const controller = new AbortController();
  const started = performance.now();
  const response = await fetch(url, { signal: controller.signal });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  if (stream) controller.abort();
  else await response.arrayBuffer();
  return performance.now() - started;
}

async function samples(work: (i: number) => Promise<number>, n: number): Promise<number[]> {
  for (let i = 0; i < 5; i++) await work(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await work(i));
  return out;
}

const stats = (ms: number[]) => ({
  p50_ms: round(percentile(ms, 50), 1),
  p95_ms: round(percentile(ms, 95), 1),
  max_ms: round(Math.max(...ms), 1),
});

/** The console's calls: the page, its files, and the API as the page uses it. */
async function consoleCalls(env: BenchEnv, base: string): Promise<Record<string, unknown>[]> {
  const ids = (
    await env.pool.query<{ connector_id: string }>(
      'SELECT connector_id FROM connector_sync.connector_state ORDER BY connector_id',
    )
  ).rows.map((r) => r.connector_id);
  const pick = (i: number) => ids[(i * 7919) % ids.length]!;
  const middle = ids[Math.floor(ids.length / 2)]!;
  // The fleet's order: numeric ids numerically (the page's cursor is the last id of a page).
  const numeric = [...ids].sort((a, b) => Number(a) - Number(b));
  const last = numeric[numeric.length - 51]!;
  const deep = (
    await env.pool.query<{ id: string }>(
      `SELECT id::text FROM connector_sync.events ORDER BY seq OFFSET $1 LIMIT 1`,
      [Math.floor(EVENTS * 0.9)],
    )
  ).rows[0]!.id;
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const calls: [string, (i: number) => string, boolean?][] = [
    ['GET / (the page)', () => '/'],
    ['GET /app.js', () => '/app.js'],
    ['GET /format.js', () => '/format.js'],
    ['GET /app.css', () => '/app.css'],
    ['/api/overview', () => '/api/overview'],
    ['/api/connectors (first page of 50)', () => '/api/connectors?limit=50'],
    ['/api/connectors (a page in the middle)', () => `/api/connectors?limit=50&after=${middle}`],
    ['/api/connectors (deleted shown)', () => '/api/connectors?limit=50&deleted=true'],
    ['/api/connectors (the last page)', () => `/api/connectors?limit=50&after=${last}`],
    ['/api/connectors?status=invalid', () => '/api/connectors?limit=50&status=invalid'],
    ['/api/connectors?q= (one match)', (i) => `/api/connectors?limit=50&q=connector-${pick(i)}`],
    ['/api/connectors?q= (no match: reads all)', () => '/api/connectors?limit=50&q=zzz'],
    ['/api/connectors/<id> (state + desired vs actual)', (i) => `/api/connectors/${pick(i)}`],
    ['/api/events?connector= (a history)', (i) => `/api/events?limit=200&connector=${pick(i)}`],
    ['/api/events (oldest page)', () => '/api/events?limit=100'],
    ['/api/events?after= (90% deep)', () => `/api/events?limit=100&after=${deep}`],
    ['/api/events?action=failed', () => '/api/events?limit=100&action=failed'],
    ['/api/events?since= (last hour)', () => `/api/events?limit=100&since=${hourAgo}`],
    ['/api/passes (the chart: 60)', () => '/api/passes?limit=60'],
    ['/api/releases (the ledger and the release in progress)', () => '/api/releases'],
    ['/api/events/stream (to its headers)', () => '/api/events/stream', true],
    ['/metrics', () => '/metrics'],
  ];
  const rows: Record<string, unknown>[] = [];
  for (const [call, path, stream] of calls) {
    const ms = await samples((i) => timedGet(`${base}${path(i)}`, stream), REQUESTS);
    rows.push({ call, ...stats(ms) });
  }
  return rows;
}

/** `sync ID` as an operator runs it: a CLI process, start to exit. */
function syncCli(env: BenchEnv, id: string): Promise<{ ms: number; code: number; out: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'sync', id], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: env.apiUrl,
      CONNECTOR_SYNC_CONFIG: CONFIG,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ ms: performance.now() - started, code: code ?? -1, out })),
  );
}

async function syncs(env: BenchEnv): Promise<Record<string, unknown>[]> {
  const ids = (
    await env.pool.query<{ id: string }>(
      `SELECT id::text FROM cai_connectors WHERE id % 200 <> 0 ORDER BY id LIMIT $1`,
      [SYNCS],
    )
  ).rows.map((r) => r.id);
  const changed: number[] = [];
  const unchanged: number[] = [];
  for (const [i, id] of ids.entries()) {
    await env.pool.query(`UPDATE cai_connectors SET schedule = $1 WHERE id = $2`, [
      `${i % 60} 3 * * *`,
      id,
    ]);
    const update = await syncCli(env, id);
    if (update.code !== 0 || !/^~ update/m.test(update.out))
      throw new Error(`sync ${id} (changed) exited ${update.code}:\n${update.out}`);
    changed.push(update.ms);
    const noop = await syncCli(env, id);
    if (noop.code !== 0 || /^~ update/m.test(noop.out))
      throw new Error(`sync ${id} (unchanged) exited ${noop.code}:\n${noop.out}`);
    unchanged.push(noop.ms);
  }
  const handOver = await handOvers(env, ids);
  return [
    { call: 'sync ID, row changed (CLI process, one PATCH)', ...stats(changed) },
    { call: 'sync ID, row unchanged (CLI process, no write)', ...stats(unchanged) },
    { call: 'hand-over alone: request written → outcome NOTIFY', ...stats(handOver) },
  ];
}

/** The request/outcome round trip through the leader, without the CLI's start-up. */
async function handOvers(env: BenchEnv, ids: string[]): Promise<number[]> {
  const listener = new pg.Client({ connectionString: env.databaseUrl });
  await listener.connect();
  await listener.query('LISTEN connector_sync_synced');
  const out: number[] = [];
  try {
    for (const id of ids) {
      const started = performance.now();
      const served = new Promise<void>((resolve) => {
        const onNote = (): void => {
          listener.off('notification', onNote);
          resolve();
        };
        listener.on('notification', onNote);
      });
      await env.pool.query(
        `WITH r AS (INSERT INTO connector_sync.sync_requests (connector_ids, requested_by)
                    VALUES (ARRAY[$1], 'bench') RETURNING id::text)
         SELECT pg_notify('connector_sync_sync', id) FROM r`,
        [id],
      );
      await served;
      out.push(performance.now() - started);
    }
  } finally {
    await listener.end();
  }
  return out;
}

/** Any call whose plan reads the whole events table: none should. */
async function seqScans(env: BenchEnv): Promise<string[]> {
  const { rows } = await env.pool.query<{ id: string }>(
    `SELECT id::text FROM connector_sync.events ORDER BY seq DESC LIMIT 1`,
  );
  const queries: [string, unknown[]][] = [
    [`SELECT * FROM connector_sync.events WHERE connector_id = $1 ORDER BY seq LIMIT 200`, ['42']],
    [`SELECT * FROM connector_sync.events WHERE action = $1 ORDER BY seq LIMIT 100`, ['failed']],
    [
      `SELECT * FROM connector_sync.events WHERE occurred >= $1 ORDER BY seq LIMIT 100`,
      [new Date(Date.now() - 3_600_000)],
    ],
    [
      `SELECT * FROM connector_sync.events WHERE seq > (SELECT seq FROM connector_sync.events WHERE id = $1) ORDER BY seq LIMIT 100`,
      [rows[0]!.id],
    ],
  ];
  const found: string[] = [];
  for (const [sql, params] of queries) {
    const plan = await env.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    if (/Seq Scan on events/.test(text)) found.push(`${sql}\n${text}`);
  }
  return found;
}

// BENCH_ENV_NAME: another name for the bench's databases, beside another run of it.
const env = await startBenchEnv(process.env.BENCH_ENV_NAME ?? 'console', N);
try {
  const first = await runWorkerPass(env, { CONNECTOR_SYNC_CONFIG: CONFIG });
  console.log(`first pass: ${first.applied} created in ${first.wallSeconds} s`);
  await env.pool.query(`UPDATE cai_connectors SET schedule = 'every day' WHERE id % 200 = 0`);
  const second = await runWorkerPass(env, { CONNECTOR_SYNC_CONFIG: CONFIG });
  console.log(`second pass (1 in 200 rows invalid): exit ${second.exitCode}`);
  await fillLog(env);
  const plans = await seqScans(env);
  const worker = await startWorker(env);
  try {
    const rows = [...(await consoleCalls(env, worker.baseUrl)), ...(await syncs(env))];
    report('console', N, rows, {
      events: EVENTS,
      requestsEach: REQUESTS,
      syncs: SYNCS,
      eventsSeqScans: plans.length === 0 ? 'none' : plans,
    });
  } finally {
    await stopWorker(worker);
  }
} finally {
  await env.stop();
}
