import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  CLI,
  cliEnv,
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  untilIntentsSettleable,
  type TestEnv,
} from '../harness/env.js';
import { startWorker } from '../harness/daemon.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';
import { startProxy, type HoldRule } from '../harness/proxy.js';

// "Synced" means safe: a rename never leaves a connector with two deployments
// that run (the guard, a failing delete, kill -9 between the two calls), and
// an inactive connector's runs stop whatever else is wrong with its row.

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

/** A copy of the test's config file with some keys changed; its path. */
function configWith(e: TestEnv, change: (config: Record<string, any>) => void): string {
  const config = parse(readFileSync(e.configFile, 'utf8')) as Record<string, any>;
  change(config);
  const file = e.configFile.replace(/\.yaml$/, `-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

/** The deployments of each connector (by its connector-<id> tag) that would run: not paused. */
async function liveByConnector(e: TestEnv): Promise<Map<string, string[]>> {
  const live = new Map<string, string[]>();
  for (const d of await prefectApi(e.apiUrl).deploymentsByTag(e.tag)) {
    if (d.paused) continue;
    const tag = (d.tags as string[]).find((t) => t.startsWith('connector-'))!;
    live.set(tag, [...(live.get(tag) ?? []), d.name as string].sort());
  }
  return live;
}

async function expectAtMostOneLiveEach(e: TestEnv): Promise<void> {
  const doubled = [...(await liveByConnector(e))].filter(([, names]) => names.length > 1);
  expect(doubled, 'connectors with two unpaused deployments').toEqual([]);
}

async function states(
  e: TestEnv,
): Promise<Record<string, { status: string; last_error: string | null }>> {
  const rows = await e.sql<{ connector_id: string; status: string; last_error: string | null }>(
    'SELECT connector_id, status, last_error FROM connector_sync.connector_state',
  );
  return Object.fromEntries(rows.map((r) => [r.connector_id, r]));
}

async function eventCounts(e: TestEnv): Promise<Record<string, number>> {
  const rows = await e.sql<{ action: string; n: number }>(
    'SELECT action, count(*)::int AS n FROM connector_sync.events GROUP BY action',
  );
  return Object.fromEntries(rows.map((r) => [r.action, r.n]));
}

describe('a rename never leaves two live deployments for one connector', () => {
  it('the guard holds the deletes: the creates wait too, status and JSON say why; allowed, both go', async () => {
    env = await createTestEnv();
    const e = env;
    const ids = await insertConnectors(
      e,
      Array.from({ length: 15 }, (_, i) => ({ name: `c${i}`, schedule: '*/5 * * * *' })),
    );
    expect((await e.cli(['run', '--once'])).code).toBe(0);
    const renamed = configWith(e, (c) => (c.deployment.nameTemplate = 'cs-{id}'));

    const held = await e.cli(['run', '--once', '--json'], {
      CONNECTOR_SYNC_CONFIG: renamed,
      LOG_LEVEL: 'warn',
    });
    expect(held.code).toBe(1);
    const out = JSON.parse(held.stdout);
    expect(out.summary).toMatchObject({ create: 0, delete: 0 });
    expect(out.held_deletes).toMatchObject({ count: 15, limit: 10 });
    expect(out.held_deletes.deployments).toHaveLength(15);
    expect(out.held_deletes.deployments[0]).toEqual({
      deployment_id: expect.any(String),
      deployment_name: expect.stringMatching(/^connector-\d+$/),
      connector_id: expect.any(String),
      reason: 'renamed',
    });
    expect(out.held_deletes.connectors.map((c: any) => c.not_created).sort()).toEqual(
      ids.map((id) => `cs-${id}`).sort(),
    );
    const warnings = held.stderr.split('\n').filter((l) => l.includes('mass-delete guard'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, count: 15, limit: 10 });

    const deployments = await prefectApi(e.apiUrl).deploymentsByTag(e.tag);
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    await expectAtMostOneLiveEach(e);

    const byConnector = await states(e);
    for (const id of ids) {
      expect(byConnector[id]!.status).toBe('held');
      expect(byConnector[id]!.last_error).toContain(`"cs-${id}" is created once it is deleted`);
    }
    const status = await e.cli(['status'], { CONNECTOR_SYNC_CONFIG: renamed });
    // Run health follows the counts once a full pass has read it.
    expect(status.stdout).toMatch(/15 connectors: 15 held[.;]/);

    const plan = await e.cli(['plan'], { CONNECTOR_SYNC_CONFIG: renamed });
    expect(plan.code).toBe(1);
    const heldLines = plan.stdout.split('\n').filter((l) => l.startsWith('= held'));
    expect(heldLines).toHaveLength(15);
    expect(heldLines[0]).toMatch(
      /^= held {4}connector-\d+ +delete held back by the mass-delete guard \(renamed; "cs-\d+" not created until then\)$/,
    );

    const allowed = await e.cli(['run', '--once', '--json', '--allow-mass-delete'], {
      CONNECTOR_SYNC_CONFIG: renamed,
    });
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).summary).toMatchObject({ create: 15, delete: 15 });
    expect(JSON.parse(allowed.stdout).held_deletes).toBeNull();
    const after = await prefectApi(e.apiUrl).deploymentsByTag(e.tag);
    expect(after.map((d) => d.name).sort()).toEqual(ids.map((id) => `cs-${id}`).sort());
    // One `held` event per connector when the guard first held it; none again while it stays held.
    expect(await eventCounts(e)).toEqual({ created: 30, deleted: 15, held: 15 });
    expect(Object.values(await states(e)).map((s) => s.status)).toEqual(Array(15).fill('synced'));
  });

  it('a delete Prefect keeps failing: the new deployment is not created, the old one runs alone', async () => {
    env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS } } });
    const e = env;
    const [id] = await insertConnectors(e, [{ name: 'only', schedule: '0 1 * * *' }]);
    await e.pass();
    const renamed = configWith(e, (c) => (c.deployment.nameTemplate = 'cs-{id}'));
    const proxy = await startProxy(e.apiUrl, []);
    proxy.setFaults([
      {
        fault: { kind: 'status', status: 500 },
        match: (method, path) => method === 'DELETE' && /^\/deployments\//.test(path),
      },
    ]);
    try {
      const run = await e.cli(['run', '--once', '--json'], {
        CONNECTOR_SYNC_CONFIG: renamed,
        PREFECT_API_URL: proxy.url,
      });
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).problems).toEqual([
        {
          connector_id: id,
          status: 'failed',
          message: expect.stringMatching(/^delete failed: .*500/),
        },
      ]);
      expect(proxy.requests.filter((r) => r.method === 'DELETE').length).toBeGreaterThan(0);
      expect(
        proxy.requests.filter((r) => r.method === 'POST' && r.path === '/deployments/'),
      ).toEqual([]);
    } finally {
      await proxy.close();
    }
    const names = (await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).map((d) => d.name);
    expect(names).toEqual([`connector-${id}`]);
    expect((await states(e))[id!]!.status).toBe('failed');

    // A 500 leaves the outcome unknown: the delete's intent settles once no call can still land.
    await untilIntentsSettleable(e.db, e.config);
    expect((await e.cli(['run', '--once'], { CONNECTOR_SYNC_CONFIG: renamed })).code).toBe(0);
    expect((await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).map((d) => d.name)).toEqual([
      `cs-${id}`,
    ]);
    // The connector failed (the delete), then recovered once it went through.
    expect(await eventCounts(e)).toEqual({ created: 2, deleted: 1, failed: 1, recovered: 1 });
  });

  /** `run --once` with the renamed config through a proxy holding one call; kill -9 once it is held. */
  async function crashDuringRename(e: TestEnv, renamed: string, rule: HoldRule): Promise<void> {
    const proxy = await startProxy(e.apiUrl, [rule]);
    const child = spawn(process.execPath, [CLI, 'run', '--once'], {
      env: cliEnv(e, {
        PREFECT_API_URL: proxy.url,
        CONNECTOR_SYNC_CONFIG: renamed,
        LOG_LEVEL: 'silent',
      }),
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await Promise.race([
      proxy.held(),
      exited.then(() => {
        throw new Error('the run finished before the call was held');
      }),
    ]);
    // The moment of the crash: whatever was sent so far must leave one live deployment at most.
    await expectAtMostOneLiveEach(e);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await proxy.close();
    await expectAtMostOneLiveEach(e);
    await untilIntentsSettleable(e.db, e.config);
  }

  it.each([
    ['the delete held before Prefect', 'DELETE', 'before-prefect', { deleted: 0 }],
    ['the delete applied, its answer not heard', 'DELETE', 'after-prefect', { deleted: 1 }],
    ['the create held before Prefect (the delete done)', 'POST', 'before-prefect', { deleted: 1 }],
  ] as const)(
    'kill -9 with %s: never two live deployments, then one pass recreates it with one event each',
    async (_what, method, point, before) => {
      env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS, retries: 0 } } });
      const e = env;
      const [id] = await insertConnectors(e, [{ name: 'only', schedule: '*/5 * * * *' }]);
      await e.pass();
      const renamed = configWith(e, (c) => (c.deployment.nameTemplate = 'cs-{id}'));
      const path = method === 'DELETE' ? /^\/deployments\/[0-9a-f-]+$/ : /^\/deployments\/$/;
      await crashDuringRename(e, renamed, { method, path, point });
      const names = (await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).map((d) => d.name);
      expect(names).not.toContain(`cs-${id}`); // nothing new before the old one is gone
      expect(names).toEqual(before.deleted === 0 ? [`connector-${id}`] : []);

      const result = await e.pass({}, e.withConfig({ deployment: { nameTemplate: 'cs-{id}' } }));
      expect(result.plan.problems).toEqual([]);
      const finalNames = (await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).map((d) => d.name);
      expect(finalNames).toEqual([`cs-${id}`]);
      expect(await eventCounts(e)).toEqual({ created: 2, deleted: 1 });
      expect(await e.sql('SELECT * FROM connector_sync.intents')).toEqual([]);
    },
  );
});

describe('is_active = false wins over other problems', () => {
  it('an inactive row with a bad cron: its deployment is paused, the row still reported invalid', async () => {
    env = await createTestEnv();
    const e = env;
    const [id, other] = await insertConnectors(e, [
      { name: 'goes bad', schedule: '*/5 * * * *' },
      { name: 'untouched', schedule: '0 1 * * *' },
    ]);
    await e.pass();
    await e.sql(
      `UPDATE cai_connectors SET is_active = false, schedule = 'every 5 minutes' WHERE id = $1`,
      [id],
    );
    const run = await e.cli(['run', '--once', '--json']);
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout);
    expect(out.changes).toEqual([
      expect.objectContaining({
        action: 'pause',
        connector_id: id,
        fields: { paused: { from: false, to: true } },
      }),
    ]);
    // Its deployment (paused now) still has the spec of its last sync: the plan says since when.
    expect(out.problems).toEqual([
      {
        connector_id: id,
        status: 'invalid',
        message: expect.stringContaining('every 5 minutes'),
        still_running_since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    const api = prefectApi(e.apiUrl);
    const deployment = (await api.deploymentsByTag(e.tag)).find(
      (d) => d.name === `connector-${id}`,
    )!;
    expect(deployment.paused).toBe(true);
    expect(deployment.schedules[0].schedule.cron).toBe('*/5 * * * *'); // the rest left as it was
    expect((await states(e))[id!]!.status).toBe('invalid');
    const paused = await e.sql(`SELECT * FROM connector_sync.events WHERE action = 'paused'`);
    expect(paused).toHaveLength(1);
    expect(paused[0]!.connector_id).toBe(id);

    // Nothing more on the next pass; the other connector was never touched.
    const again = await e.cli(['run', '--once', '--json']);
    expect(JSON.parse(again.stdout).prefect_calls.writes).toBe(0);
    expect((await states(e))[other!]!.status).toBe('synced');
  });

  it('with onInactive: delete the deployment is deleted; a soft-deleted invalid row too', async () => {
    env = await createTestEnv({ config: { deployment: { onInactive: 'delete' } } });
    const e = env;
    const [inactive, soft] = await insertConnectors(e, [
      { name: 'to deactivate', schedule: '0 1 * * *' },
      { name: 'to soft-delete', schedule: '0 1 * * *' },
    ]);
    await e.pass();
    await e.sql(
      `UPDATE cai_connectors SET is_active = false, timezone = 'Mars/Olympus' WHERE id = $1`,
      [inactive],
    );
    await e.sql(
      `UPDATE cai_connectors SET deleted_at = now(), timezone = 'Mars/Olympus' WHERE id = $1`,
      [soft],
    );
    const result = await e.pass();
    expect(
      result.plan.changes.map((c) => [
        c.action,
        c.connectorId,
        c.action === 'delete' ? c.reason : null,
      ]),
    ).toEqual([
      ['delete', inactive, 'inactive, row invalid'],
      ['delete', soft, 'soft-deleted'],
    ]);
    expect(await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).toEqual([]);
    const byConnector = await states(e);
    expect(byConnector[inactive!]!.status).toBe('invalid');
    expect(byConnector[soft!]!.status).toBe('deleted');
  });
});

describe('problems are logged once, when they start or change', () => {
  it('one WARN line naming the connector and its problem; none on the next pass; a new one when it changes', async () => {
    env = await createTestEnv();
    const e = env;
    const [id] = await insertConnectors(e, [{ name: 'x', schedule: '0 0 */2 * * *' }]);
    const warnings = (stderr: string) =>
      stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, any>)
        .filter((l) => l.level === 40 && l.connector === id);
    const first = await e.cli(['run', '--once'], { LOG_LEVEL: 'warn' });
    expect(warnings(first.stderr)).toEqual([
      expect.objectContaining({
        status: 'invalid',
        problem: expect.stringMatching(/6 fields/),
        msg: `connector ${id} is invalid`,
      }),
    ]);
    const second = await e.cli(['run', '--once'], { LOG_LEVEL: 'warn' });
    expect(warnings(second.stderr)).toEqual([]);
    await e.sql(`UPDATE cai_connectors SET schedule = 'not a cron' WHERE id = $1`, [id]);
    const third = await e.cli(['run', '--once'], { LOG_LEVEL: 'warn' });
    expect(warnings(third.stderr)).toHaveLength(1);
  });
});

describe('the guard and the worker in /metrics; alive but not syncing in /healthz', () => {
  it('held deletes and held connectors are counted; failed passes in a row and the last success show', async () => {
    env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS } } });
    const e = env;
    await insertConnectors(
      e,
      Array.from({ length: 12 }, (_, i) => ({ name: `m${i}`, schedule: '0 1 * * *' })),
    );
    await e.pass();
    const renamed = configWith(e, (c) => (c.deployment.nameTemplate = 'cs-{id}'));
    const proxy = await startProxy(e.apiUrl, []);
    const worker = await startWorker(e, {
      CONNECTOR_SYNC_CONFIG: renamed,
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
      PREFECT_API_URL: proxy.url,
    });
    try {
      await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
      // The status gauge is counted from the state table just after the pass
      // has returned (and logged), so it may lag the log line by a query.
      const metrics = await eventually(
        async () => parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text()),
        (m) => m.value('connector_sync_connectors', { status: 'held' }) !== undefined,
        10_000,
      );
      expect(metrics.value('connector_sync_held_deletes')).toBe(12);
      expect(metrics.value('connector_sync_connectors', { status: 'held' })).toBe(12);
      expect(metrics.value('connector_sync_failed_passes_in_a_row')).toBe(0);
      const success = metrics.value('connector_sync_last_successful_pass_timestamp_seconds')!;
      expect(success).toBeGreaterThan(Date.now() / 1000 - 120);
      const healthy = await health(worker.baseUrl);
      expect(healthy).toMatchObject({ status: 'ok', failedPassesInARow: 0 });
      expect(Date.parse(healthy.lastSuccessfulPassAt!)).toBe(Math.round(success * 1000));

      // Prefect goes away: the worker stays alive (200) and says that passes fail.
      proxy.setFaults([{ fault: { kind: 'outage', mode: 'refuse' } }]);
      await e.sql('NOTIFY connector_sync_wakeup');
      const failing = await eventually(
        () => health(worker.baseUrl),
        (h) => h.failedPassesInARow >= 2,
        60_000,
      );
      expect(failing).toMatchObject({
        status: 'ok',
        lastSuccessfulPassAt: healthy.lastSuccessfulPassAt,
      });
      const during = parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text());
      expect(during.value('connector_sync_failed_passes_in_a_row')).toBeGreaterThanOrEqual(2);
      expect(during.value('connector_sync_last_successful_pass_timestamp_seconds')).toBe(success);

      await proxy.clearFaults();
      const back = await eventually(
        () => health(worker.baseUrl),
        (h) => h.failedPassesInARow === 0,
        60_000,
      );
      expect(Date.parse(back.lastSuccessfulPassAt!)).toBeGreaterThan(
        Date.parse(healthy.lastSuccessfulPassAt!),
      );
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
      await proxy.close();
    }
  });
});

describe('plan says what run --once would do with open intents', () => {
  it('a connector whose earlier call may still land: plan shows the note and no change for it (exit 2)', async () => {
    // Default Prefect timeouts: an intent settles 102 s after it was written, so it is young here.
    env = await createTestEnv();
    const e = env;
    const [id, other] = await insertConnectors(e, [
      { name: 'a', schedule: '0 1 * * *' },
      { name: 'b', schedule: '0 1 * * *' },
    ]);
    await e.pass();
    await e.sql(`UPDATE cai_connectors SET schedule = '0 2 * * *' WHERE id = $1`, [id]);
    const proxy = await startProxy(e.apiUrl, [
      { method: 'PATCH', path: /^\/deployments\//, point: 'before-prefect' },
    ]);
    const child = spawn(process.execPath, [CLI, 'run', '--once'], {
      env: cliEnv(e, { PREFECT_API_URL: proxy.url, LOG_LEVEL: 'silent' }),
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
    await proxy.held();
    child.kill('SIGKILL');
    await exited;
    await proxy.close();
    // Meanwhile the other connector changes too: that change is planned as usual.
    await e.sql(`UPDATE cai_connectors SET schedule = '0 3 * * *' WHERE id = $1`, [other]);
    const waiter = id;
    const planned = other;

    const plan = await e.cli(['plan', '--json']);
    expect(plan.code).toBe(2);
    const out = JSON.parse(plan.stdout);
    expect(out.changes.map((c: any) => c.connector_id)).toEqual([planned]);
    expect(out.waiting).toEqual([
      {
        connector_id: waiter,
        deployment_id: expect.any(String),
        message: expect.stringMatching(/^waiting for an earlier update call/),
      },
    ]);
    const human = await e.cli(['plan']);
    expect(human.stdout).toMatch(
      new RegExp(`\\? note +connector ${waiter} left as it is: waiting for an earlier update call`),
    );
    // The real pass does what the plan said.
    const run = await e.cli(['run', '--once', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).changes).toEqual(out.changes);
  });
});

interface Health {
  status: string;
  failedPassesInARow: number;
  lastSuccessfulPassAt: string | null;
}

async function health(baseUrl: string): Promise<Health> {
  return (await (await fetch(`${baseUrl}/healthz`)).json()) as Health;
}
