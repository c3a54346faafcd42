import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type CliResult, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { startProxy, type FaultProxy } from '../harness/proxy.js';

// Start-up races (docs/concepts/exactly-once.md; one pass at a time): two processes
// started at the same instant on the same database and the same Prefect.
// (a) two `run --once`: both also race on the migrations (the schema is
//     emptied first, as a DBA hands it over); the one that does not get the reconcile lock waits for it
//     (reconcile.lockWaitSeconds), then runs a pass that finds nothing to do;
//     with no wait it exits 69 saying who holds the lock.
// (b) two long-running workers: one leads, the other follows.
// Each: 20 connectors to create, then a batch of updates, pauses and deletes;
// no duplicate deployment, exactly one event per change, none doubled.

type Line = Record<string, unknown>;
type RunJson = {
  applied: number;
  events: number;
  summary: Record<string, number>;
  prefect_calls: { writes: number };
};

const SCHEMA = 'connector_sync';
const N = 20;
const ROUNDS = 5;

let env: TestEnv | undefined;
let proxy: FaultProxy | undefined;
let workers: WorkerProcess[] = [];

afterEach(async () => {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await w.exited;
  }
  workers = [];
  await proxy?.close();
  proxy = undefined;
  await env?.cleanup();
  env = undefined;
});

function isRead(method: string, path: string): boolean {
  return method === 'GET' || /\/(filter|paginate|count)$/.test(path);
}

/** Prefect writes through the proxy since request number `from`, as "METHOD route". */
/**
 * The deployment writes since `from`, by route. A new installation's one-time
 * record of its identity (`POST /variables/`, once per schema: the rounds
 * start from an empty one) is not a change; installations.test.ts tests it.
 */
function writesSince(from = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of proxy!.requests.slice(from)) {
    if (isRead(r.method, r.path) || r.path.startsWith('/variables/')) continue;
    const route = `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, '{id}')}`;
    out[route] = (out[route] ?? 0) + 1;
  }
  return out;
}

async function eventCounts(): Promise<Record<string, number>> {
  const rows = await env!.sql<{ action: string; n: number }>(
    `SELECT action, count(*)::int AS n FROM ${SCHEMA}.events GROUP BY action`,
  );
  return Object.fromEntries(rows.map((r) => [r.action, r.n]));
}

/** How many events of `action` each connector has (all must be 1). */
async function perConnector(action: string): Promise<Record<string, number>> {
  const rows = await env!.sql<{ connector_id: string; n: number }>(
    `SELECT connector_id, count(*)::int AS n FROM ${SCHEMA}.events WHERE action = $1 GROUP BY 1`,
    [action],
  );
  return Object.fromEntries(rows.map((r) => [r.connector_id, r.n]));
}

const ones = (ids: string[]): Record<string, number> =>
  Object.fromEntries(ids.map((id) => [id, 1]));

/** Prefect holds exactly one managed deployment per live row, with the row's schedule and paused flag. */
async function expectPrefectMatchesRows(): Promise<void> {
  const rows = await env!.sql<{ id: string; schedule: string; is_active: boolean }>(
    'SELECT id::text, schedule, is_active FROM cai_connectors ORDER BY id',
  );
  const deployments = await prefectApi(env!.apiUrl).deploymentsByTag(env!.tag);
  expect(deployments.map((d) => d.name).sort()).toEqual(
    rows.map((r) => `connector-${r.id}`).sort(),
  );
  const byName = new Map(deployments.map((d) => [d.name as string, d]));
  for (const row of rows) {
    const d = byName.get(`connector-${row.id}`)!;
    expect(d.schedules[0]?.schedule?.cron).toBe(row.schedule);
    expect(d.paused).toBe(!row.is_active);
  }
  // Created once each: the created events name exactly these deployments.
  const created = await env!.sql<{ deployment_id: string }>(
    `SELECT deployment_id FROM ${SCHEMA}.events WHERE action = 'created'`,
  );
  const live = new Set(deployments.map((d) => d.id as string));
  expect(created.filter((e) => live.has(e.deployment_id))).toHaveLength(deployments.length);
}

