// Publishing the event log to Prefect's event stream (issue 11):
//  1. a burst of N publishable events (every connector turned invalid in one
//     pass: N `failed` events naming their deployments) delivered by the real
//     sink code (flushSinks with the real PrefectSink, what `run --once` runs
//     after its pass), against a raw sequential loop of POST /api/events of the
//     same bodies with fresh ids — one event per call, and 50 per call (the
//     sink's batch) — on the same Prefect; every copy counted in Prefect;
//  2. a pass's own Prefect calls with publishing on and off (a no-op pass and
//     the burst pass), told apart from the publisher's by user agent at a proxy;
//  3. a worker whose Prefect went away while N events waited: the time from
//     Prefect's return until connector_sync_publish_backlog_events is 0.
//   npm run bench:publish -- [N]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { REPO } from '../scripts/prefect-server.ts';
import { parsePrometheus } from '../test/harness/prometheus.ts';
import { startProxy, type FaultProxy } from '../test/harness/proxy.ts';
import type * as ConfigModule from '../src/config/load.ts';
import type * as LoggerModule from '../src/logger.ts';
import type * as PublisherModule from '../src/publish/publisher.ts';
import type * as RuntimeModule from '../src/runtime.ts';
import type * as SinksModule from '../src/publish/sinks.ts';
import {
  benchConfigFile,
  type BenchEnv,
  percentile,
  prefectJson,
  report,
  round,
  runWorkerPass,
  startBenchEnv,
  type WorkerRun,
} from './support.ts';

const N = Number(process.argv[2] ?? 1000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
/** The sink's events per POST /events (src/publish/prefect-sink.ts). */
const SINK_BATCH = 50;
/** How long Prefect is gone in the outage scenario: long enough for the publisher's backoff to reach its 5 s cap. */
const OUTAGE_MS = 15_000;

// The worker's own modules, as built (dist/), typed by their sources.
const dist = (path: string): string => pathToFileURL(join(REPO, 'dist', path)).href;
const { loadConfig } = (await import(dist('config/load.js'))) as typeof ConfigModule;
const { createLogger } = (await import(dist('logger.js'))) as typeof LoggerModule;
const { flushSinks } = (await import(dist('publish/publisher.js'))) as typeof PublisherModule;
const { createRuntime } = (await import(dist('runtime.js'))) as typeof RuntimeModule;
const { publisherDepsOf, sinksOf } = (await import(dist('publish/sinks.js'))) as typeof SinksModule;

const median = (values: number[]): number => percentile(values, 50);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const configs = {
  /** Publishing as shipped: `run --once` delivers for up to 10 s after its pass. */
  on: benchConfigFile(),
  off: benchConfigFile('events:\n  publish:\n    prefect: false\n'),
  /** Publishing on, but `run --once` leaves its events in the log (for the publisher under test). */
  deferred: benchConfigFile('events:\n  publish:\n    flushSeconds: 0\n'),
};

/** Every connector invalid (a cron that cannot parse, its own text each), or all valid again. */
async function setValid(env: BenchEnv, valid: boolean): Promise<void> {
  await env.pool.query(
    valid
      ? `UPDATE cai_connectors SET schedule = (id % 60) || ' */4 * * *', updated_at = now()`
      : `UPDATE cai_connectors SET schedule = 'not a cron ' || id, updated_at = now()`,
  );
}

async function pass(env: BenchEnv, config: string, apiUrl = env.apiUrl): Promise<WorkerRun> {
  const run = await runWorkerPass(env, { CONNECTOR_SYNC_CONFIG: config, PREFECT_API_URL: apiUrl });
  // 0: all applied; 1: some connectors failed (the invalid ones).
  if (run.exitCode !== 0 && run.exitCode !== 1) throw new Error(`pass exited ${run.exitCode}`);
  return run;
}

interface Backlog {
  events: number;
  ids: string[];
}

/** What the Prefect sink has still to deliver: every event after its cursor, and the ids of those it posts. */
async function backlog(env: BenchEnv): Promise<Backlog> {
  const { rows } = await env.pool.query<{ id: string; posted: boolean }>(
    `SELECT id::text, (action IN ('failed', 'recovered', 'held', 'pass-failed', 'pass-aborted')
                       OR (action = 'updated' AND payload ? 'drift')) AS posted
       FROM connector_sync.events
      WHERE seq > coalesce((SELECT seq FROM connector_sync.sink_cursors WHERE sink = 'prefect'), 0)
      ORDER BY seq`,
  );
  return { events: rows.length, ids: rows.filter((r) => r.posted).map((r) => r.id) };
}

/** Calls and seconds by route, as the sink's HTTP client observed them. */
type Routes = Record<string, { calls: number; seconds: number }>;

/**
 * The sink code as `run --once` runs it after a pass, in this process:
 * seconds until the log is delivered, and the sink's calls by route.
 */
async function sinkFlush(env: BenchEnv): Promise<{ seconds: number; routes: Routes }> {
  const loaded = loadConfig({
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: env.apiUrl,
      CONNECTOR_SYNC_CONFIG: configs.on,
      LOG_LEVEL: 'warn',
    },
  });
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const { config } = loaded;
  const logger = createLogger({ level: 'warn', format: 'json', secrets: [] });
  const rt = createRuntime(config, logger);
  const routes: Routes = {};
  const sinks = sinksOf(config, logger, rt.prefect.http, ({ method, route, seconds }) => {
    const entry = (routes[`${method} ${route}`] ??= { calls: 0, seconds: 0 });
    entry.calls++;
    entry.seconds += seconds;
  });
  try {
    const deps = publisherDepsOf(config, rt.pool, sinks, logger, null);
    const started = performance.now();
    const outcome = await flushSinks(deps, 120_000);
    const seconds = (performance.now() - started) / 1000;
    if (outcome === 'another process publishes') throw new Error('another process publishes');
    if (outcome.some((s) => s.left > 0)) throw new Error(`left: ${JSON.stringify(outcome)}`);
    return { seconds, routes };
  } finally {
    await Promise.all(sinks.map((s) => s.close()));
    await rt.close();
  }
}

