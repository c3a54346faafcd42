import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import {
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  untilIntentsSettleable,
  type TestEnv,
} from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { startProxy, type FaultProxy, type HoldRule, type ProxyOptions } from '../harness/proxy.js';

// The long-running worker as real processes (docs/guides/kubernetes.md): two replicas on one
// database elect one leader; kill -9 of the leader hands the lock to the other
// without a change applied twice or an event lost (docs/concepts/event-log.md), also when the
// leader dies with calls in flight; SIGTERM lets the calls in flight finish
// and exits 0, a second signal exits 130 at once. A dead leader's intents are
// settled only once none of its calls can still land (late-write.test.ts):
// the tests that kill mid-call use short Prefect timeouts to keep that short.

type Line = Record<string, unknown>;

const TOOK_LOCK = 'took the reconcile lock: leading';
const SCHEMA = 'connector_sync';

let env: TestEnv | undefined;
let workers: WorkerProcess[] = [];
let proxies: FaultProxy[] = [];

afterEach(async () => {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await w.exited;
  }
  workers = [];
  for (const p of proxies) await p.close();
  proxies = [];
  await env?.cleanup();
  env = undefined;
});

async function newEnv(config?: Record<string, unknown>): Promise<TestEnv> {
  env = await createTestEnv(config ? { config } : {});
  return env;
}

async function proxy(rules: HoldRule[] = [], options: ProxyOptions = {}): Promise<FaultProxy> {
  const p = await startProxy(env!.apiUrl, rules, options);
  proxies.push(p);
  return p;
}

async function worker(extraEnv: Record<string, string>): Promise<WorkerProcess> {
  const w = await startWorker(env!, extraEnv);
  workers.push(w);
  return w;
}

function connectors(n: number, prefix = 'c'): { name: string; schedule: string }[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, schedule: '0 1 * * *' }));
}

/** A predicate for log lines logged after `mark` (an index into worker.logs). */
function after(w: WorkerProcess, mark: number, match: (l: Line) => boolean): (l: Line) => boolean {
  return (l) => w.logs.indexOf(l) >= mark && match(l);
}

const msg =
  (text: string) =>
  (l: Line): boolean =>
    l.msg === text;

async function healthz(w: WorkerProcess): Promise<{ leader: boolean; state: string }> {
  const response = await fetch(`${w.baseUrl}/healthz`);
  return (await response.json()) as { leader: boolean; state: string };
}

/** The first of these workers to log that it took the lock. */
function firstLeader(ws: WorkerProcess[], timeoutMs = 30_000): Promise<WorkerProcess> {
  return Promise.any(ws.map((w) => w.waitForLog(msg(TOOK_LOCK), timeoutMs).then(() => w)));
}

/** Asks for a full pass (an empty NOTIFY payload) and waits for the leader to finish one. */
async function fullPass(leader: WorkerProcess): Promise<Line> {
  const mark = leader.logs.length;
  await env!.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
  return leader.waitForLog(
    after(leader, mark, (l) => l.msg === 'pass finished' && l.kind !== 'targeted'),
    30_000,
  );
}

async function intents(): Promise<any[]> {
  return env!.sql(`SELECT * FROM ${SCHEMA}.intents`);
}

async function events(action?: string): Promise<any[]> {
  return action
    ? env!.sql(`SELECT * FROM ${SCHEMA}.events WHERE action = $1 ORDER BY id`, [action])
    : env!.sql(`SELECT * FROM ${SCHEMA}.events ORDER BY id`);
}

async function eventCounts(): Promise<Record<string, number>> {
  const rows = await env!.sql<{ action: string; n: string }>(
    `SELECT action, count(*) AS n FROM ${SCHEMA}.events GROUP BY action`,
  );
  return Object.fromEntries(rows.map((r) => [r.action, Number(r.n)]));
}

/** How many events of this action each key (deployment_id or connector_id) has. */
function tally(rows: any[], key: 'deployment_id' | 'connector_id'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) out[row[key]] = (out[row[key]] ?? 0) + 1;
  return out;
}

