import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

const CHROMIUM = '/usr/bin/chromium';

// A row edited into something invalid leaves its deployment running the last
// good spec: plan and status say so, with the time of that spec, and Prefect
// keeps the deployment exactly as it was.

let env: TestEnv;
let id: string;

beforeAll(async () => {
  env = await createTestEnv();
  [id] = (await insertConnectors(env, [{ name: 'Orders', schedule: '0 1 * * *' }])) as [string];
  await env.pass();
});
afterAll(async () => {
  const api = prefectApi(env.apiUrl);
  for (const d of await api.deploymentsByTag(env.tag))
    await api.call('DELETE', `/deployments/${d.id}`);
  await env?.cleanup();
});

describe('an invalid edit of a synced connector', () => {
  it('plan and status say it still runs the spec of its last sync; Prefect keeps it', async () => {
    const [before] = await env.sql<{ last_synced_at: Date }>(
      'SELECT last_synced_at FROM connector_sync.connector_state WHERE connector_id = $1',
      [id],
    );
    const since = before!.last_synced_at.toISOString();
    await env.sql(`UPDATE cai_connectors SET schedule = 'not a cron' WHERE id = $1`, [id]);

    const plan = await env.cli(['plan']);
    expect(plan.stdout).toContain(`— still running the spec of ${since}`);
    const planned = JSON.parse((await env.cli(['plan', '--json'])).stdout);
    expect(planned.problems).toEqual([
      expect.objectContaining({ connector_id: id, status: 'invalid', still_running_since: since }),
    ]);

    expect((await env.cli(['run', '--once'])).code).toBe(1);
    const status = JSON.parse((await env.cli(['status', '--json'])).stdout);
    expect(status.connectors[0]).toMatchObject({ status: 'invalid', still_running_since: since });
    expect((await env.cli(['status'])).stdout).toContain(
      `invalid — still running the spec of ${since}`,
    );
    const [deployment] = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    expect(deployment!.schedules.map((s: any) => s.schedule.cron)).toEqual(['0 1 * * *']);
  });

  it.skipIf(!existsSync(CHROMIUM))(
    'the console says so too',
    async () => {
      const worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        await page.goto(`${worker.baseUrl}/`);
        const row = page.locator(`#connectors tbody tr[data-connector="${id}"]`);
        await row.waitFor();
        expect(await row.locator('.running').innerText()).toMatch(/^still running the spec of /);
      } finally {
        await browser.close();
        worker.kill('SIGTERM');
        await worker.exited;
      }
    },
    60_000,
  );
});
