import { readFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';

// The delete guards at their defaults, against the real services
// (docs/concepts/ownership-and-safety.md): deletes that trickle in one row at
// a time stop at the budget whichever path makes them (wake-ups, sync, a
// restarted worker's full pass); a source emptied by a bad migration deletes
// and pauses nothing, says so once, and still creates what is there.

const DEFAULTS = { deleteBudget: { limit: 10, window: '1h' }, sourceShrinkLimit: '50%' };
const NO_FULL_PASS = { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' };

async function deploymentIds(env: TestEnv): Promise<Map<string, string>> {
  const all = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  return new Map(all.map((d) => [d.name as string, d.id as string]));
}

async function eventCounts(env: TestEnv): Promise<Record<string, number>> {
  const rows = await env.sql<{ action: string; n: number }>(
    `SELECT action, count(*)::int AS n FROM connector_sync.events GROUP BY action`,
  );
  return Object.fromEntries(rows.map((r) => [r.action, r.n]));
}

async function statusOf(env: TestEnv, ids: string[]): Promise<Record<string, string>> {
  const rows = await env.sql<{ connector_id: string; status: string }>(
    `SELECT connector_id, status FROM connector_sync.connector_state WHERE connector_id = ANY($1)`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.connector_id, r.status]));
}

async function metric(
  worker: WorkerProcess,
  name: string,
  labels = {},
): Promise<number | undefined> {
  const text = await (await fetch(`${worker.baseUrl}/metrics`)).text();
  return parsePrometheus(text).value(name, labels);
}

describe('deletes on a budget', () => {
  let env: TestEnv;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    env = await createTestEnv({ config: { reconcile: DEFAULTS } });
    await env.sql(readFileSync(join(REPO, 'sql/optional/wakeup_trigger.sql'), 'utf8'));
  });
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    await env?.cleanup();
  });

  it('rows deleted one at a time: 10 deletes in the window, the rest held by every path, counted across a restart', async () => {
    const ids = await insertConnectors(
      env,
      Array.from({ length: 30 }, (_, i) => ({ name: `budget-${i}`, schedule: `${i} 3 * * *` })),
    );
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    expect((await deploymentIds(env)).size).toBe(30);

    worker = await startWorker(env, NO_FULL_PASS);
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
    // A bad migration deleting rows one by one: each DELETE wakes the worker for its id.
    const doomed = ids.slice(0, 15);
    for (const id of doomed) {
      await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [id]);
      await new Promise((r) => setTimeout(r, 150));
    }
    await expect
      .poll(async () => Object.values(await statusOf(env, doomed)).sort(), {
        timeout: 60_000,
        interval: 500,
      })
      .toEqual([...Array<string>(10).fill('deleted'), ...Array<string>(5).fill('held')]);
    const held = Object.entries(await statusOf(env, doomed))
      .filter(([, s]) => s === 'held')
      .map(([id]) => id);
    expect((await deploymentIds(env)).size).toBe(20);
    expect(await eventCounts(env)).toMatchObject({ created: 30, deleted: 10, held: 5 });
    const [message] = await env.sql<{ last_error: string }>(
      `SELECT last_error FROM connector_sync.connector_state WHERE connector_id = $1`,
      [held[0]],
    );
    expect(message!.last_error).toContain(
      'not deleted: the delete budget of 10 per 1h is spent; it goes once the window frees up, or when approved',
    );

    // `sync` of a held connector goes through the same budget.
    const sync = await env.cli(['sync', held[0]!, '--timeout', '30']);
    expect(sync.code).toBe(1);
    expect(sync.stdout).toMatch(
      /^= held +connector-\d+ +delete held back by the delete budget \(row deleted\)$/m,
    );
    expect((await deploymentIds(env)).size).toBe(20);

    // A new leader counts the window from the event log: its first full pass holds them too.
    worker.kill('SIGTERM');
    await worker.exited;
    worker = await startWorker(env, NO_FULL_PASS);
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
    expect(
      worker.logs.some((l) => l.msg?.toString().startsWith('delete budget: deletes held back')),
    ).toBe(true);
    expect(await metric(worker, 'connector_sync_held_deletes_by_rule', { rule: 'budget' })).toBe(5);
    expect(await metric(worker, 'connector_sync_held_deletes')).toBe(5);
    expect(await metric(worker, 'connector_sync_source_shrunk')).toBe(0);
    expect((await deploymentIds(env)).size).toBe(20);
    expect(await eventCounts(env)).toMatchObject({ deleted: 10, held: 5 });
    worker.kill('SIGTERM');
    await worker.exited;
    worker = undefined;

    // `plan` shows the hold and its rule; an approval lets them go.
    const plan = await env.cli(['plan', '--json']);
    expect(plan.code).toBe(1);
    expect(JSON.parse(plan.stdout).held_deletes).toMatchObject({
      rule: 'budget',
      count: 5,
      limit: 10,
    });
    const approved = await env.cli(['run', '--once', '--allow-mass-delete']);
    expect(approved.code).toBe(0);
    expect((await deploymentIds(env)).size).toBe(15);
    expect(Object.values(await statusOf(env, doomed))).toEqual(Array(15).fill('deleted'));
  });
});

