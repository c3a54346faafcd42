import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { LEASES } from '../../src/postgres/lease.js';
import { migrate } from '../../src/postgres/migrate.js';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import {
  CHANGE_EVENTS,
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  type TestEnv,
} from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { startPrivatePostgres, type PrivatePostgres } from '../harness/private-postgres.js';
import { parsePrometheus } from '../harness/prometheus.js';
import { startProxy, type FaultProxy } from '../harness/proxy.js';

// Postgres faults under the long-running worker, in the middle of a pass
// (Prefect slowed through the proxy so the pass is in flight):
//  - every connection of the worker ended by pg_terminate_backend (pool,
//    lock session, LISTEN) on the shared cluster;
//  - a real restart (`pg_ctl restart -m fast`) and a stop / start with the
//    server down for seconds, on a private cluster (the shared one on 5432
//    carries the Prefect server and the other tests).
// Each time: the pass fails cleanly (logged, counted as an error pass), the
// process stays up (/healthz 200), the worker takes the lock again, its next
// pass succeeds and settles the intents the fault left, and every create
// reached Prefect once and has exactly one event. An intent the fault left
// open is settled only once its call can no longer land (late-write.test.ts):
// the worker comes back for it then; short Prefect timeouts keep that short.

type Line = Record<string, unknown>;

const SCHEMA = 'connector_sync';
const TOOK_LOCK = 'took the reconcile lock: leading';
/** The reconcile lock's key (the event-order lock is another advisory lock). */
const LOCK_KEY = LEASES.reconcile(SCHEMA);
const ROWS = 20;
const SLOW = 300;
/**
 * Short Prefect calls keep the wait before an intent may be settled to
 * seconds; 5 s (not the harness's 2 s) so that Prefect on a busy machine,
 * behind the proxy's added latency, still answers the creates in time: the
 * faults under test are Postgres's.
 */
const CALLS = { ...SHORT_CALLS, timeoutMs: 5_000 };

let env: TestEnv | undefined;
let worker: WorkerProcess | undefined;
let proxy: FaultProxy | undefined;
let cluster: PrivatePostgres | undefined;
let privateDb: pg.Pool | undefined;

afterEach(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null)
    worker.child.kill('SIGKILL');
  await worker?.exited;
  worker = undefined;
  await proxy?.close();
  proxy = undefined;
  await privateDb?.end();
  privateDb = undefined;
  await cluster?.destroy();
  cluster = undefined;
  await env?.cleanup();
  env = undefined;
});

const msg =
  (text: string) =>
  (l: Line): boolean =>
    l.msg === text;

function after(w: WorkerProcess, mark: number, match: (l: Line) => boolean): (l: Line) => boolean {
  return (l) => w.logs.indexOf(l) >= mark && match(l);
}