function ones(keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, 1]));
}

async function managedDeployments(): Promise<Record<string, any>[]> {
  return prefectApi(env!.apiUrl).deploymentsByTag(env!.tag);
}

const cronOf = (d: Record<string, any>): string | undefined => d.schedules?.[0]?.schedule?.cron;

/** Prefect matches the table: one deployment per live row, named after it, with its schedule. */
async function expectPrefectMatchesRows(): Promise<Record<string, any>[]> {
  const rows = await env!.sql<{ id: string; schedule: string }>(
    'SELECT id::text, schedule FROM cai_connectors ORDER BY id',
  );
  const deployments = await managedDeployments();
  const byName = new Map(deployments.map((d) => [d.name as string, d]));
  expect(deployments).toHaveLength(rows.length);
  for (const row of rows) {
    const d = byName.get(`connector-${row.id}`);
    expect(d, `deployment of connector ${row.id}`).toBeDefined();
    expect(cronOf(d!), `schedule of connector ${row.id}`).toBe(row.schedule);
  }
  return deployments;
}

function writes(p: FaultProxy, method: string, path: RegExp, from = 0): number {
  return p.requests.slice(from).filter((r) => r.method === method && path.test(r.path)).length;
}

const CREATE_CALL = /^\/deployments\/$/;
const DEPLOYMENT_CALL = /^\/deployments\/[0-9a-f-]{36}$/;

function isRead(method: string, path: string): boolean {
  return method === 'GET' || /\/(filter|paginate|count)$/.test(path);
}

/** Kills the leader with SIGKILL; resolves with the follower's takeover time (kill → its log line). */
async function killAndTakeOver(
  leader: WorkerProcess,
  follower: WorkerProcess,
  /** Runs once the leader is dead (before the takeover is awaited). */
  whenDead?: () => Promise<void>,
): Promise<{ takeoverMs: number; line: Line; mark: number }> {
  const mark = follower.logs.length;
  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  expect((await leader.exited).signal).toBe('SIGKILL');
  await whenDead?.();
  const line = await follower.waitForLog(after(follower, mark, msg(TOOK_LOCK)), 20_000);
  // pino's `time` is the moment the follower logged it (epoch ms).
  return { takeoverMs: (line.time as number) - killedAt, line, mark };
}