describe('the source check', () => {
  let env: TestEnv;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    // The budget out of the way: this is the source check's alone.
    env = await createTestEnv({
      config: { reconcile: { ...DEFAULTS, deleteBudget: { limit: 1000, window: '1h' } } },
    });
  });
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    await env?.cleanup();
  });

  it('a truncated table: nothing deleted or paused, one event and one WARN, creates still go, exit 1', async () => {
    await insertConnectors(
      env,
      Array.from({ length: 40 }, (_, i) => ({
        name: `source-${i}`,
        schedule: `${i} 4 * * *`,
        is_active: i !== 0,
      })),
    );
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const before = await deploymentIds(env);
    expect(before.size).toBe(40);

    // A bad migration empties the table; one new row arrives after it.
    await env.sql(`TRUNCATE cai_connectors`);
    const [fresh] = (await insertConnectors(env, [
      { name: 'after-truncate', schedule: '0 5 * * *' },
    ])) as [string];
    const first = await env.cli(['run', '--once']);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(new RegExp(`^\\+ create +connector-${fresh}`, 'm'));
    expect(first.stdout).toContain(
      'source check: the source shrank from 40 to 1 rows since the last good pass; none of 40 deletes was made and nothing was paused',
    );
    const warns = (text: string): number =>
      text
        .split('\n')
        .filter((l) => l.includes('source check: cai_connectors shrank from 40 to 1 rows')).length;
    expect(warns(first.stderr)).toBe(1);
    const after = await deploymentIds(env);
    expect(after.size).toBe(41);
    for (const [name, id] of before) expect(after.get(name)).toBe(id);
    const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    // Only the inactive connector's, paused by the first pass: none paused since.
    expect(deployments.filter((d) => d.paused).map((d) => d.name)).toEqual(['connector-1']);
    const events = await env.sql<{ action: string; payload: any; resource: any }>(
      `SELECT action, payload, resource FROM connector_sync.events WHERE action IN ('source-shrank', 'held', 'deleted', 'paused')`,
    );
    expect(events).toEqual([
      {
        action: 'source-shrank',
        payload: { from_rows: 40, to_rows: 1, limit: '50%', held_deletes: 40 },
        resource: {
          'prefect.resource.id': 'connector-sync.source.cai_connectors',
          'prefect.resource.name': 'cai_connectors',
        },
      },
    ]);

    // Again: still held, no second event or WARN line.
    const second = await env.cli(['run', '--once', '--json']);
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout).held_deletes).toMatchObject({
      rule: 'source-shrank',
      count: 40,
      limit: 40,
    });
    expect(warns(second.stderr)).toBe(0);
    expect(await eventCounts(env)).toMatchObject({ 'source-shrank': 1, created: 41 });
    expect(await eventCounts(env)).not.toHaveProperty('deleted');

    // A worker says so in /metrics from its first full pass, with no new event.
    worker = await startWorker(env, NO_FULL_PASS);
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
    expect(await metric(worker, 'connector_sync_source_shrunk')).toBe(1);
    expect(
      await metric(worker, 'connector_sync_held_deletes_by_rule', { rule: 'source-shrank' }),
    ).toBe(40);
    expect((await eventCounts(env))['source-shrank']).toBe(1);
    worker.kill('SIGTERM');
    await worker.exited;
    worker = undefined;

    // The rows were meant to go: approved, the deletes go and 1 row is the new good count.
    expect((await env.cli(['run', '--once', '--allow-mass-delete'])).code).toBe(0);
    expect((await deploymentIds(env)).size).toBe(1);
    const [health] = await env.sql<{ good_rows: number; shrank_since: Date | null }>(
      `SELECT good_rows, shrank_since FROM connector_sync.source_health`,
    );
    expect(health).toEqual({ good_rows: 1, shrank_since: null });
    expect((await env.cli(['plan'])).code).toBe(0);
  });
});

