import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { parsePrometheus, type Exposition } from '../harness/prometheus.js';
import { startTcpProxy } from '../harness/tcp-proxy.js';

// The worker's ops HTTP (docs/guides/operating.md), against the real worker process after a
// real first pass: health, readiness, Prometheus metrics, and the paged
// event and connector APIs with their filters and their refusals.

const VALID = 22;
const INVALID_ROWS = [
  { name: 'bad timezone', schedule: '0 1 * * *', timezone: 'Mars/Olympus' },
  { name: 'bad cron', schedule: 'every day at noon' },
  { name: 'bad parameters', schedule: '0 2 * * *', parameters: [1, 2, 3] },
];
const TOTAL = VALID + INVALID_ROWS.length;
/** The schema version the code expects: the highest numbered file in sql/migrations. */
const EXPECTED_SCHEMA = Math.max(
  ...readdirSync(join(REPO, 'sql/migrations'))
    .filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .map((f) => Number(f.slice(0, 3))),
);

let env: TestEnv;
let worker: WorkerProcess;
let validIds: string[];
let invalidIds: string[];

beforeAll(async () => {
  env = await createTestEnv();
  validIds = await insertConnectors(
    env,
    Array.from({ length: VALID }, (_, i) => ({
      name: `ops-${i}`,
      schedule: `${i} 3 * * *`,
      is_active: i % 5 !== 0, // a few are created paused: still a create, still synced
    })),
  );
  invalidIds = await insertConnectors(env, INVALID_ROWS);
  // Only the start pass runs: the schedule is a year away and no trigger is installed.
  worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

async function get(
  path: string,
  init: RequestInit = {},
  base = worker.baseUrl,
): Promise<{ status: number; type: string | null; text: string; json: any }> {
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type'), text, json };
}

async function metrics(): Promise<Exposition> {
  const response = await get('/metrics');
  expect(response.status).toBe(200);
  expect(response.type).toMatch(/^text\/plain/);
  return parsePrometheus(response.text);
}

describe('/healthz and /readyz', () => {
  it('/healthz: 200 JSON, ok, leading; /readyz: 200 with the current schema version', async () => {
    const health = await get('/healthz');
    expect(health.status).toBe(200);
    expect(health.type).toMatch(/^application\/json/);
    expect(health.json).toMatchObject({ status: 'ok', leader: true });
    expect(['idle', 'reconciling']).toContain(health.json.state);
    expect(typeof health.json.lastProgressMsAgo).toBe('number');

    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.type).toMatch(/^application\/json/);
    expect(ready.json).toMatchObject({ status: 'ready', schemaVersion: EXPECTED_SCHEMA });
  });

  it('a schema that is not current makes /readyz 503 while /healthz stays 200', async () => {
    const saved = await env.sql(`SELECT id, name, applied_at FROM connector_sync.migrations`);
    expect(saved.length).toBeGreaterThan(0);
    await env.sql(`DELETE FROM connector_sync.migrations`);
    try {
      const ready = await get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json).toMatchObject({ schemaVersion: 0, expected: EXPECTED_SCHEMA });
      expect(ready.json.status).toMatch(/schema/);
      const health = await get('/healthz');
      expect(health.status).toBe(200);
      expect(health.json.status).toBe('ok');
    } finally {
      for (const row of saved)
        await env.sql(
          `INSERT INTO connector_sync.migrations (id, name, applied_at) VALUES ($1, $2, $3)`,
          [row.id, row.name, row.applied_at],
        );
    }
    expect((await get('/readyz')).status).toBe(200);
  });

  it('Postgres unreachable: /readyz 503, /healthz stays 200; both recover when it is back', async () => {
    // A second, private worker whose every Postgres connection goes through a relay we can cut.
    const other = await createTestEnv();
    const [otherId] = await insertConnectors(other, [{ name: 'x', schedule: '0 4 * * *' }]);
    const relay = await startTcpProxy(5432);
    const db = new URL(other.databaseUrl).pathname;
    const proxied = await startWorker(other, {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${relay.port}${db}`,
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
    });
    try {
      await proxied.waitForLog((l) => l.msg === 'pass finished', 60_000);
      const base = proxied.baseUrl;
      expect((await get('/readyz', {}, base)).status).toBe(200);

      await relay.cut();
      const ready = await get('/readyz', {}, base);
      expect(ready.status).toBe(503);
      expect(ready.json.status).toBe('postgres unreachable');
      // Through a few loop turns (heartbeat 5 s, leader poll 2 s): alive, not leading, never 503.
      const deadline = Date.now() + 8_000;
      const seen: number[] = [];
      let last: any;
      while (Date.now() < deadline) {
        const health = await get('/healthz', {}, base);
        seen.push(health.status);
        last = health.json;
        expect((await get('/readyz', {}, base)).status).toBe(503);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(seen.every((s) => s === 200)).toBe(true);
      expect(last).toMatchObject({ status: 'ok', leader: false });
      expect(proxied.child.exitCode).toBeNull();

      await relay.restore();
      await expect
        .poll(async () => (await get('/readyz', {}, base)).status, { timeout: 20_000 })
        .toBe(200);
      await expect
        .poll(async () => (await get('/healthz', {}, base)).json?.leader, { timeout: 20_000 })
        .toBe(true);
      const [state] = await other.sql(
        `SELECT status FROM connector_sync.connector_state WHERE connector_id = $1`,
        [otherId],
      );
      expect(state!.status).toBe('synced');
    } finally {
      await relay.restore();
      proxied.kill('SIGTERM');
      const exit = await proxied.exited;
      await relay.close();
      await other.cleanup();
      expect(exit).toEqual({ code: 0, signal: null });
    }
  }, 120_000);
});

describe('/metrics', () => {
  it('is Prometheus text with the pass, change, status, Prefect, leader and process series', async () => {
    // The status gauge is refreshed just after the pass logs its end.
    await expect
      .poll(async () => (await metrics()).value('connector_sync_connectors', { status: 'synced' }))
      .toBe(VALID);
    const m = await metrics();

    expect(m.types.get('connector_sync_passes_total')).toBe('counter');
    const fullPasses = m.find('connector_sync_passes_total', { kind: 'full' });
    expect(fullPasses.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(1);
    // Three invalid rows: the first pass ended with problems.
    expect(
      m.value('connector_sync_passes_total', { result: 'problems', kind: 'full' }),
    ).toBeGreaterThanOrEqual(1);

    expect(m.value('connector_sync_changes_total', { action: 'create' })).toBe(VALID);
    const created = await env.sql(`SELECT 1 FROM connector_sync.events WHERE action = 'created'`);
    expect(created).toHaveLength(VALID);

    expect(m.types.get('connector_sync_connectors')).toBe('gauge');
    expect(m.value('connector_sync_connectors', { status: 'synced' })).toBe(VALID);
    expect(m.value('connector_sync_connectors', { status: 'invalid' })).toBe(INVALID_ROWS.length);

    const posts = m.find('connector_sync_prefect_requests_total', {
      method: 'POST',
      route: '/deployments/',
      status: '201',
    });
    expect(posts).toHaveLength(1);
    expect(posts[0]!.value).toBe(VALID);
    // Routes are templated: no deployment id ever becomes a label value.
    for (const s of m.find('connector_sync_prefect_requests_total'))
      expect(s.labels.route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);

    for (const [histogram, labels] of [
      ['connector_sync_pass_duration_seconds', { kind: 'full' }],
      [
        'connector_sync_prefect_request_duration_seconds',
        { method: 'POST', route: '/deployments/' },
      ],
    ] as const) {
      expect(m.types.get(histogram)).toBe('histogram');
      const buckets = m.find(`${histogram}_bucket`, labels);
      expect(buckets.length).toBeGreaterThan(1);
      const byLe = buckets
        .map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), n: b.value }))
        .sort((a, b) => a.le - b.le);
      for (let i = 1; i < byLe.length; i++)
        expect(byLe[i]!.n).toBeGreaterThanOrEqual(byLe[i - 1]!.n);
      expect(byLe.at(-1)!.le).toBe(Infinity);
      const count = m.value(`${histogram}_count`, labels);
      const sum = m.value(`${histogram}_sum`, labels);
      expect(count).toBeGreaterThanOrEqual(1);
      expect(byLe.at(-1)!.n).toBe(count);
      expect(sum).toBeGreaterThan(0);
    }
    expect(
      m.value('connector_sync_prefect_request_duration_seconds_count', {
        method: 'POST',
        route: '/deployments/',
      }),
    ).toBe(VALID);

    expect(m.value('connector_sync_leader')).toBe(1);
    const processMetric =
      m.find('process_cpu_user_seconds_total').length +
      m.find('nodejs_heap_size_total_bytes').length;
    expect(processMetric).toBeGreaterThan(0);
  });
});

describe('/api/events', () => {
  async function allEventIds(): Promise<string[]> {
    return (await env.sql(`SELECT id FROM connector_sync.events ORDER BY seq`)).map((r) => r.id);
  }

  async function walk(query: string, limit: number): Promise<{ ids: string[]; pages: number[] }> {
    const ids: string[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 200; guard++) {
      const after: string = cursor ? `&after=${cursor}` : '';
      const page = await get(`/api/events?limit=${limit}${query}${after}`);
      expect(page.status).toBe(200);
      expect(page.json.events.length).toBeLessThanOrEqual(limit);
      pages.push(page.json.events.length);
      ids.push(...page.json.events.map((e: any) => e.id));
      cursor = page.json.next_cursor;
      if (cursor === null) return { ids, pages };
      expect(cursor).toBe(page.json.events.at(-1).id);
    }
    throw new Error('paging did not end');
  }

  it('paging with next_cursor walks every event once, in order, with no gap', async () => {
    const expected = await allEventIds();
    expect(expected).toHaveLength(TOTAL); // one created per valid row, one failed per invalid row
    for (const limit of [1, 5, 7, 10, TOTAL, 1000]) {
      const { ids, pages } = await walk('', limit);
      expect(new Set(ids).size, `limit ${limit}: duplicates`).toBe(ids.length);
      expect(ids, `limit ${limit}`).toEqual(expected);
      expect(pages.slice(0, -1).every((n) => n === limit)).toBe(true);
    }
    // A page that ends exactly at the last event still offers a cursor; the next page is empty.
    expect((await walk('', 5)).pages).toEqual([5, 5, 5, 5, 5, 0]);

    const defaults = await get('/api/events');
    expect(defaults.status).toBe(200);
    expect(defaults.json.events.map((e: any) => e.id)).toEqual(expected);
    expect(defaults.json.next_cursor).toBeNull();
    const [first] = defaults.json.events;
    expect(Object.keys(first).sort()).toEqual(
      [
        'action',
        'connector_id',
        'deployment_id',
        'event',
        'id',
        'occurred',
        'pass_id',
        'payload',
        'related',
        'resource',
      ].sort(),
    );
    expect(Number.isNaN(Date.parse(first.occurred))).toBe(false);
  });

  it('filters: action, connector, since (alone, together, and paged)', async () => {
    const created = await get('/api/events?action=created');
    expect(created.status).toBe(200);
    expect(created.json.events).toHaveLength(VALID);
    expect(created.json.events.every((e: any) => e.action === 'created')).toBe(true);
    expect(created.json.events.map((e: any) => e.connector_id).sort()).toEqual(
      [...validIds].sort(),
    );
    const pagedCreated = await walk('&action=created', 10);
    expect(pagedCreated.ids).toEqual(created.json.events.map((e: any) => e.id));

    const failed = await get('/api/events?action=failed');
    expect(failed.json.events.map((e: any) => e.connector_id).sort()).toEqual(
      [...invalidIds].sort(),
    );
    for (const e of failed.json.events) {
      expect(e.event).toBe('connector-sync.connector.failed');
      expect(e.payload.status).toBe('invalid');
    }
    expect((await get('/api/events?action=deleted')).json).toEqual({
      events: [],
      next_cursor: null,
    });

    const one = await get(`/api/events?connector=${validIds[3]}`);
    expect(one.json.events).toHaveLength(1);
    expect(one.json.events[0]).toMatchObject({ action: 'created', connector_id: validIds[3] });
    const bad = await get(`/api/events?connector=${invalidIds[0]}`);
    expect(bad.json.events.map((e: any) => e.action)).toEqual(['failed']);
    expect(bad.json.events[0].payload.message).toMatch(/Mars\/Olympus/);
    expect(
      (await get(`/api/events?connector=${invalidIds[0]}&action=created`)).json.events,
    ).toEqual([]);
    expect((await get('/api/events?connector=no-such-connector')).json.events).toEqual([]);

    const rows = await env.sql(`SELECT id, occurred FROM connector_sync.events ORDER BY seq`);
    const middle = (rows[Math.floor(rows.length / 2)]!.occurred as Date).toISOString();
    const expectedSince = await env.sql(
      `SELECT id FROM connector_sync.events WHERE occurred >= $1 ORDER BY seq`,
      [middle],
    );
    const since = await get(`/api/events?since=${encodeURIComponent(middle)}`);
    expect(since.status).toBe(200);
    expect(since.json.events.map((e: any) => e.id)).toEqual(expectedSince.map((r) => r.id));
    expect(since.json.events.length).toBeGreaterThan(0);
    expect((await get('/api/events?since=2000-01-01T00:00:00Z')).json.events).toHaveLength(TOTAL);
    expect((await get('/api/events?since=2999-01-01T00:00:00Z')).json.events).toEqual([]);
  });

  it('refuses bad parameters with 400 and a message; unknown paths 404; other methods 405', async () => {
    for (const [query, about] of [
      ['limit=0', /limit/],
      ['limit=abc', /limit/],
      ['limit=-5', /limit/],
      ['limit=1.5', /limit/],
      ['limit=1001', /limit/],
      ['action=exploded', /action/],
      ['action=create', /action/],
      ['since=garbage', /since/],
      ['after=not-an-event-id', /after/],
      ['after=------------------------------------', /after/],
      ['after=00000000-0000-7000-8000-000000000000', /no event has the id/],
    ] as const) {
      const response = await get(`/api/events?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.type).toMatch(/^application\/json/);
      expect(typeof response.json?.error, query).toBe('string');
      expect(response.json.error, query).toMatch(about);
    }
    for (const path of ['/api/nothing', '/index.html', '/api/events/extra', '/metricsz']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(response.json?.error).toEqual(expect.any(String));
    }
    for (const [method, path] of [
      ['POST', '/api/events'],
      ['DELETE', '/api/events'],
      ['POST', '/api/connectors'],
      ['PUT', '/healthz'],
      ['POST', '/'],
      ['POST', '/api/events/stream'],
    ] as const) {
      const response = await get(path, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.json?.error).toEqual(expect.any(String));
      // With a body it is refused before it is routed: no endpoint takes one.
      const withBody = await get(path, { method, body: '{}' });
      expect(withBody.status, `${method} ${path} with a body`).toBe(413);
      expect(withBody.json?.error).toBe('request bodies are not accepted');
    }
  });
});

