import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { NATS_URL, natsView } from '../harness/nats.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { storedInPrefect } from '../harness/prefect-events.js';

// One connector whose parameters hold `{"db": {"password": …}, "api_key": …}`,
// followed everywhere connector-sync shows or sends something: its values
// reach the deployment in Prefect and nothing else — not the worker's tables,
// its logs, the CLI's output, /api, the console's DOM, Prefect's event store
// (what our sink posted) or NATS. A rotation and a drift revert show *that*
// the masked value changed.

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'masking-token-0123456789abcdef';
const nonce = randomBytes(4).toString('hex');
const FIRST = `pw-${nonce}-first-Secr3t`;
const ROTATED = `pw-${nonce}-rotated-Secr3t`;
const EDITED = `pw-${nonce}-edited-in-prefect`;
const API_KEY = `ak-${nonce}-0b7d2a55c0ffee`;
const SECRETS = [FIRST, ROTATED, EDITED, API_KEY];
const auth = { authorization: `Bearer ${TOKEN}` };

let env: TestEnv;
let worker: WorkerProcess;
let id: string;
let deploymentId: string;
const stream = `CS_TEST_MASK_${nonce}`;
/** Everything said or shown along the way, by where it came from. */
const seen: Record<string, string> = {};

/** Keeps what `where` showed, and fails at once if it shows a secret. */
function record(where: string, text: string): void {
  seen[where] = text;
  for (const secret of SECRETS) expect(text.includes(secret), `${where}: ${secret}`).toBe(false);
}

const parameters = (password: string) => ({
  source: 'crm',
  db: { host: 'db1', password },
  api_key: API_KEY,
});