const isRead = (method: string, path: string): boolean =>
  method === 'GET' || /\/(filter|paginate|count)$/.test(path);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function get(w: WorkerProcess, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${w.baseUrl}${path}`);
  return { status: response.status, body: await response.text() };
}

function connectorRows(n: number): { name: string; schedule: string }[] {
  return Array.from({ length: n }, (_, i) => ({ name: `pg${i}`, schedule: '0 1 * * *' }));
}

/** Runs SQL against the database the worker uses. */
type Sql = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  params?: unknown[],
) => Promise<R[]>;

/** The slowed proxy and the worker (schedule far away: only start, lock and wake-ups cause passes). */
async function startSlowWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
  proxy = await startProxy(env!.apiUrl, [], {
    latency: { ms: SLOW, match: (m, path) => !isRead(m, path) },
  });
  worker = await startWorker(env!, {
    PREFECT_API_URL: proxy.url,
    CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
    ...extraEnv,
  });
  return worker;
}

/** The moment of a fault: where the log stood, who held the lock, and /healthz polled until recovery. */
interface Fault {
  mark: number;
  at: number;
  lockPid: number;
  health: { stop(): Promise<number[]> };
}

async function lockPid(sql: Sql): Promise<number> {
  const rows = await sql<{ pid: number }>(
    `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
        AND a.application_name = 'connector-sync'
        AND l.objid::bigint = (hashtext($1)::bigint & 4294967295)`,
    [LOCK_KEY],
  );
  expect(rows, 'exactly one session holds the reconcile lock').toHaveLength(1);
  return rows[0]!.pid;
}

/** Polls /healthz every 500 ms; a refused connection counts as 0 (the process died). */
function watchHealth(w: WorkerProcess): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let stopped = false;
  const polling = (async () => {
    while (!stopped) {
      statuses.push(
        await get(w, '/healthz').then(
          (r) => r.status,
          () => 0,
        ),
      );
      await sleep(500);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await polling;
      return statuses;
    },
  };
}

async function beginFault(w: WorkerProcess, sql: Sql): Promise<Fault> {
  const pid = await lockPid(sql);
  return { mark: w.logs.length, at: Date.now(), lockPid: pid, health: watchHealth(w) };
}

interface Recovery {
  failure: string;
  healthPolls: number;
  faultToLockMs: number;
  faultToPassMs: number;
  settled: unknown;
}

/**
 * After a fault at log index `mark`: the pass failed cleanly, the process is
 * up, the lock was taken again, a later pass succeeded, and every create
 * reached Prefect once with exactly one created event.
 */
async function expectRecovery(w: WorkerProcess, fault: Fault, sql: Sql): Promise<Recovery> {
  const { mark, at: faultAt } = fault;
  const failed = await w.waitForLog(
    after(
      w,
      mark,
      (l) =>
        l.msg === 'pass failed' || l.msg === 'pass stopped: this replica lost the reconcile lock',
    ),
    30_000,
  );
  const retaken = await w.waitForLog(after(w, mark, msg(TOOK_LOCK)), 60_000);
  const retakenAt = w.logs.indexOf(retaken);
  let pass = await w.waitForLog(after(w, retakenAt, msg('pass finished')), 60_000);
  // Intents too recent to settle: the worker comes back for them once they are old enough.
  // A pass Prefect cut short (a busy machine) is followed by another after its pause.
  while (pass.waiting || pass.aborted) {
    const at = w.logs.indexOf(pass) + 1;
    pass = await w.waitForLog(after(w, at, msg('pass finished')), 60_000);
  }
  const settledLine = w.logs.find(after(w, mark, msg('settled leftover intents')));
  const health = await fault.health.stop();
  expect(
    health.every((status) => status === 200),
    `/healthz from fault to recovery: ${JSON.stringify(health)}`,
  ).toBe(true);

  expect(w.child.exitCode, 'the worker is still running').toBeNull();
  expect(w.child.signalCode).toBeNull();
  const healthz = await get(w, '/healthz');
  expect(healthz.status).toBe(200);
  expect(JSON.parse(healthz.body)).toMatchObject({ status: 'ok', leader: true });
  expect((await get(w, '/readyz')).status).toBe(200);

  // Counted: at least one error pass, and a good one after it.
  const metrics = parsePrometheus((await get(w, '/metrics')).body);
  const errors = metrics
    .find('connector_sync_passes_total', { result: 'error' })
    .reduce((n, s) => n + s.value, 0);
  // A pass that ran to its end: 'problems' too (on a busy machine a create of
  // it may time out against Prefect; that is no Postgres recovery failing).
  const good = ['ok', 'problems']
    .flatMap((result) => metrics.find('connector_sync_passes_total', { result }))
    .reduce((n, s) => n + s.value, 0);
  expect(errors).toBeGreaterThanOrEqual(1);
  expect(good).toBeGreaterThanOrEqual(1);

  // Leadership: a new session of the worker holds the advisory lock (the old one died).
  expect(await lockPid(sql)).not.toBe(fault.lockPid);

  // Exactly once: every create reached Prefect once and has one created event, by id.
  // A call of the recovery pass that timed out on a busy machine leaves its
  // intent open; the worker comes back for it once it may be settled.
  const open = await eventually(
    () => sql(`SELECT * FROM ${SCHEMA}.intents`),
    (rows) => rows.length === 0,
    90_000,
  );
  expect(open).toEqual([]);
  const deployments = await prefectApi(env!.apiUrl).deploymentsByTag(env!.tag);
  expect(deployments.map((d) => d.name).sort()).toEqual(
    (await sql<{ id: string }>('SELECT id::text FROM cai_connectors'))
      .map((r) => `connector-${r.id}`)
      .sort(),
  );
  // Every connector's create reached Prefect: once, or more when the client retried a
  // timed-out POST (a busy machine), which Prefect's upsert on (flow, name) makes the
  // same deployment; the events below show each was recorded exactly once.
  const posted = proxy!.forwarded.filter((c) => c.method === 'POST' && c.path === '/deployments/');
  expect(new Set(posted.map((c) => (JSON.parse(c.body) as { name: string }).name)).size).toBe(ROWS);
  const created = await sql<{ deployment_id: string }>(
    `SELECT deployment_id::text FROM ${SCHEMA}.events WHERE action = 'created' ORDER BY deployment_id`,
  );
  expect(created.map((e) => e.deployment_id)).toEqual(
    deployments.map((d) => d.id as string).sort(),
  );
  expect(
    await sql(`SELECT action FROM ${SCHEMA}.events WHERE ${CHANGE_EVENTS} AND action <> 'created'`),
  ).toEqual([]);
  const states = await sql<{ status: string }>(`SELECT status FROM ${SCHEMA}.connector_state`);
  expect(states.map((s) => s.status)).toEqual(Array(ROWS).fill('synced'));

  // The worker still hears wake-ups (its LISTEN connection came back): one edit, one update.
  const [row] = await sql<{ id: string }>(
    'SELECT id::text FROM cai_connectors ORDER BY id LIMIT 1',
  );
  await sql(`UPDATE cai_connectors SET schedule = '5 5 * * *' WHERE id = $1`, [row!.id]);
  const applied = after(w, w.logs.length, (l) => l.msg === 'update applied');
  let heard: Line | undefined;
  for (let i = 0; i < 10 && !heard; i++) {
    await sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [row!.id]);
    heard = await w.waitForLog(applied, 3_000).catch(() => undefined);
  }
  expect(heard, 'a wake-up after the fault is acted on').toBeDefined();
  expect(await sql(`SELECT connector_id FROM ${SCHEMA}.events WHERE action = 'updated'`)).toEqual([
    { connector_id: row!.id },
  ]);

  return {
    failure: `${String(failed.msg)}: ${JSON.stringify(failed.err)}`,
    healthPolls: health.length,
    faultToLockMs: (retaken.time as number) - faultAt,
    faultToPassMs: (pass.time as number) - faultAt,
    settled: settledLine ? { open: settledLine.open, tookEffect: settledLine.tookEffect } : 'none',
  };
}

describe('Postgres faults mid-pass (long-running worker)', () => {
  it('pg_terminate_backend of every worker connection: the pass fails, the worker recovers, no event lost or doubled', async () => {
    env = await createTestEnv({ config: { prefect: CALLS } });
    await insertConnectors(env, connectorRows(ROWS));
    const w = await startSlowWorker();
    await w.waitForLog(msg('create applied'), 30_000);

    const sql: Sql = (text, params) => env!.sql(text, params);
    const fault = await beginFault(w, sql);
    const killed = await env.sql<{ application_name: string }>(
      `SELECT application_name, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'connector-sync' AND pid <> pg_backend_pid()`,
    );
    // At least the lock session, the LISTEN connection and a pool connection.
    expect(killed.length).toBeGreaterThanOrEqual(3);
    const openAtFault = (await env.sql(`SELECT id FROM ${SCHEMA}.intents`)).length;

    const recovery = await expectRecovery(w, fault, sql);
    console.log(
      `pg_terminate_backend of ${killed.length} worker connections mid-pass (${openAtFault} intents open): ${JSON.stringify(recovery)}`,
    );
  }, 180_000);

  for (const fault of ['restart', 'stop-start'] as const) {
    it(`a real Postgres ${fault === 'restart' ? 'restart (pg_ctl restart -m fast)' : 'outage (stop, 5 s down, start)'} mid-pass: the pass fails, the worker stays up and recovers, no event lost or doubled`, async () => {
      // The worker's Postgres is a cluster of its own: its installation is that one.
      env = await createTestEnv({ config: { prefect: CALLS }, registerInstallation: false });
      cluster = await startPrivatePostgres();
      const admin = new pg.Client({ connectionString: cluster.url('postgres') });
      await admin.connect();
      await admin.query('CREATE DATABASE worker');
      await admin.end();
      privateDb = new pg.Pool({ connectionString: cluster.url('worker'), max: 2 });
      privateDb.on('error', () => undefined);
      const sql: Sql = async (text, params) => {
        // Retried: this pool's own connections die with the server too.
        for (let attempt = 0; ; attempt++) {
          try {
            return (await privateDb!.query(text, params)).rows;
          } catch (error) {
            if (attempt >= 5) throw error;
            await sleep(500);
          }
        }
      };
      await sql(readFileSync(join(REPO, 'sql/reference/cai_connectors.sql'), 'utf8'));
      for (const row of connectorRows(ROWS))
        await sql('INSERT INTO cai_connectors (name, schedule) VALUES ($1, $2)', [
          row.name,
          row.schedule,
        ]);

      // `run` never creates the worker's schema: a fresh database is migrated first.
      await migrate(privateDb, SCHEMA);
      const w = await startSlowWorker({ DATABASE_URL: cluster.url('worker') });
      await w.waitForLog(msg('create applied'), 30_000);

      const started = await beginFault(w, sql);
      if (fault === 'restart') {
        await cluster.restart('fast');
      } else {
        await cluster.stop('fast');
        await sleep(5_000);
        expect((await get(w, '/readyz')).status, 'not ready while Postgres is down').toBe(503);
        await cluster.start();
      }
      const downMs = Date.now() - started.at;

      const recovery = await expectRecovery(w, started, sql).catch((error: unknown) => {
        throw new Error(`${String(error)}\n--- postgres log ---\n${cluster!.log().slice(-3000)}`);
      });
      console.log(
        `Postgres ${fault} mid-pass (down ${(downMs / 1000).toFixed(1)} s): ${JSON.stringify(recovery)}`,
      );
    }, 180_000);
  }
});
