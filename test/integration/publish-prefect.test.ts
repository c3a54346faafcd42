import { afterEach, describe, expect, it } from 'vitest';
import { startWorker } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, SHORT_CALLS, type TestEnv } from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';
import { storedInPrefect } from '../harness/prefect-events.js';
import { startProxy } from '../harness/proxy.js';

// The event log reaches Prefect's own event stream: connector-sync.* events
// in its Event Feed, automations acting on the deployment they name, and an
// outbox that neither loses nor doubles an event across outages and kill -9.

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

/** Our events Prefect should get (not the deployment changes it emits itself), in log order. */
async function postedKinds(e: TestEnv): Promise<{ id: string; seq: string }[]> {
  return e.sql<{ id: string; seq: string }>(
    `SELECT id, seq::text AS seq FROM connector_sync.events e
      WHERE action IN ('failed', 'recovered', 'held', 'pass-failed', 'pass-aborted')
         OR (action = 'updated' AND payload ? 'drift')
      ORDER BY e.seq`,
  );
}

async function cursor(e: TestEnv, sink: string): Promise<string | null> {
  const [row] = await e.sql<{ seq: string }>(
    `SELECT seq::text AS seq FROM connector_sync.sink_cursors WHERE sink = $1`,
    [sink],
  );
  return row?.seq ?? null;
}

async function lastSeq(e: TestEnv): Promise<string> {
  const [row] = await e.sql<{ seq: string }>(
    `SELECT coalesce(max(seq), 0)::text AS seq FROM connector_sync.events`,
  );
  return row!.seq;
}

describe("connector-sync's events in Prefect's event stream", () => {
  it('an invalid connector shows under its connector-sync.* name with its deployment related; an automation pauses that deployment', async () => {
    env = await createTestEnv();
    const e = env;
    const [id] = await insertConnectors(e, [{ name: 'crm', schedule: '0 1 * * *' }]);
    expect((await e.cli(['run', '--once'])).code).toBe(0);
    const [deployment] = await prefectApi(e.apiUrl).deploymentsByTag(e.tag);
    expect(deployment).toMatchObject({ paused: false });

    // An automation of the kind ops would write: on this event, pause the deployment it names.
    const automation = await prefectApi(e.apiUrl).call<{ id: string }>('POST', '/automations/', {
      name: `cs-test-${e.id}`,
      trigger: {
        type: 'event',
        posture: 'Reactive',
        expect: ['connector-sync.connector.invalid'],
        match: { 'prefect.resource.id': `connector-sync.connector.${id}` },
        match_related: {
          'prefect.resource.id': `prefect.deployment.${deployment!.id}`,
          'prefect.resource.role': 'deployment',
        },
        threshold: 1,
        within: 0,
      },
      actions: [{ type: 'pause-deployment', source: 'inferred' }],
    });
    expect(automation.status).toBe(201);
    try {
      await e.sql(`UPDATE cai_connectors SET schedule = 'not a cron' WHERE id = $1`, [id]);
      expect((await e.cli(['run', '--once'])).code).toBe(1);

      const [logged] = await e.sql<{ id: string }>(
        `SELECT id FROM connector_sync.events WHERE action = 'failed'`,
      );
      const [posted] = await eventually(
        () => storedInPrefect(e.apiUrl, [logged!.id]),
        (found) => found.length === 1,
      );
      expect(posted).toMatchObject({
        id: logged!.id,
        event: 'connector-sync.connector.invalid',
        resource: { 'prefect.resource.id': `connector-sync.connector.${id}` },
        payload: { status: 'invalid', message: expect.stringContaining('cron') },
      });
      expect(posted!.related).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            'prefect.resource.id': `prefect.deployment.${deployment!.id}`,
            'prefect.resource.role': 'deployment',
          }),
          expect.objectContaining({ 'prefect.resource.role': 'flow' }),
          expect.objectContaining({ 'prefect.resource.role': 'work-pool' }),
        ]),
      );
      const paused = await eventually(
        () => prefectApi(e.apiUrl).deployment(deployment!.id),
        (d) => d?.paused === true,
      );
      expect(paused?.paused).toBe(true);
      // Prefect's own events for our writes are never posted a second time.
      const ours = await e.sql<{ id: string }>(
        `SELECT id FROM connector_sync.events WHERE action = 'created'`,
      );
      expect(
        await storedInPrefect(
          e.apiUrl,
          ours.map((r) => r.id),
        ),
      ).toEqual([]);
    } finally {
      await prefectApi(e.apiUrl).call('DELETE', `/automations/${automation.data.id}`);
    }
  });

  it('events.publish.prefect: false posts nothing', async () => {
    env = await createTestEnv({ config: { events: { publish: { prefect: false } } } });
    const e = env;
    await insertConnectors(e, [{ name: 'bad', schedule: 'not a cron' }]);
    expect((await e.cli(['run', '--once'])).code).toBe(1);
    const [logged] = await e.sql<{ id: string }>(`SELECT id FROM connector_sync.events`);
    expect(logged).toBeDefined();
    expect(await cursor(e, 'prefect')).toBeNull();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await storedInPrefect(e.apiUrl, [logged!.id])).toEqual([]);
  });
});