/** The batch of changes: 5 schedules, 2 deactivated, 3 deleted, in one transaction. */
async function changeBatch(
  ids: string[],
): Promise<{ updated: string[]; paused: string[]; deleted: string[] }> {
  const batch = { updated: ids.slice(0, 5), paused: ids.slice(5, 7), deleted: ids.slice(7, 10) };
  const client = await env!.db.connect();
  try {
    await client.query('BEGIN');
    await client.query(`UPDATE cai_connectors SET schedule = '30 4 * * *' WHERE id = ANY($1)`, [
      batch.updated,
    ]);
    await client.query(`UPDATE cai_connectors SET is_active = false WHERE id = ANY($1)`, [
      batch.paused,
    ]);
    await client.query('DELETE FROM cai_connectors WHERE id = ANY($1)', [batch.deleted]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return batch;
}

async function expectBatchEvents(batch: {
  updated: string[];
  paused: string[];
  deleted: string[];
}): Promise<void> {
  expect(await eventCounts()).toEqual({ created: N, updated: 5, paused: 2, deleted: 3 });
  expect(await perConnector('updated')).toEqual(ones(batch.updated));
  expect(await perConnector('paused')).toEqual(ones(batch.paused));
  expect(await perConnector('deleted')).toEqual(ones(batch.deleted));
  expect(await env!.sql(`SELECT * FROM ${SCHEMA}.intents`)).toEqual([]);
  await expectPrefectMatchesRows();
}

/** A copy of the test configuration with some keys changed, for the CLI. */
function configWith(overrides: Record<string, Record<string, unknown>>): string {
  const base = parse(readFileSync(env!.configFile, 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
  for (const [section, values] of Object.entries(overrides))
    base[section] = { ...base[section], ...values };
  const file = env!.configFile.replace(/\.yaml$/, `-${Object.keys(overrides).join('-')}.yaml`);
  writeFileSync(file, stringify(base));
  return file;
}

/** Two `run --once --json` started at the same instant (info logs, to see who waited). */
function twoAtOnce(extraEnv: Record<string, string>): Promise<[CliResult, CliResult]> {
  const run = (): Promise<CliResult> =>
    env!.cli(['run', '--once', '--json'], {
      PREFECT_API_URL: proxy!.url,
      LOG_LEVEL: 'info',
      ...extraEnv,
    });
  return Promise.all([run(), run()]);
}

function logLines(result: CliResult): Line[] {
  return result.stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** Warnings and errors the two runs logged (there must be none). */
function complaints(results: CliResult[]): Line[] {
  return results.flatMap(logLines).filter((l) => (l.level as number) >= 40);
}

/** How many of the runs logged that they waited for the lock. */
function waited(results: CliResult[]): number {
  return results.filter((r) =>
    logLines(r).some(
      (l) => l.msg === 'another connector-sync process holds the reconcile lock; waiting',
    ),
  ).length;
}

/** Rounds in which the two runs overlapped (one waited for the other's lock). */
const overlapped: number[] = [];

function parsed(results: CliResult[]): RunJson[] {
  return results.map((r) => JSON.parse(r.stdout) as RunJson);
}

describe('two `run --once` started at the same instant', () => {
  it.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
    'round %i: one passes, the other waits for the lock and finds nothing left; each change once',
    async (round) => {
      // Its schema is made anew below: so is its installation's identity (none recorded up front).
      env = await createTestEnv({ registerInstallation: false });
      // Both processes also race on upgrading the worker's (empty) schema.
      await env.sql(`DROP SCHEMA ${SCHEMA} CASCADE`);
      await env.sql(`CREATE SCHEMA ${SCHEMA}`);
      const ids = await insertConnectors(
        env,
        Array.from({ length: N }, (_, i) => ({ name: `r${round}-c${i}`, schedule: '0 1 * * *' })),
      );
      // Writes answered 100 ms late: the first pass holds the lock for a while.
      proxy = await startProxy(env.apiUrl, [], {
        latency: { ms: 100, point: 'after-prefect', match: (m, p) => !isRead(m, p) },
      });
      const config = configWith({ reconcile: { lockWaitSeconds: 60 } });
      const started = Date.now();
      const first = await twoAtOnce({ CONNECTOR_SYNC_CONFIG: config });
      const createMs = Date.now() - started;
      expect(first.map((r) => r.code)).toEqual([0, 0]);
      expect(complaints(first)).toEqual([]);
      // At most one waits; both waiting would mean a lock never released.
      const waits = waited(first);
      expect(waits).toBeLessThanOrEqual(1);
      if (waits === 1) overlapped.push(round);
      const [a, b] = parsed(first);
      // One did all the work; the other's pass found everything in place and wrote nothing.
      expect([a!.applied, b!.applied].sort((x, y) => x - y)).toEqual([0, N]);
      const idle = a!.applied === 0 ? a! : b!;
      expect(idle.prefect_calls.writes).toBe(0);
      expect(idle.summary).toMatchObject({ create: 0, unchanged: N });
      expect(writesSince()).toEqual({ 'POST /flows/': 1, 'POST /deployments/': N });
      expect(await eventCounts()).toEqual({ created: N });
      expect(await perConnector('created')).toEqual(ones(ids));
      // Each migration applied once, though both processes ran them at the same moment.
      const migrations = await env.sql<{ id: number; n: number }>(
        `SELECT id, count(*)::int AS n FROM ${SCHEMA}.migrations GROUP BY id ORDER BY id`,
      );
      expect(migrations.length).toBeGreaterThan(0);
      expect(migrations.every((m) => m.n === 1)).toBe(true);

      const batch = await changeBatch(ids);
      const mark = proxy.requests.length;
      const startedBatch = Date.now();
      const second = await twoAtOnce({ CONNECTOR_SYNC_CONFIG: config });
      const batchMs = Date.now() - startedBatch;
      expect(second.map((r) => r.code)).toEqual([0, 0]);
      expect(complaints(second)).toEqual([]);
      expect(waited(second)).toBeLessThanOrEqual(1);
      const applied = parsed(second).map((r) => r.applied);
      expect(applied.sort((x, y) => x - y)).toEqual([0, 10]);
      expect(writesSince(mark)).toEqual({
        'PATCH /deployments/{id}': 7,
        'DELETE /deployments/{id}': 3,
      });
      await expectBatchEvents(batch);
      console.log(
        `race round ${round}: creates ${(createMs / 1000).toFixed(1)} s, batch ${(batchMs / 1000).toFixed(1)} s (both processes, start to exit)`,
      );
    },
    60_000,
  );

  it("the rounds really raced: in at least one, a run waited for the other one's lock", () => {
    console.log(
      `one-shot rounds in which one run waited for the other: ${overlapped.join(', ') || 'none'} of ${ROUNDS}`,
    );
    expect(overlapped.length).toBeGreaterThanOrEqual(1);
  });

  it('with lockWaitSeconds 0 the one without the lock exits 69 at once, saying why; the other applies everything', async () => {
    env = await createTestEnv();
    const ids = await insertConnectors(
      env,
      Array.from({ length: N }, (_, i) => ({ name: `c${i}`, schedule: '0 1 * * *' })),
    );
    // Slow writes (400 ms) keep the winner's pass, and so its lock, well past the loser's start.
    proxy = await startProxy(env.apiUrl, [], {
      latency: { ms: 400, point: 'after-prefect', match: (m, p) => !isRead(m, p) },
    });
    const config = configWith({ reconcile: { lockWaitSeconds: 0 } });
    const results = await twoAtOnce({ CONNECTOR_SYNC_CONFIG: config });
    const codes = results.map((r) => r.code).sort((x, y) => x - y);
    expect(codes).toEqual([0, 69]);
    const loser = results.find((r) => r.code === 69)!;
    expect(loser.stdout).toBe('');
    expect(loser.stderr.split('\n').at(-2)).toBe(
      'connector-sync: another connector-sync process holds the reconcile lock (a one-shot pass, or a long-running worker, which keeps it for as long as it leads); waited 0s (reconcile.lockWaitSeconds)',
    );
    const winner = JSON.parse(results.find((r) => r.code === 0)!.stdout) as RunJson;
    expect(winner.applied).toBe(N);
    expect(writesSince()).toEqual({ 'POST /flows/': 1, 'POST /deployments/': N });
    expect(await perConnector('created')).toEqual(ones(ids));
    expect(await eventCounts()).toEqual({ created: N });
  });
});

const msg =
  (text: string) =>
  (l: Line): boolean =>
    l.msg === text;
const TOOK_LOCK = 'took the reconcile lock: leading';

describe('two long-running workers started at the same instant', () => {
  it('one leads and does everything once; a one-shot run beside it waits, then exits 69; SIGTERM stops both with 0', async () => {
    env = await createTestEnv();
    const ids = await insertConnectors(
      env,
      Array.from({ length: N }, (_, i) => ({ name: `w${i}`, schedule: '0 1 * * *' })),
    );
    proxy = await startProxy(env.apiUrl, [], {
      latency: { ms: 50, point: 'after-prefect', match: (m, p) => !isRead(m, p) },
    });
    // A schedule that never comes during the test: passes come from start-up and NOTIFY only.
    const extra = { PREFECT_API_URL: proxy.url, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' };
    workers = await Promise.all([startWorker(env, extra), startWorker(env, extra)]);
    const leader = await Promise.any(
      workers.map((w) => w.waitForLog(msg(TOOK_LOCK)).then(() => w)),
    );
    const follower = workers.find((w) => w !== leader)!;
    const firstPass = await leader.waitForLog(msg('pass finished'), 45_000);
    expect(firstPass).toMatchObject({ changes: N, applied: N });
    expect(writesSince()).toEqual({ 'POST /flows/': 1, 'POST /deployments/': N });
    expect(await perConnector('created')).toEqual(ones(ids));
    expect(await eventCounts()).toEqual({ created: N });

    // The batch, then a full-pass wake-up that both hear; only the leader acts on it.
    const batch = await changeBatch(ids);
    const mark = proxy.requests.length;
    const leaderMark = leader.logs.length;
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
    const pass = await leader.waitForLog(
      (l) => leader.logs.indexOf(l) >= leaderMark && l.msg === 'pass finished',
      45_000,
    );
    expect(pass).toMatchObject({ changes: 10, applied: 10 });
    expect(writesSince(mark)).toEqual({
      'PATCH /deployments/{id}': 7,
      'DELETE /deployments/{id}': 3,
    });
    await expectBatchEvents(batch);
    expect(follower.logs.filter(msg(TOOK_LOCK))).toEqual([]);
    expect(follower.logs.filter(msg('pass finished'))).toEqual([]);

    // A one-shot run beside a leading worker never gets the lock: the leader keeps it.
    const config = configWith({ reconcile: { lockWaitSeconds: 2 } });
    const started = Date.now();
    const once = await env.cli(['run', '--once'], {
      CONNECTOR_SYNC_CONFIG: config,
      PREFECT_API_URL: proxy.url,
    });
    expect(once.code).toBe(69);
    expect(once.stderr).toContain('another connector-sync process holds the reconcile lock');
    expect(once.stderr).toContain('waited 2s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(await eventCounts()).toEqual({ created: N, updated: 5, paused: 2, deleted: 3 });

    for (const w of workers) w.kill('SIGTERM');
    const exits = await Promise.all(workers.map((w) => w.exited));
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(await eventCounts()).toEqual({ created: N, updated: 5, paused: 2, deleted: 3 });
  }, 90_000);
});