async function cli(name: string, args: string[]): Promise<string> {
  const result = await env.cli(args);
  record(name, `${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

async function api(path: string): Promise<any> {
  const response = await fetch(`${worker.baseUrl}${path}`, { headers: auth });
  const text = await response.text();
  record(`GET ${path}`, text);
  expect(response.status, path).toBe(200);
  return JSON.parse(text);
}

async function sinksCaughtUp(): Promise<boolean> {
  const rows = await env.sql<{ sink: string; done: boolean }>(
    `SELECT sink, seq = (SELECT max(seq) FROM connector_sync.events) AS done
       FROM connector_sync.sink_cursors`,
  );
  return rows.length === 2 && rows.every((r) => r.done);
}

beforeAll(async () => {
  env = await createTestEnv({
    config: {
      events: {
        publish: { prefect: true, nats: { url: NATS_URL, subject: `cs-mask-${nonce}`, stream } },
      },
    },
  });
  [id] = (await insertConnectors(env, [
    { name: 'secretive', schedule: '0 1 * * *', parameters: parameters(FIRST) },
  ])) as [string];
  await cli('plan', ['plan']);
  await cli('plan --json', ['plan', '--json']);
  worker = await startWorker(env, {
    CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
    CONNECTOR_SYNC_HTTP_TOKEN: TOKEN,
    LOG_LEVEL: 'debug',
  });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
  const [row] = await env.sql<{ prefect_deployment_id: string }>(
    'SELECT prefect_deployment_id FROM cai_connectors WHERE id = $1',
    [id],
  );
  deploymentId = row!.prefect_deployment_id;

  // A rotation in the row, then an edit made in Prefect that the next pass reverts.
  await env.sql('UPDATE cai_connectors SET parameters = $2 WHERE id = $1', [
    id,
    JSON.stringify(parameters(ROTATED)),
  ]);
  await cli('sync (rotation)', ['sync', id]);
  await prefectApi(env.apiUrl).call('PATCH', `/deployments/${deploymentId}`, {
    parameters: parameters(EDITED),
  });
  await cli('sync --json (drift)', ['sync', id, '--json']);
  expect(await eventually(sinksCaughtUp, (done) => done, 60_000)).toBe(true);
}, 300_000);

afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  const view = await natsView();
  await view.remove(stream);
  await view.close();
  await env?.cleanup();
});

describe('a secret parameter', () => {
  it('reaches the deployment in Prefect, with its real value', async () => {
    const { data } = await prefectApi(env.apiUrl).call<{ parameters: Record<string, any> }>(
      'GET',
      `/deployments/${deploymentId}`,
    );
    expect(data.parameters).toMatchObject({ db: { password: ROTATED }, api_key: API_KEY });
  });

  it("is masked in the event log, which still says that it changed (the rotation, the drift's revert)", async () => {
    const updates = await env.sql<{ payload: any }>(
      `SELECT payload FROM connector_sync.events WHERE action = 'updated' ORDER BY seq`,
    );
    expect(updates.map((u) => [u.payload.masked_changes, u.payload.drift ?? false])).toEqual([
      [['parameters.db.password'], false],
      [['parameters.db.password'], true],
    ]);
    expect(updates[0]!.payload.updates.parameters.to).toEqual({
      connector_id: Number(id),
      source: 'crm',
      db: { host: 'db1', password: '[masked]' },
      api_key: '[masked]',
    });
  });

  it('is in none of the worker’s own tables', async () => {
    const tables = await env.sql<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'connector_sync' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((t) => t.name)).toContain('events');
    for (const { name } of tables) {
      const rows = await env.sql<{ row: string }>(
        `SELECT t::text AS row FROM connector_sync."${name}" t`,
      );
      record(`table ${name}`, rows.map((r) => r.row).join('\n'));
    }
  });

  it('is in no CLI output: plan, sync, status, events', async () => {
    await cli('status', ['status']);
    await cli('status --json', ['status', '--json']);
    await cli('events', ['events']);
    const events = await cli('events --json', ['events', '--json']);
    expect(events).toContain('[masked]');
    expect(seen['sync (rotation)']).toMatch(/masked: parameters\.db\.password changed/);
  });

  it('is in no answer of /api, the live stream included', async () => {
    await api('/api/overview');
    await api('/api/connectors');
    await api('/api/events?limit=500');
    await api('/api/passes');
    const one = await api(`/api/connectors/${id}`);
    expect(one.comparison.actual.fields.parameters.db.password).toBe('[masked]');
    expect(one.comparison.maskedDiffers).toEqual([]);
    const streamed = await fetch(`${worker.baseUrl}/api/events/stream`, {
      headers: { ...auth, 'last-event-id': '0' },
    });
    const reader = streamed.body!.getReader();
    let text = '';
    while (!text.includes('"drift":true')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    await reader.cancel();
    record('GET /api/events/stream', text);
    expect(text).toContain('[masked]');
  });

  it.skipIf(!existsSync(CHROMIUM))('is in no part of the console’s DOM', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'ops', password: TOKEN },
      });
      const page = await context.newPage();
      await page.goto(`${worker.baseUrl}/#connector=${encodeURIComponent(id)}`);
      await page.locator('#history li.masked').first().waitFor();
      await page.locator('#compare tbody tr').first().waitFor();
      record('console DOM', await page.content());
      expect(await page.locator('#history').textContent()).toContain(
        'masked value changed: parameters.db.password',
      );
      expect(await page.locator('#compare').textContent()).toContain('[masked]');
    } finally {
      await browser.close();
    }
  });

  it("is in none of the events our sinks sent: Prefect's event store and NATS", async () => {
    const ids = (await env.sql<{ id: string }>('SELECT id FROM connector_sync.events')).map(
      (r) => r.id,
    );
    // Our sink's POST is accepted at once; Prefect's event persister stores
    // events in batches, later on a busy machine.
    const inPrefect = await eventually(
      () => storedInPrefect(env.apiUrl, ids),
      (found) => found.some((e) => e.event === 'connector-sync.deployment.drift-reverted'),
      90_000,
    );
    expect(inPrefect.map((e) => e.event)).toContain('connector-sync.deployment.drift-reverted');
    record('Prefect event store (our events)', JSON.stringify(inPrefect));
    const view = await natsView();
    try {
      const messages = await view.messages(stream);
      expect(messages).toHaveLength(ids.length);
      record('NATS', JSON.stringify(messages));
    } finally {
      await view.close();
    }
  }, 120_000);

  it("is, though, in Prefect's own deployment events: why real secrets belong in Secret blocks", async () => {
    // Prefect 3.9.1 emits prefect.deployment.updated with every parameter's
    // from and to in clear, whoever made the change: masking in connector-sync
    // cannot reach there (docs/guides/security.md).
    const rotatedIn = (events: { event: string; payload: unknown }[]) =>
      events.some(
        (e) =>
          e.event === 'prefect.deployment.updated' && JSON.stringify(e.payload).includes(ROTATED),
      );
    const events = await eventually(
      async () => {
        const { data } = await prefectApi(env.apiUrl).call<{
          events: { event: string; payload: unknown }[];
        }>('POST', '/events/filter', {
          filter: {
            resource: { id: [`prefect.deployment.${deploymentId}`] },
            occurred: { since: new Date(Date.now() - 3_600_000).toISOString() },
          },
          limit: 50,
        });
        return data.events;
      },
      rotatedIn,
      90_000,
    );
    expect(rotatedIn(events)).toBe(true);
  }, 120_000);

  it('is in none of the worker’s log lines (at debug level)', () => {
    record('worker log', worker.output());
    expect(worker.logs.length).toBeGreaterThan(10);
  });

  it('…and so, looking at all of it: none of the values appears anywhere', () => {
    expect(Object.keys(seen).length).toBeGreaterThanOrEqual(20);
    for (const [where, text] of Object.entries(seen))
      for (const secret of SECRETS)
        expect(text.includes(secret), `${where}: ${secret}`).toBe(false);
  });
});
