// Shared pieces of the benchmarks: a real Prefect server (backed by the local
// Postgres), a source database with N generated connectors, the worker run as
// its own process (so its CPU seconds and peak RSS are its own), and result
// files. Every scenario script is `node bench/<scenario>.ts [N]` after a build.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  ensureDatabase,
  ensureWorkPool,
  REPO,
  startPrefectServer,
  type PrefectServer,
} from '../scripts/prefect-server.ts';

export const PG = 'postgres://postgres@127.0.0.1:5432';
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** Prefect's page size: the least number of list calls is ⌈N / 200⌉. */
export const PAGE = 200;

export function psql(database: string, sql: string): void {
  execFileSync(
    'psql',
    ['-qh', '127.0.0.1', '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' } },
  );
}

export interface BenchEnv {
  server: PrefectServer;
  apiUrl: string;
  databaseUrl: string;
  pool: pg.Pool;
  stop(): Promise<void>;
}

/**
 * A fresh Prefect database and a fresh source database holding N connectors.
 * Prefect runs its scheduler every 60 s, as in production, so it does not
 * compete with the pass being measured any more than it would there.
 */
export async function startBenchEnv(name: string, n: number): Promise<BenchEnv> {
  const sourceDb = `cs_bench_${name}`;
  const prefectDb = `cs_bench_${name}_prefect`;
  psql('postgres', `DROP DATABASE IF EXISTS ${sourceDb} WITH (FORCE)`);
  psql('postgres', `DROP DATABASE IF EXISTS ${prefectDb} WITH (FORCE)`);
  ensureDatabase(sourceDb);
  const server = await startPrefectServer({
    database: prefectDb,
    env: { PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: '60' },
  });
  await ensureWorkPool(server.apiUrl, 'default');
  const databaseUrl = `${PG}/${sourceDb}`;
  const pool = new pg.Pool({ connectionString: databaseUrl });
  await pool.query(readFileSync(join(REPO, 'sql/reference/cai_connectors.sql'), 'utf8'));
  await pool.query(
    `INSERT INTO cai_connectors (name, schedule, timezone, parameters)
     SELECT 'Connector ' || g, (g % 60) || ' */4 * * *', 'UTC', jsonb_build_object('n', g)
       FROM generate_series(1, $1) g`,
    [n],
  );
  // `run` never creates the worker's schema: `migrate` does, once, before any pass.
  execFileSync(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'migrate'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PREFECT_API_URL: server.apiUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    server,
    apiUrl: server.apiUrl,
    databaseUrl,
    pool,
    async stop() {
      await pool.end();
      await server.stop();
    },
  };
}

export interface WorkerRun {
  exitCode: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  reads: number;
  writes: number;
  applied: number;
  byRoute: Record<string, number>;
}

/**
 * The Node flags the image runs the worker with (the Dockerfile's NODE_OPTIONS),
 * so the figures are those of what ships. BENCH_NODE_OPTIONS overrides
 * (BENCH_NODE_OPTIONS= for Node's defaults).
 */
export const NODE_OPTIONS =
  process.env.BENCH_NODE_OPTIONS ??
  /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(readFileSync(join(REPO, 'Dockerfile'), 'utf8'))?.[1] ??
  '';

/** A config file that is the defaults plus the benchmark's concurrency. */
export function benchConfigFile(extra = ''): string {
  // One file per content: a scenario's own config is not overwritten by the default one.
  const file = join(
    tmpdir(),
    `cs-bench-config-${process.pid}-${createHash('sha256').update(extra).digest('hex').slice(0, 8)}.yaml`,
  );
  writeFileSync(file, `reconcile:\n  concurrency: ${CONCURRENCY}\n${extra}`);
  return file;
}

/** One `connector-sync run --once --json` as its own process, measured by GNU time. */
export async function runWorkerPass(
  env: BenchEnv,
  extraEnv: Record<string, string> = {},
): Promise<WorkerRun> {
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      'BENCH_TIME %e %U %S %M',
      process.execPath,
      join(REPO, 'dist/cli/bin.js'),
      'run',
      '--once',
      '--json',
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        PREFECT_API_URL: env.apiUrl,
        LOG_LEVEL: 'warn',
        CONNECTOR_SYNC_CONFIG: benchConfigFile(),
        NODE_OPTIONS,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number>((resolve) =>
    child.on('exit', (code) => resolve(code ?? -1)),
  );
  const timing = /BENCH_TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!timing)
    throw new Error(`no timing from the worker (exit ${exitCode}):\n${stderr.slice(-2000)}`);
  let summary: {
    applied?: number;
    prefect_calls?: { reads: number; writes: number; byRoute: Record<string, number> };
  };
  try {
    summary = JSON.parse(stdout) as typeof summary;
  } catch {
    throw new Error(
      `the worker printed no JSON summary (exit ${exitCode}):\n${stderr.slice(-2000)}`,
    );
  }
  return {
    exitCode,
    wallSeconds: Number(timing[1]),
    cpuSeconds: Number(timing[2]) + Number(timing[3]),
    peakRssMb: Math.round(Number(timing[4]) / 1024),
    reads: summary.prefect_calls?.reads ?? 0,
    writes: summary.prefect_calls?.writes ?? 0,
    applied: summary.applied ?? 0,
    byRoute: summary.prefect_calls?.byRoute ?? {},
  };
}

/** Runs `work` over `items` with `concurrency` lanes; a bare loop, no bookkeeping. */
export async function lanes<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export async function prefectJson<T>(
  apiUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; data: T }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, data: (text ? JSON.parse(text) : null) as T };
}

/** The least a reconciler can read: every managed deployment (the default managed tag), page by page, and nothing else. */
export async function listOnly(
  apiUrl: string,
  tag = 'managed-by:connector-sync',
): Promise<{ seconds: number; calls: number; found: number }> {
  const started = performance.now();
  let calls = 0;
  let found = 0;
  for (let page = 1; ; page++) {
    calls++;
    const { status, data } = await prefectJson<{ results: unknown[]; pages: number }>(
      apiUrl,
      'POST',
      '/deployments/paginate',
      {
        page,
        limit: PAGE,
        deployments: { tags: { all_: [tag] } },
        sort: 'NAME_ASC',
      },
    );
    if (status !== 200) throw new Error(`paginate answered ${status}`);
    found += data.results.length;
    if (page >= data.pages) break;
  }
  return { seconds: (performance.now() - started) / 1000, calls, found };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Prints the table and writes bench/results/<scenario>-<N>.json with the machine it ran on. */
export function report(
  scenario: string,
  n: number,
  rows: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): void {
  console.log(
    `\n${scenario}, N = ${n}, concurrency ${CONCURRENCY}, NODE_OPTIONS=${JSON.stringify(NODE_OPTIONS)}`,
  );
  console.table(rows);
  for (const [key, value] of Object.entries(extra)) console.log(`${key}: ${JSON.stringify(value)}`);
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  const file = join(REPO, `bench/results/${scenario}-${n}.json`);
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
  };
  writeFileSync(
    file,
    `${JSON.stringify({ scenario, n, concurrency: CONCURRENCY, nodeOptions: NODE_OPTIONS, when: new Date().toISOString(), machine, rows, ...extra }, null, 2)}\n`,
  );
  console.log(`results: ${file}`);
}