describe('approving held deletes beside a running worker', () => {
  let env: TestEnv;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    // A budget of 0: every delete waits for an approval.
    env = await createTestEnv({
      config: { reconcile: { ...DEFAULTS, deleteBudget: { limit: 0, window: '1h' } } },
    });
  });
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
    await env?.cleanup();
  });

  const gone = async (ids: string[]): Promise<void> => {
    await env.sql(`DELETE FROM cai_connectors WHERE id = ANY($1)`, [ids]);
  };

  it('hands exactly the listed deletes to the leader, which makes them; run --once --allow-mass-delete says to use it', async () => {
    const ids = await insertConnectors(
      env,
      Array.from({ length: 6 }, (_, i) => ({ name: `approve-${i}`, schedule: `${i} 7 * * *` })),
    );
    const [a, b, c, d, e] = ids as [string, string, string, string, string];
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    worker = await startWorker(env, NO_FULL_PASS);
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
    await gone([a, b, c]);

    const beside = await env.cli(['run', '--once', '--allow-mass-delete']);
    expect(beside.code).toBe(69);
    expect(beside.stderr).toContain('connector-sync approve-deletes');

    const approved = await env.cli(['approve-deletes', a, b, '--timeout', '60']);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('Approving 2 held deletes:');
    expect(approved.stdout).toMatch(new RegExp(`^- delete +connector-${a} `, 'm'));
    expect(approved.stdout).toMatch(new RegExp(`^- delete +connector-${b} `, 'm'));
    expect(approved.stdout).not.toContain(`connector-${c} `);
    const served = await worker.waitForLog((l) => l.msg === 'sync requests served');
    expect((served.approvedDeletes as string[]).length).toBe(2);
    let names = [...(await deploymentIds(env)).keys()];
    expect(names).not.toContain(`connector-${a}`);
    expect(names).not.toContain(`connector-${b}`);
    expect(names).toContain(`connector-${c}`); // not approved: still held
    expect(await statusOf(env, [a, b, c])).toEqual({ [a]: 'deleted', [b]: 'deleted', [c]: 'held' });

    const unknown = await env.cli(['approve-deletes', e]);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain(`no held delete for connector ${e}`);

    // An approval covers the deletes held when it was given, not one held later:
    // the lock is held elsewhere while the approval waits, and a row goes meanwhile.
    worker.kill('SIGTERM');
    await worker.exited;
    worker = undefined;
    await gone([d]);
    const holder = new pg.Client({ connectionString: env.databaseUrl });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [
      'connector-sync:leader:connector_sync',
    ]);
    const all = env.cli(['approve-deletes', '--all', '--json', '--timeout', '60']);
    await expect
      .poll(
        async () =>
          (await env.sql(`SELECT id FROM connector_sync.sync_requests WHERE finished_at IS NULL`))
            .length,
        {
          timeout: 30_000,
        },
      )
      .toBe(1);
    await gone([e]); // held later: not in the approval
    await holder.end();
    worker = await startWorker(env, NO_FULL_PASS);
    const result = await all;
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.approved_deletes).toHaveLength(2);
    names = [...(await deploymentIds(env)).keys()];
    expect(names).not.toContain(`connector-${c}`);
    expect(names).not.toContain(`connector-${d}`);
    expect(names).toContain(`connector-${e}`);
    await expect.poll(async () => (await statusOf(env, [e]))[e], { timeout: 30_000 }).toBe('held');
    expect(await eventCounts(env)).toMatchObject({ deleted: 4 });
  });
});
