import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { eventually } from '../harness/prefect-api.js';

// The ops console (docs/guides/operating.md, "Console") in a real headless Chromium, against the
// real worker after a real first pass: the fleet from Postgres, the status
// filter and the search, one connector's history with from/to, an event that a
// later pass makes arriving without a reload, axe-core's check, and the
// standby replica serving the same page. The screenshot is kept in .tmp/.

const CHROMIUM = '/usr/bin/chromium';
const UI_URL = 'http://prefect-ui.invalid:4200';
const SCREENSHOT = join(REPO, '.tmp/console.png');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

function skipReason(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.getuid?.() === 0)
    throw new Error(`${CHROMIUM} is missing: run .ci/browser-tools (apt-get install chromium)`);
  return `${CHROMIUM} is missing and not root (install Debian's chromium package)`;
}
const skip = skipReason();

let env: TestEnv;
let worker: WorkerProcess;
let browser: Browser;
let validIds: string[];
let invalidId: string;

beforeAll(async () => {
  if (skip) return;
  env = await createTestEnv();
  validIds = await insertConnectors(
    env,
    Array.from({ length: 4 }, (_, i) => ({ name: `console-${i}`, schedule: `${i} 4 * * *` })),
  );
  [invalidId] = (await insertConnectors(env, [{ name: 'bad', schedule: 'every day at noon' }])) as [
    string,
  ];
  // Only the start pass runs on its own: the schedule is a year away.
  worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *', PREFECT_UI_URL: UI_URL });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
  // CSP is bypassed only so the test can inject axe-core; the page's own code needs no exception.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

async function openConsole(base: string): Promise<Page> {
  const context = await browser.newContext({
    bypassCSP: true,
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  await page.goto(`${base}/`);
  await page.locator('#connectors tbody tr[data-connector]').first().waitFor();
  expect(problems).toEqual([]);
  return page;
}

const rowIds = (page: Page): Promise<string[]> =>
  page
    .locator('#connectors tbody tr[data-connector]')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-connector') ?? ''));

describe.skipIf(skip)('the ops console', () => {
  it('renders the fleet, filters, opens a history, follows a live event, passes axe', async () => {
    const page = await openConsole(worker.baseUrl);
    // The fleet: every connector, counts by status, reasons, links into the Prefect UI.
    expect((await rowIds(page)).sort()).toEqual([...validIds, invalidId].sort());
    await expect.poll(() => page.locator('#counts').innerText()).toMatch(/4\s+synced/);
    expect(await page.locator('#counts').innerText()).toMatch(/1\s+invalid/);
    expect(await page.locator('#role').innerText()).toMatch(
      /^Role: leader \((idle|reconciling)\)$/,
    );
    expect(await page.locator('#prefect').innerText()).toBe('Prefect: reachable');
    const invalidRow = page.locator(`tr[data-connector="${invalidId}"]`);
    expect(await invalidRow.locator('.reason').innerText()).toMatch(/cron/);
    // The release each connector is on (the ledger's first: the fleet's as it was).
    const [{ release }] = (await env.sql<{ release: string }>(
      'SELECT release FROM connector_sync.connector_releases WHERE connector_id = $1',
      [validIds[0]],
    )) as [{ release: string }];
    const headers = await page.locator('#connectors thead th').allInnerTexts();
    const column = headers.indexOf('Release');
    expect(column).toBeGreaterThan(0);
    expect(
      await page.locator(`tr[data-connector="${validIds[0]}"] > *`).nth(column).innerText(),
    ).toBe(release);
    const [state] = await env.sql<{ deployment_id: string }>(
      'SELECT deployment_id FROM connector_sync.connector_state WHERE connector_id = $1',
      [validIds[0]],
    );
    const link = page.locator(`tr[data-connector="${validIds[0]}"] td a`);
    expect(await link.getAttribute('href')).toBe(
      `${UI_URL}/deployments/deployment/${state!.deployment_id}`,
    );
    // The chart: one bar per recorded pass, coloured by its result (the invalid row: problems).
    const passes = await env.sql<{ result: string }>(
      'SELECT result FROM connector_sync.passes ORDER BY started_at',
    );
    expect(passes.map((p) => p.result)).toEqual(['problems']);
    expect(await page.locator('#chart rect.bar').count()).toBe(1);
    expect(await page.locator('#chart rect.bar-problems title').textContent()).toMatch(
      /full pass: problems; [\d.]+ s; 4 create; 1 problems; \d+ reads, \d+ writes/,
    );

    // Filters: by status (keyboard: the select changes on its own), then a search.
    await page.selectOption('#status', 'invalid');
    await expect.poll(() => rowIds(page)).toEqual([invalidId]);
    await page.selectOption('#status', '');
    await page.fill('#q', `connector-${validIds[2]}`);
    await page.press('#q', 'Enter');
    await expect.poll(() => rowIds(page)).toEqual([validIds[2]]);
    await page.fill('#q', '');
    await page.press('#q', 'Enter');
    await expect.poll(async () => (await rowIds(page)).length).toBe(5);

    // One connector's history, reached by keyboard.
    const id = validIds[0]!;
    await page.locator(`tr[data-connector="${id}"] th a`).focus();
    await page.keyboard.press('Enter');
    await page.locator('#connector:not([hidden]) #history tbody tr').first().waitFor();
    // Its row's name beside its id, once its comparison is in.
    await expect
      .poll(() => page.locator('#connector-title').innerText())
      .toBe(`Connector ${id}: console-0`);
    expect(await page.locator('#history tbody').innerText()).toMatch(/created/);
    // Desired beside actual: in step, nothing differs.
    await page.locator('#compare tbody tr').first().waitFor();
    expect(await page.locator('#compare tbody').innerText()).toContain('4 * * *');
    expect(await page.locator('#compare tr.differs').count()).toBe(0);

    // A suspended connector keeps its status, with a badge and who/why in place of the reason.
    expect(
      (await env.cli(['suspend', validIds[3]!, '--reason', 'migrating', '--by', 'alice'])).code,
    ).toBe(0);
    await page.press('#q', 'Enter');
    const held = page.locator(`tr[data-connector="${validIds[3]}"]`);
    await expect.poll(() => held.locator('.st-suspended').count()).toBe(1);
    expect(await held.locator('.st-synced').count()).toBe(1);
    expect(await held.locator('.reason').innerText()).toMatch(
      /^suspended by alice since .+: migrating$/,
    );
    expect((await env.cli(['resume', validIds[3]!])).code).toBe(0);

    // A change the page did not make: the worker's targeted pass writes an event; it shows up live.
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await expect.poll(() => page.locator('#live').innerText()).toBe('Live: on');
    await env.sql(`UPDATE cai_connectors SET schedule = '30 6 * * *' WHERE id = $1`, [id]);
    // Before any pass: the page, opened again, shows the schedule the row now asks for.
    const setHash = (hash: string) =>
      page.evaluate((h) => ((globalThis as any).location.hash = h), hash);
    await setHash('');
    await setHash(`#connector=${id}`);
    // The schedule, and the version that hashes the desired deployment. The
    // page shows the comparison it had until the new one (read from Postgres
    // and Prefect) is in: on a busy machine that takes more than poll's 1 s.
    await expect
      .poll(() => page.locator('#compare tr.differs th code').allInnerTexts(), {
        timeout: 15_000,
      })
      .toEqual(['schedules', 'version']);
    const differs = page.locator('#compare tr.differs', { hasText: 'schedules' });
    expect(await differs.locator('td').first().innerText()).toContain('30 6 * * *');
    expect(await differs.locator('td').last().innerText()).toContain('0 4 * * *');
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [id]);
    const live = page.locator('#live-events li', { hasText: `updated connector ${id}` });
    await live.waitFor({ timeout: 30_000 });
    const update = page.locator('#history tbody tr', { hasText: 'updated' });
    await update.waitFor({ timeout: 10_000 });
    expect(await update.locator('.changes li').first().innerText()).toMatch(/→/);
    expect(await update.innerText()).toContain('30 6 * * *');
    // …and desired and actual are in step again, without a reload.
    await expect
      .poll(() => page.locator('#compare tr.differs').count(), { timeout: 15_000 })
      .toBe(0);
    expect(await page.locator('#compare tbody').innerText()).not.toContain('0 4 * * *');
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(
      42,
    );

    // Accessibility: no serious or critical axe-core violation.
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

    // The stream's Postgres connection is closed with the page.
    const streams = await eventually(
      () =>
        env.sql(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'connector-sync console stream'
              AND datname = current_database()`,
        ),
      (rows) => rows.length === 0,
    );
    expect(streams).toHaveLength(0);
  }, 120_000);

  it('/api/connectors/<id>: the state and desired beside actual; 404 and 400 for what it does not know', async () => {
    const one = await fetch(`${worker.baseUrl}/api/connectors/${validIds[1]}`);
    expect(one.status).toBe(200);
    const body: any = await one.json();
    expect(body.connector).toMatchObject({ connector_id: validIds[1], status: 'synced' });
    expect(body.comparison.desired.name).toBe(`connector-${validIds[1]}`);
    expect(body.comparison.actual.id).toBe(body.connector.deployment_id);
    expect(body.comparison.desired.fields.schedules).toEqual([
      expect.objectContaining({ cron: '1 4 * * *' }),
    ]);
    expect(body.comparison.differs).toEqual([]);
    const invalid: any = await (
      await fetch(`${worker.baseUrl}/api/connectors/${invalidId}`)
    ).json();
    expect(invalid.comparison.desired).toBeNull();
    expect(invalid.comparison.problem).toMatchObject({ status: 'invalid' });
    const none = await fetch(`${worker.baseUrl}/api/connectors/no-such-connector`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as any).error).toContain('no connector no-such-connector');
    expect((await fetch(`${worker.baseUrl}/api/connectors/${validIds[1]}?limit=5`)).status).toBe(
      400,
    );
    expect((await fetch(`${worker.baseUrl}/api/connectors/%E0%A4%A`)).status).toBe(400);
  });

  it('/api/connectors?q= matches part of the id or deployment name, wildcards taken literally', async () => {
    const ids = async (query: string): Promise<string[]> => {
      const response = await fetch(`${worker.baseUrl}/api/connectors?${query}`);
      expect(response.status, query).toBe(200);
      return ((await response.json()) as any).connectors.map((c: any) => c.connector_id);
    };
    expect((await ids('q=connector-')).sort()).toEqual([...validIds].sort());
    expect(await ids('q=%25')).toEqual([]);
    expect(await ids('q=connector_')).toEqual([]);
    expect(await ids(`q=${invalidId}&status=invalid`)).toEqual([invalidId]);
    expect(await ids(`q=${invalidId}&status=synced`)).toEqual([]);
    const page = await ids('q=connector-&limit=2');
    expect(await ids(`q=connector-&limit=2&after=${page[1]}`)).toEqual(
      [...validIds].sort().slice(2),
    );
  });

  it('the stream: Last-Event-ID resumes after that seq, in seq order; ?connector narrows it', async () => {
    const events = await env.sql<{ seq: string; id: string; connector_id: string }>(
      'SELECT seq::text, id, connector_id FROM connector_sync.events ORDER BY seq',
    );
    expect(events.length).toBeGreaterThanOrEqual(3);
    const first = events[0]!;
    const all = await readStream('', first.seq, events.length - 1);
    expect(all.map((m) => m.id)).toEqual(events.slice(1).map((e) => e.seq));
    expect(all.map((m) => JSON.parse(m.data).id)).toEqual(events.slice(1).map((e) => e.id));
    const one = events.filter((e) => e.connector_id === validIds[0]);
    const narrowed = await readStream(`?connector=${validIds[0]}`, '0', one.length);
    expect(narrowed.map((m) => m.id)).toEqual(one.map((e) => e.seq));
  }, 60_000);

  it('a standby replica serves the same console from Postgres, and says it is standby', async () => {
    const standby = await startWorker(env, {
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
      PREFECT_UI_URL: UI_URL,
    });
    try {
      const health = await eventually(
        async () => (await fetch(`${standby.baseUrl}/healthz`)).json() as Promise<any>,
        (h) => h.state === 'following',
      );
      expect(health.leader).toBe(false);
      const page = await openConsole(standby.baseUrl);
      expect((await rowIds(page)).sort()).toEqual([...validIds, invalidId].sort());
      expect(await page.locator('#role').innerText()).toBe('Role: standby (following)');
      // A page left open (its stream with it) does not hold up a graceful stop.
      standby.kill('SIGTERM');
      expect((await standby.exited).code).toBe(0);
      await page.context().close();
    } finally {
      standby.kill('SIGTERM');
      await standby.exited;
    }
  }, 60_000);
});

/** Reads `count` messages of /api/events/stream, resuming after `lastSeq`, then hangs up. */
async function readStream(
  query: string,
  lastSeq: string,
  count: number,
): Promise<{ id: string; data: string }[]> {
  const abort = new AbortController();
  const response = await fetch(`${worker.baseUrl}/api/events/stream${query}`, {
    headers: { 'last-event-id': lastSeq },
    signal: abort.signal,
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const messages: { id: string; data: string }[] = [];
  let buffer = '';
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  while (messages.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string): string | undefined =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      const id = field('id');
      const data = field('data');
      if (id !== undefined && data !== undefined) messages.push({ id, data });
    }
  }
  abort.abort();
  return messages;
}
