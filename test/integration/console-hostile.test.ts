import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';

// Rows are data, never markup: connectors whose name, error message and
// suspension reason are HTML and script, shown by the console in headless
// Chromium. Each appears as the text it is; no element of theirs is made, no
// script of theirs runs, nothing they name is fetched.

const CHROMIUM = '/usr/bin/chromium';
const NAME = `<img src=x onerror="window.__xss='name'">`;
const TIMEZONE = `</script><script>window.__xss='timezone'</script>`;
const REASON = `" onmouseover="window.__xss='reason'" autofocus onfocus="window.__xss='focus'`;
const SECOND = `<script>window.__xss='second'</script><svg onload="window.__xss='svg'">`;

let env: TestEnv;
let worker: WorkerProcess;
let hostile: string;
let second: string;

beforeAll(async () => {
  env = await createTestEnv();
  [hostile, second] = (await insertConnectors(env, [
    // Its timezone is refused, and the refusal quotes it: `</script>` in an error message.
    { name: NAME, schedule: '0 1 * * *', timezone: TIMEZONE },
    { name: SECOND, schedule: '0 2 * * *' },
  ])) as [string, string];
  worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
  const suspended = await env.cli(['suspend', second, '--reason', REASON, '--by', NAME]);
  expect(suspended.code, suspended.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

describe.skipIf(!existsSync(CHROMIUM))('the console with hostile rows', () => {
  it('the rows are invalid and suspended as their data says, their texts kept as they are', async () => {
    const [state] = await env.sql<{ status: string; last_error: string }>(
      'SELECT status, last_error FROM connector_sync.connector_state WHERE connector_id = $1',
      [hostile],
    );
    expect(state?.status).toBe('invalid');
    expect(state?.last_error).toContain(TIMEZONE);
  });

  it('shows every hostile text as text: no element made, no script run, nothing fetched', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requested: string[] = [];
      const dialogs: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => requested.push(new URL(r.url()).pathname));
      page.on('dialog', (d) => void d.dismiss().then(() => dialogs.push(d.message())));
      await page.addInitScript(() => {
        const w = globalThis as any;
        w.document.addEventListener('securitypolicyviolation', (e: any) =>
          w.__violations.push(e.violatedDirective),
        );
        (globalThis as any).__violations = [];
      });

      await page.goto(`${worker.baseUrl}/`);
      await page.locator(`#connectors tbody tr[data-connector="${hostile}"]`).waitFor();
      const fleet = (await page.locator('#connectors').textContent()) ?? '';
      expect(fleet).toContain(TIMEZONE);
      expect(fleet).toContain(REASON);
      expect(fleet).toContain(`suspended by ${NAME}`);
      // Every hover and focus a hostile attribute could hang on.
      await page.locator(`#connectors tbody tr[data-connector="${second}"] .reason`).hover();

      for (const id of [hostile, second]) {
        await page.goto(`${worker.baseUrl}/#connector=${encodeURIComponent(id)}`);
        await page.reload();
        await page.locator('#history tbody tr').first().waitFor();
        await page.waitForFunction(() =>
          Boolean((globalThis as any).document.getElementById('connector-state')?.textContent),
        );
      }
      // The hostile connector's own page: its name in the title, its refusal in its history.
      await page.goto(`${worker.baseUrl}/#connector=${encodeURIComponent(hostile)}`);
      await page.reload();
      await page.locator('#history tbody tr').first().waitFor();
      await page.waitForFunction(
        (name) =>
          (globalThis as any).document
            .getElementById('connector-title')
            ?.textContent?.includes(name),
        NAME,
      );
      expect(await page.locator('#history').textContent()).toContain(TIMEZONE);
      expect(await page.locator('#connector-state').textContent()).toContain(TIMEZONE);

      const made = await page.evaluate(() => {
        const document = (globalThis as any).document;
        return {
          xss: (globalThis as any).__xss ?? null,
          violations: (globalThis as any).__violations as string[],
          images: document.querySelectorAll('img').length,
          svgs: document.querySelectorAll('svg[onload]').length,
          scripts: [...document.querySelectorAll('script')].map((s: any) => s.getAttribute('src')),
          handlers: [...document.querySelectorAll('*')].filter((el: any) =>
            [...el.attributes].some((a: any) => a.name.startsWith('on')),
          ).length,
        };
      });
      expect(made).toEqual({
        xss: null,
        violations: [],
        images: 0,
        svgs: 0,
        scripts: ['app.js'],
        handlers: 0,
      });
      expect(requested.filter((p) => p === '/x')).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('answers every page with the headers that forbid inline script and framing', async () => {
    const response = await fetch(`${worker.baseUrl}/`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
