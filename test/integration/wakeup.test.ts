import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// With the opt-in trigger installed, a row change reaches Prefect without
// waiting for the schedule, through a pass over just that connector.

let env: TestEnv;
let worker: WorkerProcess;
let ids: string[];

beforeAll(async () => {
  env = await createTestEnv();
  ids = await insertConnectors(
    env,
    Array.from({ length: 30 }, (_, i) => ({ name: `c${i}`, schedule: '0 1 * * *' })),
  );
  await env.sql(readFileSync(join(REPO, 'sql/optional/wakeup_trigger.sql'), 'utf8'));
  // The schedule is far away: only the start pass and wake-ups run.
  worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full');
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

async function cronInPrefect(id: string): Promise<string | undefined> {
  const [d] = (
    await prefectApi(env.apiUrl).call<any[]>('POST', '/deployments/filter', {
      deployments: { name: { any_: [`connector-${id}`] }, tags: { all_: [env.tag] } },
    })
  ).data;
  return d?.schedules[0]?.schedule.cron;
}

describe('NOTIFY wake-ups', () => {
  it('an UPDATE reaches Prefect in well under the schedule, via a targeted pass', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = ids[i]!;
      const cron = `${i} 2 * * *`;
      const started = performance.now();
      await env.sql(`UPDATE cai_connectors SET schedule = $1 WHERE id = $2`, [cron, id]);
      while ((await cronInPrefect(id)) !== cron) {
        if (performance.now() - started > 10_000)
          throw new Error(`connector ${id} not updated in 10 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      delays.push(performance.now() - started);
    }
    delays.sort((a, b) => a - b);
    console.log(
      `wake-up delay (UPDATE committed → Prefect shows it), 10 changes: p50 ${delays[4]!.toFixed(0)} ms, max ${delays[9]!.toFixed(0)} ms`,
    );
    expect(delays[9]!).toBeLessThan(5_000);
    // Prefect shows the last change a moment before its pass confirms it and finishes.
    const updatedEvents = () =>
      env.sql<{ connector_id: string }>(
        `SELECT connector_id FROM connector_sync.events WHERE action = 'updated'`,
      );
    await expect.poll(async () => (await updatedEvents()).length, { timeout: 10_000 }).toBe(10);
    await expect
      .poll(() => worker.logs.filter((l) => l.msg === 'pass finished').length, { timeout: 10_000 })
      .toBeGreaterThan(1);
    const targeted = worker.logs.filter((l) => l.msg === 'pass finished' && l.kind === 'targeted');
    expect(targeted.length).toBeGreaterThanOrEqual(1);
    // A targeted pass lists only its connectors' deployments: a handful of reads, one write.
    for (const pass of targeted) expect(pass.reads as number).toBeLessThanOrEqual(6);
    expect(worker.logs.filter((l) => l.msg === 'pass finished' && l.kind === 'full')).toHaveLength(
      1,
    );
    expect((await updatedEvents()).map((e) => e.connector_id).sort()).toEqual(
      ids.slice(0, 10).sort(),
    );
  });

  it('an INSERT creates, a DELETE deletes, and a burst becomes few passes', async () => {
    const before = worker.logs.filter((l) => l.msg === 'pass finished').length;
    const [fresh] = await insertConnectors(env, [{ name: 'new one', schedule: '5 5 * * *' }]);
    await expect.poll(() => cronInPrefect(fresh!), { timeout: 10_000 }).toBe('5 5 * * *');

    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [ids[29]]);
    await expect.poll(() => cronInPrefect(ids[29]!), { timeout: 10_000 }).toBeUndefined();
    // Prefect has deleted it; the event is confirmed right after (a moment later on a busy machine).
    const deletedEvents = () =>
      env.sql<{ connector_id: string }>(
        `SELECT connector_id FROM connector_sync.events WHERE action = 'deleted'`,
      );
    await expect.poll(async () => (await deletedEvents()).length, { timeout: 10_000 }).toBe(1);
    expect((await deletedEvents())[0]!.connector_id).toBe(ids[29]);

    // One statement touching 15 rows: 15 NOTIFYs, merged by the debounce.
    await env.sql(`UPDATE cai_connectors SET schedule = '9 9 * * *' WHERE id = ANY($1::bigint[])`, [
      ids.slice(10, 25),
    ]);
    await expect.poll(() => cronInPrefect(ids[24]!), { timeout: 10_000 }).toBe('9 9 * * *');
    await expect
      .poll(
        async () =>
          (await env.sql(`SELECT 1 FROM connector_sync.events WHERE action = 'updated'`)).length,
        { timeout: 10_000 },
      )
      .toBe(25);
    // The pass logs that it finished once its history is written, just after its events.
    await worker.waitForLog(
      (l) =>
        l.msg === 'pass finished' &&
        Array.isArray(l.connectors) &&
        l.connectors.includes(String(ids[24])),
    );
    const passes = worker.logs.filter((l) => l.msg === 'pass finished').length - before;
    expect(passes).toBeLessThanOrEqual(5);
    // The worker's write-back of prefect_deployment_id does not wake it again (the trigger ignores that column).
    const quiet = worker.logs.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(worker.logs.slice(quiet).filter((l) => l.msg === 'pass finished')).toEqual([]);
  });
});
