import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';

// Run health (docs/concepts/how-a-pass-works.md, "Run health") against the
// real Prefect 3.9.1: flow runs made through its API in the states a fleet
// shows — completed on a deployment a worker polls, crashed, late, none — and
// what a full pass reads of them in one batched call, as status --json, the
// ops API and /metrics show it. Every connector here is `synced`: only run
// health tells them apart.

let env: TestEnv;
let api: ReturnType<typeof prefectApi>;
/** Connector id by role, and each one's deployment id. */
const ids: Record<'healthy' | 'crashing' | 'late' | 'idle' | 'paused', string> = {} as never;
const deployments = new Map<string, string>();

const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString();

/** A run of the deployment expected `m` minutes ago, then forced into `type` (Prefect's set_state with force). */
async function runIn(deploymentId: string, m: number, type: string | null): Promise<string> {
  const made = await api.call<{ id: string }>(
    'POST',
    `/deployments/${deploymentId}/create_flow_run`,
    { state: { type: 'SCHEDULED', state_details: { scheduled_time: minutesAgo(m) } } },
  );
  expect(made.status).toBe(201);
  if (type) {
    const set = await api.call('POST', `/flow_runs/${made.data.id}/set_state`, {
      state: { type },
      force: true,
    });
    expect(set.status).toBe(201);
  }
  return made.data.id;
}

beforeAll(async () => {
  env = await createTestEnv();
  api = prefectApi(env.apiUrl);
  const [healthy, crashing, late, idle, paused] = await insertConnectors(env, [
    { name: 'runs fine', schedule: '0 1 * * *' },
    { name: 'crashes', schedule: '0 2 * * *' },
    { name: 'nobody picks it up', schedule: '0 3 * * *' },
    { name: 'never ran', schedule: '0 4 * * *' },
    { name: 'switched off', schedule: '0 5 * * *', is_active: false },
  ]);
  Object.assign(ids, { healthy, crashing, late, idle, paused });
  const first = await env.cli(['run', '--once', '--json']);
  expect(first.code).toBe(0);
  for (const d of await api.deploymentsByTag(env.tag))
    deployments.set(String(d.name).replace('connector-', ''), d.id);

  const of = (id: string) => deployments.get(id)!;
  await runIn(of(ids.healthy), 90, 'COMPLETED');
  await runIn(of(ids.healthy), 30, 'COMPLETED');
  await runIn(of(ids.crashing), 90, 'COMPLETED');
  await runIn(of(ids.crashing), 30, 'CRASHED');
  await runIn(of(ids.late), 10, null); // still Scheduled, 10 minutes after its time
  // A worker polling for these two deployments' runs: Prefect marks them READY.
  const polled = await api.call('POST', '/deployments/get_scheduled_flow_runs', {
    deployment_ids: [of(ids.healthy), of(ids.crashing)],
    scheduled_before: minutesAgo(-1),
  });
  expect(polled.status).toBe(200);
  const ready = await eventually(
    async () =>
      (await api.deploymentsByTag(env.tag))
        .filter((d) => d.status === 'READY')
        .map((d) => d.id)
        .sort(),
    (r) => r.length === 2,
  );
  expect(ready).toEqual([of(ids.healthy), of(ids.crashing)].sort());
}, 180_000);

afterAll(async () => {
  await env?.cleanup();
});