describe('two replicas, one leader', () => {
  it('exactly one leads; 20 connectors give 20 deployments and 20 created events, no duplicates', async () => {
    await newEnv();
    const ids = await insertConnectors(env!, connectors(20));
    const p = await proxy(); // pass-through: counts every call both workers make
    const [a, b] = await Promise.all([
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
    ]);
    const leader = await firstLeader([a, b]);
    const follower = leader === a ? b : a;
    await leader.waitForLog(msg('pass finished'));

    const health = await Promise.all([healthz(a), healthz(b)]);
    expect(health.filter((h) => h.leader)).toHaveLength(1);
    expect((await healthz(leader)).leader).toBe(true);
    expect(await healthz(follower)).toMatchObject({ leader: false, state: 'following' });

    // Prefect: exactly the 20 deployments, each created by one POST.
    const deployments = await managedDeployments();
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    expect(writes(p, 'POST', CREATE_CALL)).toBe(20);
    // Our log: one created event per deployment id, nothing else.
    expect(tally(await events('created'), 'deployment_id')).toEqual(
      ones(deployments.map((d) => d.id)),
    );
    expect(await eventCounts()).toEqual({ created: 20 });
    expect(await intents()).toEqual([]);

    // Another full pass (the follower hears the NOTIFY too, but only the leader works): nothing to do.
    const second = await fullPass(leader);
    expect(second.changes).toBe(0);
    expect(await eventCounts()).toEqual({ created: 20 });
    expect(writes(p, 'POST', CREATE_CALL)).toBe(20);
    expect(follower.logs.filter(msg(TOOK_LOCK))).toEqual([]);
    expect(follower.logs.filter(msg('pass finished'))).toEqual([]);
    expect(await healthz(follower)).toMatchObject({ leader: false, state: 'following' });
  });

  it('kill -9 of the idle leader: the follower takes over; later changes get exactly one event each', async () => {
    await newEnv();
    const ids = await insertConnectors(env!, connectors(20));
    const p = await proxy();
    const [a, b] = await Promise.all([
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
    ]);
    const leader = await firstLeader([a, b]);
    const follower = leader === a ? b : a;
    await leader.waitForLog(msg('pass finished'));
    expect(await eventCounts()).toEqual({ created: 20 });

    const { takeoverMs, mark } = await killAndTakeOver(leader, follower);
    console.log(`takeover (idle leader killed -9): ${(takeoverMs / 1000).toFixed(2)} s`);
    // The follower tries every 2 s; Postgres frees the lock as soon as the dead session's socket closes.
    expect(takeoverMs).toBeLessThan(5_000);
    expect(await healthz(follower)).toMatchObject({ leader: true });
    // A new leader trusts nothing: a full pass first, which finds nothing to do.
    const first = await follower.waitForLog(after(follower, mark, msg('pass finished')));
    expect(first.changes).toBe(0);

    // Five schedules change and one row goes, in one transaction.
    const changed = ids.slice(0, 5);
    const gone = ids[19]!;
    const goneDeployment = (await managedDeployments()).find(
      (d) => d.name === `connector-${gone}`,
    )!;
    const before = p.requests.length;
    const client = await env!.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE cai_connectors SET schedule = '30 4 * * *' WHERE id = ANY($1)`, [
        changed,
      ]);
      await client.query('DELETE FROM cai_connectors WHERE id = $1', [gone]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const pass = await fullPass(follower);
    // (The every-minute schedule may have picked the changes up first; then this pass finds none.)
    if (pass.changes === 0)
      expect(follower.logs.filter(after(follower, mark, (l) => l.applied === 6))).toHaveLength(1);
    else expect(pass).toMatchObject({ changes: 6, applied: 6 });
    // Converged: one more pass changes nothing.
    expect((await fullPass(follower)).changes).toBe(0);

    expect(await eventCounts()).toEqual({ created: 20, updated: 5, deleted: 1 });
    expect(tally(await events('updated'), 'connector_id')).toEqual(ones(changed));
    const deleted = await events('deleted');
    expect(deleted.map((e) => [e.connector_id, e.deployment_id])).toEqual([
      [gone, goneDeployment.id],
    ]);
    for (const e of await events('updated'))
      expect(e.payload.updates.schedules.to[0].cron).toBe('30 4 * * *');
    expect(await intents()).toEqual([]);
    // Each change reached Prefect once.
    expect(writes(p, 'PATCH', DEPLOYMENT_CALL, before)).toBe(5);
    expect(writes(p, 'DELETE', DEPLOYMENT_CALL, before)).toBe(1);
    await expectPrefectMatchesRows();
    expect(tally(await events('created'), 'deployment_id')).toEqual(
      ones([...(await managedDeployments()).map((d) => d.id), goneDeployment.id]),
    );
  });

  it('kill -9 of the leader with calls in flight: after takeover every change has exactly one event', async () => {
    await newEnv({ prefect: SHORT_CALLS });
    const ids = await insertConnectors(env!, connectors(12));
    await env!.pass(); // the starting point: 12 deployments, 12 created events
    expect(await eventCounts()).toEqual({ created: 12 });

    // The first PATCH is parked after Prefect applied it; every other write is
    // applied at once but answered 400 ms late, so the leader dies with several
    // changes applied and unconfirmed.
    const p = await proxy([{ method: 'PATCH', path: DEPLOYMENT_CALL, point: 'after-prefect' }], {
      latency: { ms: 400, point: 'after-prefect', match: (m, path) => !isRead(m, path) },
    });
    const [a, b] = await Promise.all([
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
      worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '* * * * *' }),
    ]);
    const leader = await firstLeader([a, b]);
    const follower = leader === a ? b : a;
    expect((await leader.waitForLog(msg('pass finished'))).changes).toBe(0);

    const changed = ids.slice(0, 10);
    const gone = ids[11]!;
    const goneDeployment = (await managedDeployments()).find(
      (d) => d.name === `connector-${gone}`,
    )!;
    const client = await env!.db.connect();
    let fresh = '';
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE cai_connectors SET schedule = '15 6 * * *' WHERE id = ANY($1)`, [
        changed,
      ]);
      await client.query('DELETE FROM cai_connectors WHERE id = $1', [gone]);
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO cai_connectors (name, schedule) VALUES ('fresh', '45 7 * * *') RETURNING id::text`,
      );
      fresh = inserted.rows[0]!.id;
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await env!.sql(`SELECT pg_notify('connector_sync_wakeup', '')`);
    const held = await Promise.race([
      p.held(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no PATCH was held in 30 s')), 30_000),
      ),
    ]);
    expect(held).toMatchObject({ method: 'PATCH', status: 204 });

    // The held PATCH's intent is open for sure (its answer never reached the leader).
    expect((await intents()).length).toBeGreaterThanOrEqual(1);
    let openAtKill = 0;
    const { takeoverMs, mark } = await killAndTakeOver(leader, follower, async () => {
      openAtKill = (await intents()).length;
    });
    console.log(`takeover (leader killed -9 mid-pass): ${(takeoverMs / 1000).toFixed(2)} s`);
    expect(takeoverMs).toBeLessThan(5_000);

    // The new leader's first pass settles the dead leader's intents by reading Prefect, then finishes the rest.
    const first = await follower.waitForLog(after(follower, mark, msg('pass finished')), 30_000);
    const settledLine = follower.logs.find(after(follower, mark, msg('settled leftover intents')));
    expect(settledLine, 'the new leader settles the open intents').toBeDefined();
    console.log(
      `open intents right after the kill: ${openAtKill}; new leader settled ${String(settledLine!.tookEffect)} as taken effect, then applied ${String(first.applied)}`,
    );
    // The dead leader's intents were too recent to settle: the new leader comes back
    // for their connectors (a targeted pass) once they are old enough.
    if (Number(settledLine!.waiting) > 0) {
      const comeBack = await follower.waitForLog(
        after(follower, mark, msg('open intents too recent to settle; coming back for them')),
      );
      const at = follower.logs.indexOf(comeBack);
      const targeted = await follower.waitForLog(
        after(follower, at, (l) => l.msg === 'pass finished' && l.kind === 'targeted'),
        30_000,
      );
      console.log(
        `${String(settledLine!.waiting)} intents waited; the come-back pass came ${String(comeBack.inMs)} ms later and applied ${String(targeted.applied)}`,
      );
    }
    const full = await fullPass(follower);
    expect(full.changes).toBe(0);
    expect(full.waiting ?? 0).toBe(0);

    expect(await intents()).toEqual([]);
    const deployments = await expectPrefectMatchesRows();
    expect(await eventCounts()).toEqual({ created: 13, updated: 10, deleted: 1 });
    // One created event per deployment ever created (the 12, then `fresh`), by id.
    expect(tally(await events('created'), 'deployment_id')).toEqual(
      ones([...deployments.map((d) => d.id), goneDeployment.id]),
    );
    const freshDeployment = deployments.find((d) => d.name === `connector-${fresh}`)!;
    expect(
      (await events('created')).filter((e) => e.deployment_id === freshDeployment.id),
    ).toHaveLength(1);
    // One updated event per changed row, saying what Prefect now has.
    const updated = await events('updated');
    expect(tally(updated, 'connector_id')).toEqual(ones(changed));
    const byId = new Map(deployments.map((d) => [d.id as string, d]));
    for (const e of updated) {
      expect(e.payload.updates.schedules.to[0].cron).toBe('15 6 * * *');
      expect(cronOf(byId.get(e.deployment_id)!)).toBe('15 6 * * *');
    }
    expect((await events('deleted')).map((e) => [e.connector_id, e.deployment_id])).toEqual([
      [gone, goneDeployment.id],
    ]);
    // No change was applied twice: a change the dead leader got through was settled, not redone.
    expect(writes(p, 'PATCH', DEPLOYMENT_CALL)).toBe(10);
    expect(writes(p, 'DELETE', DEPLOYMENT_CALL)).toBe(1);
    expect(writes(p, 'POST', CREATE_CALL)).toBe(1);
  });

  it('the leader loses its lock session mid-pass: it stops writing, then leads again and finishes', async () => {
    await newEnv();
    await insertConnectors(env!, connectors(20));
    const p = await proxy([], {
      latency: { ms: 300, match: (m, path) => !isRead(m, path) },
    });
    const w = await worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    await w.waitForLog(msg('create applied'));
    // Postgres ends the session holding the advisory lock (a failover, an idle-session kill).
    // Only the leader lock's: a confirm in flight holds the event-order transaction lock too.
    const mark = w.logs.length;
    const killed = await env!.sql(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND objid = (hashtext($1)::bigint & 4294967295)::oid`,
      [`connector-sync:leader:${env!.config.database.schema}`],
    );
    expect(killed).toEqual([{ ok: true }]);

    // The write guard stops the pass; the loop goes back to taking the (now free) lock and
    // runs a full pass. Soft, so the exactly-once checks below still run when this fails.
    const lost = await w
      .waitForLog(after(w, mark, msg('pass stopped: this replica lost the reconcile lock')), 10_000)
      .catch(() => undefined);
    expect.soft(lost, 'the pass ends with "lost the reconcile lock" (it hung)').toBeDefined();
    const retaken = await w
      .waitForLog(after(w, mark, msg(TOOK_LOCK)), lost ? 10_000 : 3_000)
      .catch(() => undefined);
    expect.soft(retaken, 'the worker takes the lock again').toBeDefined();
    let oneShotCreates = 0;
    if (retaken) {
      await w.waitForLog(after(w, mark, msg('pass finished')), 20_000);
    } else {
      console.log(`worker after the lock loss: ${JSON.stringify(await healthz(w))}`);
      await new Promise((r) => setTimeout(r, 1_000)); // let the calls in flight land
      oneShotCreates = (await env!.pass()).applied.length; // a one-shot run finishes the job
    }

    // Either way: every create reached Prefect once and has exactly one event.
    expect(await intents()).toEqual([]);
    const deployments = await expectPrefectMatchesRows();
    expect(writes(p, 'POST', CREATE_CALL) + oneShotCreates).toBe(20);
    expect(tally(await events('created'), 'deployment_id')).toEqual(
      ones(deployments.map((d) => d.id)),
    );
    expect(await eventCounts()).toEqual({ created: 20 });
  });
});