describe('/api/connectors', () => {
  it('paging via next_cursor covers every connector exactly once', async () => {
    const expected = (await env.sql(`SELECT id::text AS id FROM cai_connectors`))
      .map((r) => r.id)
      .sort();
    expect(expected).toHaveLength(TOTAL);
    for (const limit of [1, 4, 5, TOTAL, 1000]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; ; guard++) {
        expect(guard).toBeLessThan(100);
        const after: string = cursor ? `&after=${encodeURIComponent(cursor)}` : '';
        const page = await get(`/api/connectors?limit=${limit}${after}`);
        expect(page.status).toBe(200);
        expect(page.json.connectors.length).toBeLessThanOrEqual(limit);
        seen.push(...page.json.connectors.map((c: any) => c.connector_id));
        cursor = page.json.next_cursor;
        if (cursor === null) break;
      }
      expect(new Set(seen).size, `limit ${limit}: duplicates`).toBe(seen.length);
      expect([...seen].sort(), `limit ${limit}`).toEqual(expected);
    }
    const all = await get('/api/connectors');
    expect(all.json.connectors).toHaveLength(TOTAL);
    expect(all.json.next_cursor).toBeNull();
    expect(all.json.connectors[0]).toEqual(
      expect.objectContaining({
        connector_id: expect.any(String),
        status: expect.any(String),
        attempts: expect.any(Number),
      }),
    );
  });

  it('status filter; a bad status or limit is a 400', async () => {
    const invalid = await get('/api/connectors?status=invalid');
    expect(invalid.status).toBe(200);
    expect(invalid.json.connectors.map((c: any) => c.connector_id).sort()).toEqual(
      [...invalidIds].sort(),
    );
    for (const c of invalid.json.connectors) {
      expect(c.status).toBe('invalid');
      expect(c.last_error).toEqual(expect.any(String));
    }
    const synced = await get('/api/connectors?status=synced&limit=1000');
    expect(synced.json.connectors.map((c: any) => c.connector_id).sort()).toEqual(
      [...validIds].sort(),
    );
    for (const c of synced.json.connectors) {
      expect(c.deployment_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(c.deployment_name).toBe(`connector-${c.connector_id}`);
    }
    expect((await get('/api/connectors?status=conflict')).json).toEqual({
      connectors: [],
      next_cursor: null,
      source_error: null,
    });

    for (const query of ['status=broken', 'status=SYNCED', 'limit=0', 'limit=x']) {
      const response = await get(`/api/connectors?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.json?.error, query).toEqual(expect.any(String));
    }
  });
});

describe('/api/events while a pass writes', () => {
  it('a reader tailing with after=<last id seen> misses no event: the log is in commit order', async () => {
    const other = await createTestEnv();
    const busy = await startWorker(other, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    const listener = new pg.Client({ connectionString: other.databaseUrl });
    try {
      await busy.waitForLog((l) => l.msg === 'pass finished', 60_000);
      const N = 60;
      await insertConnectors(
        other,
        Array.from({ length: N }, (_, i) => ({ name: `tail-${i}`, schedule: `${i % 60} 6 * * *` })),
      );
      // Commit order, as Postgres delivers NOTIFYs (after commit, in commit order).
      const committed: string[] = [];
      await listener.connect();
      listener.on('notification', (m) => {
        if (m.channel === 'connector_sync_events' && m.payload) committed.push(m.payload);
      });
      await listener.query('LISTEN connector_sync_events');

      // A dashboard tailing the log: "give me what came after the last event I saw".
      const tailed: string[] = [];
      let cursor: string | null = null;
      let stopTail = false;
      const tail = (async () => {
        while (!stopTail) {
          const after: string = cursor ? `&after=${cursor}` : '';
          const page = await get(`/api/events?limit=1000${after}`, {}, busy.baseUrl);
          for (const e of page.json.events as { id: string }[]) tailed.push(e.id);
          cursor = page.json.events.at(-1)?.id ?? cursor;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();

      await other.sql(`NOTIFY connector_sync_wakeup`); // empty payload: a full pass
      await busy.waitForLog((l) => l.msg === 'pass finished' && l.applied === N, 60_000);
      await new Promise((r) => setTimeout(r, 300));
      stopTail = true;
      await tail;

      const stored = (await other.sql(`SELECT id FROM connector_sync.events ORDER BY id`)).map(
        (r) => r.id as string,
      );
      expect(stored).toHaveLength(N);
      expect.soft(new Set(tailed).size, 'the tail saw an event twice').toBe(tailed.length);
      expect.soft([...tailed].sort(), 'events the tailing reader never saw').toEqual(stored);
      const listed = (await other.sql(`SELECT id FROM connector_sync.events ORDER BY seq`)).map(
        (r) => r.id as string,
      );
      expect.soft(listed, 'the log is not in commit order').toEqual(committed);
    } finally {
      await listener.end().catch(() => undefined);
      busy.kill('SIGTERM');
      await busy.exited;
      await other.cleanup();
    }
  }, 120_000);
});
