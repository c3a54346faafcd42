import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import {
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  untilIntentsSettleable,
  type TestEnv,
} from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { startProxy, type HoldRule } from '../harness/proxy.js';

// Exactly-once events across a crash: the worker is killed (SIGKILL) while a
// Prefect call is held in a proxy — before Prefect saw it, or after Prefect
// applied it but before the worker heard back. The next pass must write one
// event for every change that took effect and none for any that did not.
// It may settle an intent only once no call of the dead worker can still land
// (late-write.test.ts): short Prefect timeouts keep that wait to seconds.

let env: TestEnv;
beforeEach(async () => {
  // No faults here: no retries, so a dead worker's calls can land for 3 × 2 s = 6 s at most.
  env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS, retries: 0 } } });
});
afterEach(async () => env?.cleanup());

/** Starts `run --once` through a proxy holding one call, kills -9 the worker once the call is held; returns once its intents may be settled. */
async function crashDuring(
  rule: HoldRule,
): Promise<{ method: string; path: string; status: number | null }> {
  const proxy = await startProxy(env.apiUrl, [rule]);
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run', '--once'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: proxy.url,
      CONNECTOR_SYNC_CONFIG: env.configFile,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const held = await Promise.race([
    proxy.held(),
    exited.then(({ code }) => {
      throw new Error(
        `the worker finished (exit ${code}) before the call was held; calls: ${proxy.log
          .map((r) => `${r.method} ${r.path} ${r.status}`)
          .join(', ')}; stderr:\n${stderr}`,
      );
    }),
  ]);
  child.kill('SIGKILL');
  expect((await exited).signal).toBe('SIGKILL');
  await proxy.close();
  await untilIntentsSettleable(env.db, env.config);
  return held;
}

async function intents(): Promise<any[]> {
  return env.sql('SELECT * FROM connector_sync.intents');
}

async function eventCounts(): Promise<Record<string, number>> {
  const rows = await env.sql<{ action: string; n: string }>(
    'SELECT action, count(*) AS n FROM connector_sync.events GROUP BY action',
  );
  return Object.fromEntries(rows.map((r) => [r.action, Number(r.n)]));
}

/** Our log against Prefect's own: one created event per deployment Prefect created, by id. */
async function expectCreatedEventsMatchPrefect(): Promise<void> {
  const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  const ours = await env.sql<{ deployment_id: string }>(
    `SELECT deployment_id FROM connector_sync.events WHERE action = 'created' ORDER BY deployment_id`,
  );
  expect(ours.map((e) => e.deployment_id)).toEqual(deployments.map((d) => d.id).sort());
  const theirs = await eventually(
    () =>
      prefectApi(env.apiUrl).deploymentEvents(
        deployments.map((d) => d.id),
        new Date(0),
        'prefect.deployment.created',
      ),
    (e) => e.length >= deployments.length,
  );
  expect(
    theirs.map((e) => e.resource['prefect.resource.id'].replace('prefect.deployment.', '')).sort(),
  ).toEqual(ours.map((e) => e.deployment_id));
}

describe('kill -9 between the Prefect call and the confirm', () => {
  it('a create Prefect applied is confirmed by the next pass: exactly one created event', async () => {
    await insertConnectors(env, [{ name: 'only', schedule: '0 1 * * *' }]);
    const held = await crashDuring({
      method: 'POST',
      path: /^\/deployments\/$/,
      point: 'after-prefect',
    });
    expect(held.status).toBe(201);
    expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toHaveLength(1); // Prefect has it
    expect(await intents()).toHaveLength(1); // the worker never confirmed
    expect(await eventCounts()).toEqual({}); // dashboards see nothing unconfirmed

    const result = await env.pass();
    expect(result.settled).toEqual({ tookEffect: 1, didNot: 0 });
    expect(result.plan.changes).toEqual([]); // nothing left to do, no second POST
    expect(result.calls.writes).toBe(0);
    expect(await intents()).toEqual([]);
    expect(await eventCounts()).toEqual({ created: 1 });
    await expectCreatedEventsMatchPrefect();
    const [state] = await env.sql(
      'SELECT status, deployment_id FROM connector_sync.connector_state',
    );
    expect(state!.status).toBe('synced');
  });

  it('a create that never reached Prefect leaves no event; the next pass creates it once', async () => {
    await insertConnectors(env, [{ name: 'only', schedule: '0 1 * * *' }]);
    await crashDuring({ method: 'POST', path: /^\/deployments\/$/, point: 'before-prefect' });
    expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toHaveLength(0);
    expect(await intents()).toHaveLength(1);
    const [state] = await env.sql('SELECT status FROM connector_sync.connector_state');
    expect(state!.status).toBe('pending');

    const result = await env.pass();
    expect(result.settled).toEqual({ tookEffect: 0, didNot: 1 });
    expect(result.applied).toHaveLength(1);
    expect(await intents()).toEqual([]);
    expect(await eventCounts()).toEqual({ created: 1 });
    await expectCreatedEventsMatchPrefect();
  });

  it('an update Prefect applied gets exactly one updated event; one that did not gets none and is redone', async () => {
    const [a, b] = await insertConnectors(env, [
      { name: 'a', schedule: '0 1 * * *' },
      { name: 'b', schedule: '0 1 * * *' },
    ]);
    await env.pass();
    await env.sql(`UPDATE cai_connectors SET schedule = '0 2 * * *' WHERE id = $1`, [a]);
    await crashDuring({ method: 'PATCH', path: /^\/deployments\//, point: 'after-prefect' });
    let result = await env.pass();
    expect(result.settled.tookEffect).toBe(1);
    expect(result.calls.writes).toBe(0);
    const updated = await env.sql(`SELECT * FROM connector_sync.events WHERE action = 'updated'`);
    expect(updated).toHaveLength(1);
    expect(updated[0]!.connector_id).toBe(a);
    expect(updated[0]!.payload.updates.schedules.to[0].cron).toBe('0 2 * * *');

    await env.sql(`UPDATE cai_connectors SET schedule = '0 3 * * *' WHERE id = $1`, [b]);
    await crashDuring({ method: 'PATCH', path: /^\/deployments\//, point: 'before-prefect' });
    result = await env.pass();
    expect(result.settled).toEqual({ tookEffect: 0, didNot: 1 });
    expect(result.applied.map((x) => x.change.action)).toEqual(['update']);
    expect(
      await env.sql(`SELECT * FROM connector_sync.events WHERE action = 'updated'`),
    ).toHaveLength(2);
    expect(await intents()).toEqual([]);
  });

  it('a delete Prefect applied gets exactly one deleted event', async () => {
    const [a] = await insertConnectors(env, [{ name: 'a' }, { name: 'b' }]);
    await env.pass();
    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [a]);
    const held = await crashDuring({
      method: 'DELETE',
      path: /^\/deployments\//,
      point: 'after-prefect',
    });
    expect(held.status).toBe(204);
    const result = await env.pass();
    expect(result.settled.tookEffect).toBe(1);
    expect(result.calls.writes).toBe(0);
    expect(await eventCounts()).toEqual({ created: 2, deleted: 1 });
  });
});