describe('shutdown', () => {
  const SLOW = { latency: { ms: 300 } };

  it('SIGTERM mid-pass: the calls in flight finish with their events, exit 0; a restart finishes the rest', async () => {
    await newEnv({ reconcile: { shutdownTimeoutSeconds: 5 } });
    const ids = await insertConnectors(env!, connectors(30));
    const p = await proxy([], SLOW);
    const w = await worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    await w.waitForLog(msg('create applied'));

    const signalled = performance.now();
    w.kill('SIGTERM');
    const exit = await w.exited;
    const shutdownMs = performance.now() - signalled;
    console.log(`graceful shutdown (SIGTERM → exit): ${(shutdownMs / 1000).toFixed(2)} s`);
    expect(exit).toEqual({ code: 0, signal: null });
    // Within the bound (shutdownTimeoutSeconds: 5, plus closing the lock, pool and HTTP server).
    expect(shutdownMs).toBeLessThan(6_000);
    expect(w.logs.find(msg('stopping: finishing the changes in flight'))).toBeDefined();
    const stopped = w.logs.find(msg('worker stopped'));
    expect(stopped).toBeDefined();
    // The calls in flight take ~600 ms (300 ms each way through the proxy): the pass should
    // end on its own ('aborted' for the changes never started) and the worker drain, not time out.
    // Soft, so the exactly-once checks below still run when this fails.
    expect
      .soft(
        w.logs.find(msg('pass finished')),
        'the interrupted pass finishes (no "pass finished" line: it hung)',
      )
      .toBeDefined();
    expect.soft(stopped, 'the stop drains instead of timing out').toMatchObject({
      outcome: 'drained',
    });

    // Whatever Prefect got, it got once, and each has exactly one created event; nothing is left open.
    const deployments = await managedDeployments();
    console.log(`created before the stop: ${deployments.length} of 30`);
    expect(deployments.length).toBeGreaterThan(0);
    expect(deployments.length).toBeLessThan(30); // the stop really came mid-pass
    expect(writes(p, 'POST', CREATE_CALL)).toBe(deployments.length);
    expect(tally(await events('created'), 'deployment_id')).toEqual(
      ones(deployments.map((d) => d.id)),
    );
    expect(await intents()).toEqual([]);
    expect(w.logs.filter(msg('create applied'))).toHaveLength(deployments.length);

    // Restart (one-shot): nothing to settle, the rest is created, once.
    const result = await env!.pass();
    expect(result.settled).toEqual({ tookEffect: 0, didNot: 0 });
    expect(result.applied).toHaveLength(30 - deployments.length);
    expect(await intents()).toEqual([]);
    const all = await expectPrefectMatchesRows();
    expect(all).toHaveLength(ids.length);
    expect(tally(await events('created'), 'deployment_id')).toEqual(ones(all.map((d) => d.id)));
    expect(await eventCounts()).toEqual({ created: 30 });
  });

  it('a second signal while stopping exits at once with 130; a restart settles what was in flight', async () => {
    await newEnv({ reconcile: { shutdownTimeoutSeconds: 5 }, prefect: SHORT_CALLS });
    await insertConnectors(env!, connectors(30));
    const p = await proxy([], SLOW);
    const w = await worker({ PREFECT_API_URL: p.url, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    await w.waitForLog(msg('create applied'));

    const signalled = performance.now();
    w.kill('SIGTERM');
    w.kill('SIGINT');
    const exit = await w.exited;
    const exitMs = performance.now() - signalled;
    console.log(`SIGTERM + SIGINT → exit: ${exitMs.toFixed(0)} ms`);
    expect(exit).toEqual({ code: 130, signal: null });
    expect(exitMs).toBeLessThan(1_000); // not waiting for the slowed calls (300 ms each) to drain
    expect(w.logs.find(msg('second signal: exiting now'))).toBeDefined();
    expect(w.logs.find(msg('worker stopped'))).toBeUndefined();

    // Calls forwarded before the exit finish in Prefect; the ones still delayed never arrive.
    await p.close();
    await untilIntentsSettleable(env!.db, env!.config);
    const result = await env!.pass();
    console.log(
      `restart after exit 130: settled ${result.settled.tookEffect} taken effect / ${result.settled.didNot} not, applied ${result.applied.length}, failed ${result.failures.length}`,
    );
    // On a busy machine a call of the restart pass itself may time out (2 s):
    // its intent is open again, and settled like the others by the next pass.
    for (let again = 0; again < 5 && (await intents()).length > 0; again++) {
      await untilIntentsSettleable(env!.db, env!.config);
      await env!.pass();
    }
    expect(await intents()).toEqual([]);
    const all = await expectPrefectMatchesRows();
    expect(all).toHaveLength(30);
    expect(tally(await events('created'), 'deployment_id')).toEqual(ones(all.map((d) => d.id)));
    // Change events only: a create of the restart pass that timed out on a busy
    // machine is a `failed` event of its connector, not a change.
    const { created, updated, paused, resumed, deleted } = await eventCounts();
    expect({ created, updated, paused, resumed, deleted }).toEqual({
      created: 30,
      updated: undefined,
      paused: undefined,
      resumed: undefined,
      deleted: undefined,
    });
  });
});