describe('run health', () => {
  it('a full pass reads every deployment’s runs in one batched call; status --json shows them, crashes as failing whatever the sync status', async () => {
    const pass = await env.cli(['run', '--once', '--json']);
    expect(pass.code).toBe(0);
    const out = JSON.parse(pass.stdout);
    expect(out.prefect_calls.writes).toBe(0);
    // The listing, the flow lookup, and the one flow-run read (5 deployments: one page).
    expect(out.prefect_calls.byRoute).toEqual({
      'GET /flows/name/{name}': 1,
      'POST /deployments/paginate': 1,
      'POST /flow_runs/filter': 1,
    });

    const status = await env.cli(['status', '--json']);
    expect(status.code).toBe(0);
    const byId = new Map(
      JSON.parse(status.stdout).connectors.map((c: any) => [c.connector_id, c] as const),
    );
    const health = (id: string) => (byId.get(id) as any).run_health;
    for (const id of Object.values(ids)) expect((byId.get(id) as any).status).toBe('synced');
    expect(health(ids.healthy)).toMatchObject({
      health: 'healthy',
      readiness: 'READY',
      last_run_state: 'Completed',
      last_run_state_type: 'COMPLETED',
      runs_late: 0,
      failed_runs: 0,
      of_last_runs: 2,
      deployment_id: deployments.get(ids.healthy),
    });
    expect(health(ids.crashing)).toMatchObject({
      health: 'failing',
      readiness: 'READY',
      last_run_state: 'Crashed',
      failed_runs: 1,
      of_last_runs: 2,
    });
    expect(health(ids.late)).toMatchObject({
      health: 'late',
      readiness: 'NOT_READY',
      last_run_state_type: 'SCHEDULED',
      runs_late: 1,
    });
    expect(health(ids.idle)).toMatchObject({
      health: 'not-ready',
      last_run_state: null,
      last_run_at: null,
    });
    expect(health(ids.paused)).toMatchObject({ health: 'paused' });
    // When the crashed run started: the last run's time is Prefect's.
    expect(Date.parse(health(ids.crashing).last_run_at)).toBeGreaterThan(Date.now() - 120_000);

    const text = await env.cli(['status']);
    expect(text.stdout.split('\n')[0]).toMatch(
      /^CONNECTOR +STATUS +RELEASE +HEALTH +LAST RUN +LATE +FAILED /,
    );
    expect(text.stdout).toMatch(
      new RegExp(`^${ids.crashing} +synced +\\S+ +failing +Crashed \\S+ +0 +1/2 `, 'm'),
    );
    expect(text.stdout).toMatch(/run health: .*1 failing/);
  }, 90_000);

  it('a dry run (plan) neither reads runs nor writes run health', async () => {
    const before = await env.sql(
      'SELECT connector_id, checked_at FROM connector_sync.run_health ORDER BY 1',
    );
    const plan = await env.cli(['plan', '--json']);
    expect(plan.code).toBe(0);
    expect(
      await env.sql('SELECT connector_id, checked_at FROM connector_sync.run_health ORDER BY 1'),
    ).toEqual(before);
  });

  describe('the worker', () => {
    let worker: WorkerProcess;
    beforeAll(async () => {
      // Only the start pass runs: the schedule is a year away.
      worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
      await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
    }, 180_000);
    afterAll(async () => {
      worker?.kill('SIGTERM');
      await worker?.exited;
    });

    it('/api/connectors and /api/connectors/<id> carry each connector’s run health', async () => {
      const page: any = await (await fetch(`${worker.baseUrl}/api/connectors`)).json();
      const health = Object.fromEntries(
        page.connectors.map((c: any) => [c.connector_id, c.run_health?.health ?? null]),
      );
      expect(health).toEqual({
        [ids.healthy]: expect.stringMatching(/^(healthy|not-ready)$/), // READY lapses after a minute unpolled
        [ids.crashing]: 'failing',
        [ids.late]: 'late',
        [ids.idle]: 'not-ready',
        [ids.paused]: 'paused',
      });
      const one: any = await (
        await fetch(`${worker.baseUrl}/api/connectors/${ids.crashing}`)
      ).json();
      expect(one.connector).toMatchObject({
        status: 'synced',
        run_health: { health: 'failing', last_run_state: 'Crashed', failed_runs: 1 },
      });
    });

    // As console.test.ts does: Debian's chromium, skipped only where it cannot be installed.
    it.skipIf(!existsSync('/usr/bin/chromium'))(
      'the console: a Runs column with each connector’s badge, and a line on its page',
      async () => {
        const browser = await chromium.launch({
          executablePath: '/usr/bin/chromium',
          args: ['--no-sandbox'],
        });
        try {
          const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
          const problems: string[] = [];
          page.on('pageerror', (error) => problems.push(error.message));
          await page.goto(`${worker.baseUrl}/`);
          const row = (id: string) => page.locator(`tr[data-connector="${id}"]`);
          await row(ids.crashing).waitFor();
          expect(await page.locator('#connectors thead th').allInnerTexts()).toContain('Last run');
          const badge = row(ids.crashing).locator('.rh');
          expect(await badge.innerText()).toBe('failing');
          expect(await badge.getAttribute('class')).toBe('rh rh-failing');
          expect(await badge.getAttribute('title')).toMatch(
            /^Run health: failing; last run Crashed at .* UTC; 1 of the last 2 failed; 0 late; Prefect says (NOT_)?READY$/,
          );
          const lastRun = (await page.locator('#connectors thead th').allInnerTexts()).indexOf(
            'Last run',
          );
          expect(await row(ids.late).locator('> *').nth(lastRun).innerText()).toBe('late 1 late');
          expect(await row(ids.paused).locator('.rh').innerText()).toBe('paused');
          mkdirSync(join(REPO, '.tmp'), { recursive: true });
          await page.screenshot({ path: join(REPO, '.tmp/console-run-health.png') });
          await page.goto(`${worker.baseUrl}/#connector=${ids.crashing}`);
          await expect
            .poll(() => page.locator('#connector-state').innerText())
            .toMatch(/Status synced; .* Run health: failing; last run Crashed/);
          expect(problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      60_000,
    );

    it('/metrics: connectors by run health, and the late runs', async () => {
      const metrics = parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text());
      expect(metrics.types.get('connector_sync_connector_runs')).toBe('gauge');
      expect(metrics.value('connector_sync_connector_runs', { health: 'failing' })).toBe(1);
      expect(metrics.value('connector_sync_connector_runs', { health: 'late' })).toBe(1);
      expect(metrics.value('connector_sync_connector_runs', { health: 'paused' })).toBe(1);
      const healthyOrNot =
        metrics.value('connector_sync_connector_runs', { health: 'healthy' })! +
        metrics.value('connector_sync_connector_runs', { health: 'not-ready' })!;
      expect(healthyOrNot).toBe(2);
      expect(metrics.value('connector_sync_runs_late')).toBe(1);
      // The worker's start pass made the one batched read, as every full pass does.
      expect(
        metrics.value('connector_sync_prefect_requests_total', {
          method: 'POST',
          route: '/flow_runs/filter',
          status: '200',
        }),
      ).toBe(1);
    });
  });
});
