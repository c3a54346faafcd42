import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// `suspend` leaves a connector's deployment exactly as it is — a row change,
// a hand edit in Prefect, even a deleted row — and `resume` reconciles it at
// once: by the next `run --once`, or by a running worker woken for it.

let env: TestEnv;
let worker: WorkerProcess | undefined;
let edited: string; // suspended, row changed and deployment edited by hand
let gone: string; // suspended, row deleted
let other: string; // never suspended: reconciled as ever

beforeAll(async () => {
  env = await createTestEnv();
  [edited, gone, other] = (await insertConnectors(env, [
    { name: 'edited', schedule: '0 1 * * *' },
    { name: 'gone', schedule: '0 2 * * *' },
    { name: 'other', schedule: '0 3 * * *' },
  ])) as [string, string, string];
  expect((await env.cli(['run', '--once'])).code).toBe(0);
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

async function deployment(id: string): Promise<Record<string, any> | undefined> {
  const all = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  return all.find((d) => (d.tags as string[]).includes(`connector-${id}`));
}

const eventsOf = async (id: string): Promise<string[]> =>
  (
    await env.sql<{ action: string }>(
      `SELECT action FROM connector_sync.events WHERE connector_id = $1 ORDER BY seq`,
      [id],
    )
  ).map((e) => e.action);

describe('suspend', () => {
  it('records who, why and since, shown by status (table and JSON)', async () => {
    const suspended = await env.cli([
      'suspend',
      edited,
      gone,
      '--reason',
      'migrating',
      '--by',
      'alice',
    ]);
    expect(suspended.code).toBe(0);
    expect(suspended.stdout).toContain(`Suspended connector ${edited} (by alice: "migrating"`);
    const status = JSON.parse((await env.cli(['status', '--json'])).stdout);
    const byId = new Map<string, any>(status.connectors.map((c: any) => [c.connector_id, c]));
    expect(byId.get(edited).suspended).toMatchObject({ by: 'alice', reason: 'migrating' });
    expect(byId.get(edited).status).toBe('synced');
    expect(byId.get(other).suspended).toBeNull();
    const table = (await env.cli(['status'])).stdout;
    expect(table).toMatch(
      new RegExp(`^${edited} +synced .*by alice since \\S+: "migrating"$`, 'm'),
    );
    // Without --by, the OS user.
    await env.cli(['suspend', other, '--reason', 'just looking'], { USER: 'bob' });
    const again = JSON.parse((await env.cli(['status', '--json'])).stdout);
    expect(again.connectors.find((c: any) => c.connector_id === other).suspended.by).toBe('bob');
    expect((await env.cli(['resume', other])).code).toBe(0);
  });

  it('leaves row changes, drift and a deleted row alone; others are reconciled', async () => {
    const before = await deployment(edited);
    await env.sql(`UPDATE cai_connectors SET schedule = '5 5 * * *' WHERE id = $1`, [edited]);
    await env.sql(`UPDATE cai_connectors SET schedule = '6 6 * * *' WHERE id = $1`, [other]);
    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [gone]);
    const patched = await prefectApi(env.apiUrl).call('PATCH', `/deployments/${before!.id}`, {
      description: 'edited by hand',
    });
    expect(patched.status).toBe(204);

    const plan = await env.cli(['plan']);
    expect(plan.stdout).toMatch(
      new RegExp(
        `^= suspended connector-${edited} +left as it is, would change \\(suspended by alice: "migrating"; since \\S+\\)$`,
        'm',
      ),
    );
    expect(plan.stdout).toContain(`= suspended connector-${gone}`);
    expect(plan.stdout).toMatch(
      /Plan: 0 to create, 1 to update, .*0 to delete; 0 unchanged, 2 suspended\.$/m,
    );

    const run = await env.cli(['run', '--once', '--json']);
    // Everything else converged; what the suspension holds back is exit 3.
    expect(run.code).toBe(3);
    const json = JSON.parse(run.stdout);
    expect(json.summary).toMatchObject({ update: 1, delete: 0, suspended: 2 });
    expect(json.suspended.map((s: any) => s.connector_id).sort()).toEqual([edited, gone].sort());

    const after = await deployment(edited);
    expect(after!.description).toBe('edited by hand');
    expect(after!.schedules[0].schedule.cron).toBe('0 1 * * *');
    expect(after!.updated).toBe((await deployment(edited))!.updated);
    expect(await deployment(gone)).toBeDefined();
    expect((await deployment(other))!.schedules[0].schedule.cron).toBe('6 6 * * *');
    expect(await eventsOf(edited)).toEqual(['created']);
    expect(await eventsOf(gone)).toEqual(['created']);
    const states = await env.sql<{ connector_id: string; status: string }>(
      `SELECT connector_id, status FROM connector_sync.connector_state WHERE connector_id = ANY($1)`,
      [[edited, gone]],
    );
    expect(states.map((s) => s.status)).toEqual(['synced', 'synced']);
  });

  it('resume without a worker: the next run --once reconciles it', async () => {
    const resumed = await env.cli(['resume', edited]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`Resumed connector ${edited}`);
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const after = await deployment(edited);
    expect(after!.schedules[0].schedule.cron).toBe('5 5 * * *');
    expect(after!.description).not.toBe('edited by hand');
    expect(await eventsOf(edited)).toEqual(['created', 'updated']);
    expect(await deployment(gone)).toBeDefined();
  });

  it('resume with a running worker: reconciled within seconds by the wake-up', async () => {
    // The schedule is far away: only the start pass and wake-ups run.
    worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full');
    expect(await deployment(gone)).toBeDefined();
    const api: any = await (await fetch(`${worker.baseUrl}/api/connectors`)).json();
    const shown = api.connectors.find((c: any) => c.connector_id === gone);
    expect(shown.suspended).toMatchObject({ by: 'alice', reason: 'migrating' });

    expect((await env.cli(['resume', gone])).code).toBe(0);
    const pass = await worker.waitForLog(
      (l) => l.msg === 'pass finished' && l.kind === 'targeted',
      15_000,
    );
    expect(pass.connectors).toEqual([gone]);
    expect(await deployment(gone)).toBeUndefined();
    expect(await eventsOf(gone)).toEqual(['created', 'deleted']);
    expect((await env.cli(['resume', gone])).stdout).toContain(
      `Connector ${gone} was not suspended.`,
    );
  });
});