/** Prefect's stored copies among `ids` (it persists events a moment after answering). */
async function storedCount(env: BenchEnv, ids: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < ids.length; i += 200) {
    const { status, data } = await prefectJson<{ total: number }>(
      env.apiUrl,
      'POST',
      '/events/filter',
      {
        filter: {
          id: { id: ids.slice(i, i + 200) },
          occurred: { since: new Date(Date.now() - 86_400_000).toISOString() },
        },
        limit: 1,
      },
    );
    if (status !== 200) throw new Error(`events/filter answered ${status}`);
    total += data.total;
  }
  return total;
}

/** Polls Prefect until all of `ids` are stored; the seconds that took after the posts. */
async function allStored(env: BenchEnv, ids: string[]): Promise<number> {
  const started = performance.now();
  for (;;) {
    const found = await storedCount(env, ids);
    if (found === ids.length) return (performance.now() - started) / 1000;
    if (performance.now() - started > 60_000)
      throw new Error(`Prefect stored ${found} of ${ids.length} events`);
    await sleep(250);
  }
}

/** The events as Prefect stored them, as they were posted (its own `received` dropped). */
async function storedBodies(env: BenchEnv, ids: string[]): Promise<Record<string, unknown>[]> {
  const bodies: Record<string, unknown>[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    const { data } = await prefectJson<{ events: Record<string, unknown>[] }>(
      env.apiUrl,
      'POST',
      '/events/filter',
      {
        filter: {
          id: { id: ids.slice(i, i + 50) },
          occurred: { since: new Date(Date.now() - 86_400_000).toISOString() },
        },
        limit: 50,
      },
    );
    for (const event of data.events) {
      delete event.received;
      bodies.push(event);
    }
  }
  if (bodies.length !== ids.length) throw new Error(`read back ${bodies.length} of ${ids.length}`);
  return bodies;
}

/** A bare sequential loop of POST /events, `perCall` events each, fresh ids: seconds, and the ids. */
async function rawLoop(
  env: BenchEnv,
  bodies: Record<string, unknown>[],
  perCall: number,
): Promise<{ seconds: number; ids: string[] }> {
  const fresh = bodies.map((b) => ({ ...b, id: randomUUID() }));
  const started = performance.now();
  for (let i = 0; i < fresh.length; i += perCall) {
    const { status } = await prefectJson(
      env.apiUrl,
      'POST',
      '/events',
      fresh.slice(i, i + perCall),
    );
    if (status !== 204) throw new Error(`raw POST /events answered ${status}`);
  }
  return { seconds: (performance.now() - started) / 1000, ids: fresh.map((e) => e.id as string) };
}

interface Burst {
  events: number;
  sinkSeconds: number;
  sinkRoutes: Routes;
  sinkStoredSeconds: number;
  rawSeconds: number;
  rawBatchedSeconds: number;
  withPool: number;
}

