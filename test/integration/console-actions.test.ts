import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// The console's actions (docs/guides/operating.md, "Console") in a real
// headless Chromium, logged in as alice with the API's token, against a real
// worker and Prefect: the fleet in numeric id order with names, schedules and
// clickable status chips; sync now (the deployment changes in Prefect), retry,
// suspend and resume, approving a held delete (the tombstone then hidden until
// asked for), and a release rolling out in waves gated on a run — its waves
// and gate shown, then paused, resumed, promoted and aborted from the page, a
// rollback it refuses said plainly. Each checked in Postgres with who acted;
// the CSRF checks; axe-core. Screenshot: .tmp/console-actions.png.

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'console-actions-token-0123456789';
const SCREENSHOT = join(REPO, '.tmp/console-actions.png');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const NO_FULL_PASS = { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' };
const BY = 'alice (console)';

const skip = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing`;

let env: TestEnv;
let worker: WorkerProcess;
let browser: Browser;
let ids: string[];
let invalidId: string;

/** The same configuration with another deployment.version: a new release. */
function configWithVersion(env: TestEnv, version: string): string {
  const config = parse(readFileSync(env.configFile, 'utf8')) as Record<string, any>;
  config.deployment.version = version;
  const file = join(dirname(env.configFile), `config-${version}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

beforeAll(async () => {
  if (skip) return;
  env = await createTestEnv({
    config: {
      deployment: { version: 'v1' },
      // Every delete is held until approved; a release goes to 1 connector first, gated on its run.
      reconcile: { deleteBudget: { limit: 0, window: '1h' } },
      rollout: { waves: [1, '100%'], verify: 'trigger', gateTimeout: '1h', checkEvery: '2s' },
    },
  });
  ids = await insertConnectors(
    env,
    Array.from({ length: 11 }, (_, i) => ({ name: `acts-${i + 1}`, schedule: `${i} 4 * * *` })),
  );
  [invalidId] = (await insertConnectors(env, [{ name: 'bad', schedule: 'at noon' }])) as [string];
  // Release v1: the fleet as it is. Then the worker meets v2 and starts it in waves.
  expect((await env.cli(['run', '--once'])).code).toBe(1); // the invalid row
  worker = await startWorker(env, {
    ...NO_FULL_PASS,
    CONNECTOR_SYNC_CONFIG: configWithVersion(env, 'v2'),
    CONNECTOR_SYNC_HTTP_TOKEN: TOKEN,
  });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

async function openConsole(): Promise<Page> {
  const context = await browser.newContext({
    bypassCSP: true, // only so that axe-core can be injected
    viewport: { width: 1280, height: 900 },
    httpCredentials: { username: 'alice', password: TOKEN },
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  await page.goto(`${worker.baseUrl}/`);
  await page.locator('#connectors tbody tr[data-connector]').first().waitFor();
  return page;
}

const rowIds = (page: Page): Promise<string[]> =>
  page
    .locator('#connectors tbody tr[data-connector]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-connector') ?? ''));

/** Clicks, then waits for the page's answer to that action; its text. */
async function actAndRead(page: Page, click: () => Promise<void>): Promise<string> {
  await page.evaluate(() => {
    (globalThis as any).document.getElementById('action-result').className = 'action-result';
  });
  await click();
  const result = page.locator('#action-result.good, #action-result.bad');
  await result.waitFor({ timeout: 60_000 });
  return `${await result.getAttribute('class')}: ${await result.innerText()}`;
}

async function openConnector(page: Page, id: string): Promise<void> {
  await page.evaluate((h) => ((globalThis as any).location.hash = h), `#connector=${id}`);
  await expect
    .poll(() => page.locator('#connector-state').innerText(), { timeout: 15_000 })
    .toMatch(/Status/);
}

async function releaseState(id: string): Promise<string> {
  const [row] = await env.sql<{ state: string }>(
    'SELECT state FROM connector_sync.releases WHERE id = $1',
    [id],
  );
  return row!.state;
}

async function releaseEventBy(action: string): Promise<string | undefined> {
  const rows = await env.sql<{ by: string }>(
    `SELECT payload->>'by' AS by FROM connector_sync.events WHERE action = $1 ORDER BY seq DESC LIMIT 1`,
    [action],
  );
  return rows[0]?.by;
}

describe.skipIf(skip)('the console acts', () => {
  it('every action from the page, checked in Postgres and Prefect', async () => {
    const page = await openConsole();
    // The fleet: ids in numeric order (9 before 10), names and schedules from the rows.
    const numeric = [...ids, invalidId].sort((a, b) => Number(a) - Number(b));
    expect(await rowIds(page)).toEqual(numeric);
    const first = page.locator(`tr[data-connector="${ids[0]}"] > *`);
    expect(await first.nth(1).innerText()).toMatch(/^acts-1/);
    expect(await first.nth(5).innerText()).toBe('0 4 * * *');
    expect(await first.nth(6).innerText()).toBe('no');
    // A chip filters when clicked, and clears when clicked again.
    await page.locator('#counts button[data-status="invalid"]').click();
    await expect.poll(() => rowIds(page)).toEqual([invalidId]);
    await page.locator('#counts button[data-status="invalid"]').click();
    await expect.poll(async () => (await rowIds(page)).length).toBe(12);

    // Sync now: the row's new schedule reaches Prefect at once.
    const target = ids[1]!;
    await env.sql(`UPDATE cai_connectors SET schedule = '45 7 * * *' WHERE id = $1`, [target]);
    await openConnector(page, target);
    const synced = await actAndRead(page, () => page.locator('#sync-now').click());
    expect(synced).toMatch(
      new RegExp(`^action-result good: Sync connector ${target}: .*update`, 's'),
    );
    expect(synced).toContain(`(by ${BY})`);
    const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    const deployment = deployments.find((d) => d.name === `connector-${target}`)!;
    expect(deployment.schedules.map((s: any) => s.schedule.cron)).toEqual(['45 7 * * *']);
    const [request] = await env.sql<{ requested_by: string; connector_ids: string[] }>(
      `SELECT requested_by, connector_ids FROM connector_sync.sync_requests
        WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`,
    );
    expect(request).toEqual({ requested_by: BY, connector_ids: [target] });

    // Retry: the invalid connector is handed over again (and is still invalid: said plainly).
    const retried = await actAndRead(page, () => page.locator('#retry-failed').click());
    expect(retried).toMatch(/^action-result bad: Retry .*invalid/s);
    const [retry] = await env.sql<{ connector_ids: string[] }>(
      `SELECT connector_ids FROM connector_sync.sync_requests ORDER BY id DESC LIMIT 1`,
    );
    expect(retry!.connector_ids).toEqual([invalidId]);

    // Suspend with a reason, then resume.
    const held = ids[2]!;
    await openConnector(page, held);
    await page.fill('#suspend-reason', 'migrating');
    expect(await actAndRead(page, () => page.locator('#suspend').click())).toMatch(
      /^action-result good: Suspend connector .*: Suspended connector/s,
    );
    expect(
      await env.sql(
        'SELECT suspended_by, reason FROM connector_sync.suspensions WHERE connector_id = $1',
        [held],
      ),
    ).toEqual([{ suspended_by: BY, reason: 'migrating' }]);
    await page.locator('#resume:not([hidden])').waitFor();
    expect(await actAndRead(page, () => page.locator('#resume').click())).toMatch(
      /Resumed connector/,
    );
    expect(
      await env.sql('SELECT 1 FROM connector_sync.suspensions WHERE connector_id = $1', [held]),
    ).toEqual([]);

    // A deleted row's delete is held; approved from the page, the deployment goes.
    const gone = ids[10]!;
    await env.sql('DELETE FROM cai_connectors WHERE id = $1', [gone]);
    await openConnector(page, gone);
    expect(await actAndRead(page, () => page.locator('#sync-now').click())).toMatch(/held/);
    await page.locator('#approve-delete:not([hidden])').waitFor({ timeout: 15_000 });
    expect(await actAndRead(page, () => page.locator('#approve-delete').click())).toMatch(
      /^action-result good: Approve the held delete .*delete/s,
    );
    const [tomb] = await env.sql<{ status: string }>(
      'SELECT status FROM connector_sync.connector_state WHERE connector_id = $1',
      [gone],
    );
    expect(tomb!.status).toBe('deleted');
    const left = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    expect(left.map((d) => d.name)).not.toContain(`connector-${gone}`);
    // An approval with nothing held is refused, plainly.
    await openConnector(page, ids[0]!);
    const none = await page.evaluate(async (id) => {
      const r = await fetch('/api/actions/approve-deletes', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-connector-sync-action': '1' },
        body: JSON.stringify({ connectors: [id] }),
      });
      return [r.status, ((await r.json()) as { error: string }).error] as const;
    }, ids[0]!);
    expect(none).toEqual([409, `no held delete for connector ${ids[0]}`]);
    // The tombstone is hidden until asked for.
    await page.evaluate(() => ((globalThis as any).location.hash = ''));
    await expect.poll(() => rowIds(page)).not.toContain(gone);
    await page.locator('#show-deleted').check();
    await expect.poll(() => rowIds(page)).toContain(gone);
    await page.locator('#show-deleted').uncheck();

    // The release in progress, live: v2's first wave, gated on its canary's run.
    await expect
      .poll(() => page.locator('#release-progress').innerText(), { timeout: 60_000 })
      .toMatch(
        /Release v2: rolling-out[\s\S]*Wave 1 \(1\): gated, 1 connectors[\s\S]*Gate of wave 1/,
      );
    expect(await page.locator('#gate-runs tbody tr').count()).toBe(1);
    const verb = (release: string, v: string) =>
      page.locator(`#release-ledger tr[data-release="${release}"] button[data-verb="${v}"]`);
    expect(await actAndRead(page, () => verb('v2', 'pause').click())).toMatch(
      /good: pause release v2/,
    );
    expect(await releaseState('v2')).toBe('paused');
    expect(await releaseEventBy('release-paused')).toBe(BY);
    await expect.poll(() => page.locator('#release-progress').innerText()).toMatch(/v2: paused/);
    expect(await actAndRead(page, () => verb('v2', 'resume').click())).toMatch(/good: resume/);
    expect(await releaseState('v2')).toBe('rolling-out');
    expect(await releaseEventBy('release-resumed')).toBe(BY);
    await verb('v2', 'promote').waitFor();
    expect(await actAndRead(page, () => verb('v2', 'promote').click())).toMatch(/good: promote/);
    expect(await releaseEventBy('release-wave-passed')).toBe(BY);
    // The next wave (everyone) is written by the leader's pass: shown live.
    await expect
      .poll(() => page.locator('#release-progress').innerText(), { timeout: 60_000 })
      .toMatch(/Wave 1 \(1\): passed/);
    await page.fill('#release-reason', 'bad canary');
    expect(await actAndRead(page, () => verb('v2', 'abort').click())).toMatch(/good: abort/);
    expect(await releaseState('v2')).toBe('failed');
    // A verb the release's state does not allow: refused, in plain words.
    await verb('v1', 'rollback').waitFor();
    expect(await actAndRead(page, () => verb('v1', 'rollback').click())).toMatch(
      /^action-result bad: rollback release v1: release v1 is already the release the fleet rests on/,
    );

    // Accessibility: no serious or critical axe-core violation, with the actions' results shown.
    await openConnector(page, ids[0]!);
    await page.addScriptTag({ path: AXE });
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<any> } }).axe;
      const result = await axe.run();
      return (result.violations as { id: string; impact: string; help: string }[])
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help}`);
    });
    expect(violations).toEqual([]);
    mkdirSync(join(REPO, '.tmp'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.context().close();
  }, 300_000);

  it('actions are POST only, need the credential and refuse what another site could send', async () => {
    const url = `${worker.baseUrl}/api/actions/sync`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ connectors: [ids[0]] });
    const post = (headers: Record<string, string>) => fetch(url, { method: 'POST', headers, body });
    expect((await post({ ...json, 'x-connector-sync-action': '1' })).status).toBe(401);
    expect((await fetch(url, { headers: auth })).status).toBe(405);
    expect((await post({ ...auth, ...json })).status).toBe(403);
    const csrf = { ...auth, ...json, 'x-connector-sync-action': '1' };
    expect((await post({ ...csrf, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ ...csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ ...csrf, 'content-type': 'text/plain' })).status).toBe(403);
    const unknown = await fetch(url, {
      method: 'POST',
      headers: csrf,
      body: JSON.stringify({ connectors: ['no-such'] }),
    });
    expect(unknown.status).toBe(404);
    const ok = await post({ ...csrf, origin: worker.baseUrl });
    expect(ok.status).toBe(200);
    const answer = (await ok.json()) as { by: string; message: string };
    expect(answer.by).toBe('anonymous (console)');
    const named = await fetch(url, {
      method: 'POST',
      headers: csrf,
      body: JSON.stringify({ connectors: [ids[0]], by: 'bob' }),
    });
    expect(((await named.json()) as { by: string }).by).toBe('bob (console)');
  }, 120_000);
});