describe('the outbox to Prefect: nothing lost, nothing doubled', () => {
  it('Prefect down, the worker kill -9ed mid-publish, Prefect back: every event reaches Prefect once, in seq order', async () => {
    env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS } } });
    const e = env;
    const proxy = await startProxy(e.apiUrl, []);
    const isEvents = (method: string, path: string) => method === 'POST' && path === '/events';
    const workerEnv = { PREFECT_API_URL: proxy.url, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' };
    try {
      // 1. Prefect takes deployments but not events: connector events wait in the log.
      proxy.setFaults([{ fault: { kind: 'status', status: 503 }, match: isEvents }]);
      await insertConnectors(e, [
        ...Array.from({ length: 10 }, (_, i) => ({ name: `ok${i}`, schedule: '0 1 * * *' })),
        ...Array.from({ length: 8 }, (_, i) => ({ name: `bad${i}`, schedule: `not a cron ${i}` })),
      ]);
      let worker = await startWorker(e, workerEnv);
      await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
      await worker.waitForLog((l) => l.msg?.toString().startsWith('cannot publish') === true);
      const backlog = Number(await lastSeq(e)) - Number(await cursor(e, 'prefect'));
      expect(backlog).toBeGreaterThan(0);
      // The gauge is refreshed just after the failed attempt that logged.
      const metrics = await eventually(
        async () => parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text()),
        (m) => m.value('connector_sync_publish_backlog_events', { sink: 'prefect' }) === backlog,
      );
      expect(metrics.value('connector_sync_publish_backlog_events', { sink: 'prefect' })).toBe(
        backlog,
      );

      // 2. Prefect goes away altogether: the passes fail, and say so in the log.
      proxy.setFaults([{ fault: { kind: 'outage', mode: 'refuse' } }]);
      await e.sql('NOTIFY connector_sync_wakeup');
      const failedPasses = await eventually(
        () => e.sql(`SELECT 1 FROM connector_sync.events WHERE action = 'pass-failed'`),
        (rows) => rows.length > 0,
        60_000,
      );
      expect(failedPasses.length).toBeGreaterThan(0);

      // 3. Prefect is back, but the worker dies after Prefect stored a batch and
      //    before it heard so: the cursor did not move past that batch.
      await proxy.clearFaults(); // listening again
      proxy.setFaults([{ fault: { kind: 'hang', point: 'after-prefect' }, match: isEvents }]);
      const stored = await eventually(
        () =>
          Promise.resolve(proxy.forwarded.filter((c) => c.path === '/events' && c.status === 204)),
        (calls) => calls.length > 0,
        30_000,
      );
      expect(stored.length).toBeGreaterThan(0);
      worker.kill('SIGKILL');
      await worker.exited;
      const before = await cursor(e, 'prefect');
      await proxy.clearFaults();

      // 4. A new worker sends the batch again; Prefect keeps one copy of each id.
      worker = await startWorker(e, workerEnv);
      try {
        const caughtUp = await eventually(
          async () => (await cursor(e, 'prefect')) === (await lastSeq(e)),
          (done) => done,
          60_000,
        );
        expect(caughtUp).toBe(true);
      } finally {
        worker.kill('SIGTERM');
        await worker.exited;
      }
      const expected = await postedKinds(e);
      expect(expected.length).toBeGreaterThanOrEqual(9); // 8 invalid, a failed pass or more
      const sent = proxy.forwarded
        .filter((c) => c.path === '/events' && c.status === 204)
        .flatMap((c) => (JSON.parse(c.body) as { id: string }[]).map((ev) => ev.id));
      // The batch stored before the kill went twice; the cursor had not passed it.
      expect(sent.length).toBeGreaterThan(new Set(sent).size);
      expect(before).not.toBe(await lastSeq(e));
      // In the order of the log, each id once after dropping the copies.
      expect([...new Set(sent)]).toEqual(expected.map((r) => r.id));
      // Prefect's persister stores events a moment after it answered.
      const inPrefect = await eventually(
        () =>
          storedInPrefect(
            e.apiUrl,
            expected.map((r) => r.id),
          ),
        (found) => found.length >= expected.length,
      );
      expect(inPrefect.map((ev) => ev.id).sort()).toEqual(expected.map((r) => r.id).sort());
    } finally {
      await proxy.close();
    }
  });
});