/** One burst: every connector invalid in one pass, its events published by the sink, then the raw loops. */
async function burst(env: BenchEnv): Promise<Burst> {
  await setValid(env, false);
  await pass(env, configs.deferred);
  const { events, ids } = await backlog(env);
  if (ids.length !== N) throw new Error(`the pass left ${ids.length} events to post, not ${N}`);
  const { seconds: sinkSeconds, routes: sinkRoutes } = await sinkFlush(env);
  const sinkStoredSeconds = await allStored(env, ids);
  const bodies = await storedBodies(env, ids);
  const withPool = bodies.filter((b) =>
    (b.related as Record<string, string>[]).some((r) => r['prefect.resource.role'] === 'work-pool'),
  ).length;
  const single = await rawLoop(env, bodies, 1);
  await allStored(env, single.ids);
  const batched = await rawLoop(env, bodies, SINK_BATCH);
  await allStored(env, batched.ids);
  // Back to valid: N `recovered` events, published by that run --once itself.
  await setValid(env, true);
  await pass(env, configs.on);
  if ((await backlog(env)).events !== 0) throw new Error('the recovery run left a backlog');
  return {
    events,
    sinkSeconds,
    sinkRoutes,
    sinkStoredSeconds,
    rawSeconds: single.seconds,
    rawBatchedSeconds: batched.seconds,
    withPool,
  };
}

interface CallCount {
  pass: number;
  passJson: number;
  publisher: number;
  publisherEvents: number;
}

/** One `run --once` through the proxy: the calls made with the pass's user agent and the publisher's. */
async function countedPass(env: BenchEnv, proxy: FaultProxy, config: string): Promise<CallCount> {
  proxy.log.length = 0;
  const run = await pass(env, config, proxy.url);
  const publisher = proxy.log.filter((r) => r.userAgent === 'connector-sync (publisher)');
  return {
    pass: proxy.log.filter((r) => r.userAgent === 'connector-sync').length,
    passJson: run.reads + run.writes,
    publisher: publisher.length,
    publisherEvents: publisher.filter((r) => r.path === '/events').length,
  };
}

/** A no-op pass, and the pass that turns every connector invalid, with publishing off and on. */
async function passCalls(env: BenchEnv): Promise<Record<string, CallCount>> {
  const proxy = await startProxy(env.apiUrl, []);
  try {
    const noopOff = await countedPass(env, proxy, configs.off);
    const noopOn = await countedPass(env, proxy, configs.on);
    await setValid(env, false);
    const burstOff = await countedPass(env, proxy, configs.off);
    await setValid(env, true);
    await pass(env, configs.off);
    await sinkFlush(env); // the two passes' events, so the next starts from an empty backlog
    await setValid(env, false);
    const burstOn = await countedPass(env, proxy, configs.on);
    await setValid(env, true);
    await pass(env, configs.on);
    return { noopOff, noopOn, burstOff, burstOn };
  } finally {
    await proxy.close();
  }
}

