import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// plan with differences that only a suspension holds back says so: the
// connector's line reads "would change", and the exit code is 3 (nothing else
// to do, but a suspended connector differs from its row).

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

describe('differences a suspension holds back', () => {
  it('plan exits 0 while the suspended row matches, 3 once it differs; resume lets it go', async () => {
    expect((await env.cli(['suspend', id, '--reason', 'migrating'])).code).toBe(0);
    const same = await env.cli(['plan']);
    expect(same.code).toBe(0);
    expect(same.stdout).not.toContain('would change');

    await env.sql(`UPDATE cai_connectors SET schedule = '0 2 * * *' WHERE id = $1`, [id]);
    const held = await env.cli(['plan']);
    expect(held.code).toBe(3);
    expect(held.stdout).toMatch(/= suspended connector-\d+ +left as it is, would change/);
    const json = JSON.parse((await env.cli(['plan', '--json'])).stdout);
    expect(json.suspended).toEqual([
      expect.objectContaining({ connector_id: id, would_change: true }),
    ]);
    expect((await env.cli(['run', '--once'])).code).toBe(3);

    expect((await env.cli(['resume', id])).code).toBe(0);
    expect((await env.cli(['plan'])).code).toBe(2);
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const [deployment] = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    expect(deployment!.schedules.map((s: any) => s.schedule.cron)).toEqual(['0 2 * * *']);
  });
});