interface Daemon {
  child: ChildProcess;
  metricsUrl: string;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** `connector-sync run` (schedule never due: passes only on a wakeup), its Prefect behind `apiUrl`. */
function startDaemon(env: BenchEnv, apiUrl: string): Promise<Daemon> {
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: apiUrl,
      CONNECTOR_SYNC_CONFIG: configs.on,
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
      LOG_LEVEL: 'info',
      PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`worker exited ${code}`)));
    createInterface({ input: child.stderr }).on('line', (raw) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      if (line.msg !== 'worker started') return;
      resolve({
        child,
        metricsUrl: `http://127.0.0.1:${Number(line.port)}/metrics`,
        lines,
        stop: async () => {
          child.removeAllListeners('exit');
          const exited = new Promise((done) => child.on('exit', done));
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

async function gauge(daemon: Daemon, name: string): Promise<number | undefined> {
  const text = await (await fetch(daemon.metricsUrl)).text();
  return parsePrometheus(text).value(name, { sink: 'prefect' });
}

async function until<T>(probe: () => Promise<T>, accept: (v: T) => boolean, ms = 120_000) {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (performance.now() > deadline) throw new Error(`gave up waiting (last: ${String(value)})`);
    await sleep(50);
  }
}

interface Outage {
  /** From Prefect's return until the backlog gauge read 0. */
  seconds: number;
  /** From Prefect's return until the publisher's first POST /events it took. */
  firstPostSeconds: number;
  backlog: number;
}

const passesDone = (d: Daemon): number => d.lines.filter((l) => l.msg === 'pass finished').length;

/**
 * N events wait while POST /events fails (the passes still reach Prefect);
 * then Prefect is gone altogether for OUTAGE_MS; then back. Seconds from its
 * return until the backlog gauge is 0, and the failures the publisher counted.
 */
async function outage(env: BenchEnv): Promise<Outage> {
  const proxy = await startProxy(env.apiUrl, []);
  const daemon = await startDaemon(env, proxy.url);
  try {
    await until(
      () => Promise.resolve(passesDone(daemon)),
      (n) => n >= 1,
    );
    proxy.setFaults([
      { fault: { kind: 'outage' }, match: (m, p) => m === 'POST' && p === '/events' },
    ]);
    await setValid(env, false);
    await env.pool.query('NOTIFY connector_sync_wakeup');
    await until(
      () => Promise.resolve(passesDone(daemon)),
      (n) => n >= 2,
    );
    const waiting = await until(
      () => gauge(daemon, 'connector_sync_publish_backlog_events'),
      (v) => (v ?? 0) >= N,
    );
    proxy.setFaults([{ fault: { kind: 'outage' } }]);
    await sleep(OUTAGE_MS);
    await proxy.clearFaults();
    const back = performance.now();
    const backAt = Date.now();
    await until(
      () => gauge(daemon, 'connector_sync_publish_backlog_events'),
      (v) => v === 0,
    );
    const seconds = (performance.now() - back) / 1000;
    // The publisher's first call Prefect took after its return: the rest of its backoff wait.
    const firstTaken = proxy.log.find(
      (r) => r.at >= backAt && r.path === '/events' && r.status === 204,
    );
    if (!firstTaken) throw new Error('no POST /events reached Prefect after the outage');
    if ((await backlog(env)).events !== 0) throw new Error('gauge 0 but the cursor is behind');
    // Valid again, published by the worker as it goes.
    await setValid(env, true);
    await env.pool.query('NOTIFY connector_sync_wakeup');
    await until(
      () => Promise.resolve(passesDone(daemon)),
      (n) => n >= 3,
    );
    await until(
      async () => (await backlog(env)).events,
      (v) => v === 0,
    );
    return { seconds, firstPostSeconds: (firstTaken.at - backAt) / 1000, backlog: waiting ?? 0 };
  } finally {
    await daemon.stop();
    await proxy.close();
  }
}

const env = await startBenchEnv('publish', N);
try {
  const first = await pass(env, configs.on);
  if (first.applied !== N) throw new Error(`setup pass applied ${first.applied}`);
  const calls = await passCalls(env);
  const bursts: Burst[] = [];
  for (let i = 0; i < REPEAT; i++) bursts.push(await burst(env));
  const outages = [];
  for (let i = 0; i < REPEAT; i++) outages.push(await outage(env));
  printResults(calls, bursts, outages);
} finally {
  await env.stop();
}

function printResults(calls: Record<string, CallCount>, bursts: Burst[], outages: Outage[]): void {
  const sink = median(bursts.map((b) => b.sinkSeconds));
  const raw = median(bursts.map((b) => b.rawSeconds));
  const rawBatched = median(bursts.map((b) => b.rawBatchedSeconds));
  const rate = (seconds: number): number => round(N / seconds, 1);
  report(
    'publish',
    N,
    [
      {
        what: `sink (flushSinks + PrefectSink, ${SINK_BATCH}/POST)`,
        wall_s: round(sink, 3),
        events_per_s: rate(sink),
        stored_in_prefect: `${N} of ${N}`,
      },
      { what: 'raw POST /events loop, 1/call', wall_s: round(raw, 3), events_per_s: rate(raw) },
      {
        what: `raw POST /events loop, ${SINK_BATCH}/call`,
        wall_s: round(rawBatched, 3),
        events_per_s: rate(rawBatched),
      },
      ...Object.entries(calls).map(([what, c]) => ({
        what: `run --once, ${what}: pass calls (proxy / JSON), publisher calls (POST /events)`,
        calls: `${c.pass} / ${c.passJson}, ${c.publisher} (${c.publisherEvents})`,
      })),
      {
        what: `backlog of ${N} → 0 after a ${OUTAGE_MS / 1000} s outage`,
        wall_s: round(median(outages.map((o) => o.seconds)), 2),
      },
    ],
    {
      repeats: REPEAT,
      sink_vs_raw_1_per_call: round(raw / sink),
      sink_vs_raw_batched: round(rawBatched / sink),
      sink_s: bursts.map((b) => round(b.sinkSeconds, 3)),
      raw_1_per_call_s: bursts.map((b) => round(b.rawSeconds, 3)),
      raw_batched_s: bursts.map((b) => round(b.rawBatchedSeconds, 3)),
      // Where the sink's time goes (the rest: Postgres reads and cursor moves, the lock, pruning, the rate limit's spacing).
      sink_http_by_route: bursts.map((b) =>
        Object.fromEntries(
          Object.entries(b.sinkRoutes).map(([route, r]) => [
            route,
            `${r.calls} calls, ${round(r.seconds, 3)} s`,
          ]),
        ),
      ),
      stored_after_sink_s: bursts.map((b) => round(b.sinkStoredSeconds, 2)),
      events_with_work_pool: bursts.map((b) => b.withPool),
      outage_drain_s: outages.map((o) => round(o.seconds, 2)),
      outage_first_post_s: outages.map((o) => round(o.firstPostSeconds, 2)),
      outage_backlog: outages.map((o) => o.backlog),
      calls,
    },
  );
}
