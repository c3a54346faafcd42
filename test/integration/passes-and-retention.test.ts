import { afterEach, describe, expect, it } from 'vitest';
import { startWorker } from '../harness/daemon.js';
import {
  createTestEnv,
  insertConnectors,
  jsonLines,
  SHORT_CALLS,
  type TestEnv,
} from '../harness/env.js';
import { eventually } from '../harness/prefect-api.js';
import { storedInPrefect } from '../harness/prefect-events.js';
import { startProxy, type FaultProxy } from '../harness/proxy.js';

// The pass history (`connector-sync passes`, /api/passes) and retention:
// old events that every sink has are pruned, an unpublished one never is,
// old passes go; all against the real Postgres and Prefect.

let env: TestEnv | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await env?.cleanup();
  env = proxy = undefined;
});

interface PassLine {
  id: string;
  kind: string;
  result: string;
  changes: Record<string, number>;
  problems: number;
  events: number;
  prefect_calls: { reads: number; writes: number };
  error: string | null;
}

describe('the pass history', () => {
  it('every real pass is one row; `passes` shows them newest first; a dry run is not one', async () => {
    env = await createTestEnv({ config: { prefect: { ...SHORT_CALLS } } });
    const e = env;
    await insertConnectors(e, [
      { name: 'a', schedule: '0 1 * * *' },
      { name: 'b', schedule: '0 2 * * *' },
      { name: 'bad', schedule: 'not a cron' },
    ]);
    expect((await e.cli(['run', '--once'])).code).toBe(1); // one row invalid
    expect((await e.cli(['plan'])).code).toBe(1);
    // Prefect unreachable: the pass itself fails.
    const down = await e.cli(['run', '--once'], { PREFECT_API_URL: 'http://127.0.0.1:9/api' });
    expect(down.code).not.toBe(0);

    const all = await e.cli(['passes', '--json']);
    expect(all.code).toBe(0);
    const passes = jsonLines<PassLine>(all.stdout);
    expect(passes.map((p) => p.result)).toEqual(['error', 'problems']);
    const [failed, first] = passes;
    expect(first).toMatchObject({
      kind: 'full',
      changes: { create: 2 },
      problems: 1,
      events: 3, // two created, one failed (invalid)
      error: null,
    });
    expect(first!.prefect_calls.writes).toBeGreaterThanOrEqual(2);
    expect(failed!.error).toMatch(/127\.0\.0\.1:9|ECONNREFUSED|unreachable/i);
    const [recorded] = await e.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM connector_sync.events WHERE action = 'pass-failed'`,
    );
    expect(recorded!.n).toBe(1);

    const table = await e.cli(['passes', '--limit', '1']);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^STARTED\s+KIND\s+RESULT\s+DURATION\s+CHANGES\s+PROBLEMS\s+CALLS\s+ERROR$/,
    );
    expect(lines[1]).toMatch(/\bfull\s+error\b/);
    expect(lines.at(-1)).toBe('Showing the newest 1; use --limit to see more.');

    const onlyOk = await e.cli(['passes', '--result', 'problems', '--json']);
    expect(jsonLines<PassLine>(onlyOk.stdout).map((p) => p.id)).toEqual([first!.id]);
    const bad = await e.cli(['passes', '--result', 'fine']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/Allowed choices are ok, problems, aborted, error/);
  });

  it('/api/passes pages newest first with a cursor and refuses what it does not know', async () => {
    env = await createTestEnv();
    const e = env;
    await insertConnectors(e, [{ name: 'a', schedule: '0 1 * * *' }]);
    for (let i = 0; i < 3; i++) expect((await e.cli(['run', '--once'])).code).toBe(0);
    const worker = await startWorker(e, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    try {
      await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
      const get = async (query: string) => {
        const res = await fetch(`${worker.baseUrl}/api/passes${query}`);
        return { status: res.status, body: (await res.json()) as any };
      };
      const page1 = await get('?limit=3');
      expect(page1.status).toBe(200);
      expect(page1.body.passes).toHaveLength(3);
      const page2 = await get(`?limit=3&before=${page1.body.next_cursor}`);
      expect(page2.body.passes).toHaveLength(1);
      expect(page2.body.next_cursor).toBeNull();
      const ids = [...page1.body.passes, ...page2.body.passes].map((p: PassLine) => p.id);
      const stored = await e.sql<{ id: string }>(
        `SELECT id FROM connector_sync.passes ORDER BY started_at DESC, id DESC`,
      );
      expect(ids).toEqual(stored.map((r) => r.id));
      expect(page1.body.passes[0]).toMatchObject({ kind: 'full', result: 'ok', error: null });
      expect((await get('?result=fine')).status).toBe(400);
      expect((await get('?before=yesterday')).status).toBe(400);
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
  });
});

describe('retention', () => {
  it('prunes old events every sink has and old passes; an old event Prefect has not got stays until it has', async () => {
    env = await createTestEnv({
      config: { events: { retentionDays: 1, passRetentionDays: 1 } },
    });
    const e = env;
    proxy = await startProxy(e.apiUrl, []);
    const run = (...args: string[]) =>
      e.cli(['run', '--once', ...args], { PREFECT_API_URL: proxy!.url, LOG_LEVEL: 'info' });
    const count = async (table: string): Promise<number> =>
      (await e.sql<{ n: number }>(`SELECT count(*)::int AS n FROM connector_sync.${table}`))[0]!.n;

    // 1. Five connectors created; their events reach the sink at once.
    await insertConnectors(
      e,
      Array.from({ length: 5 }, (_, i) => ({ name: `old${i}`, schedule: '0 1 * * *' })),
    );
    expect((await run()).code).toBe(0);
    const published = await e.sql<{ id: string }>(`SELECT id FROM connector_sync.events`);
    expect(published).toHaveLength(5);

    // 2. Prefect refuses events: an invalid connector's event waits in the log.
    const isEvents = (m: string, p: string) => m === 'POST' && p === '/events';
    proxy.setFaults([{ fault: { kind: 'status', status: 503 }, match: isEvents }]);
    const [badId] = await insertConnectors(e, [{ name: 'bad', schedule: 'not a cron' }]);
    expect((await run()).code).toBe(1);
    const [waiting] = await e.sql<{ id: string }>(
      `SELECT id FROM connector_sync.events WHERE action = 'failed'`,
    );
    expect(waiting).toBeDefined();

    // 3. Everything is three days old now.
    // (Events are never rewritten: the test lifts the append-only trigger to age them.)
    await e.sql(`ALTER TABLE connector_sync.events DISABLE TRIGGER events_append_only`);
    await e.sql(`UPDATE connector_sync.events SET occurred = occurred - interval '3 days'`);
    await e.sql(`ALTER TABLE connector_sync.events ENABLE TRIGGER events_append_only`);
    await e.sql(`UPDATE connector_sync.passes SET started_at = started_at - interval '3 days'`);
    expect(await count('passes')).toBe(2);

    // 4. A run while Prefect still refuses: the published five go, the waiting one stays.
    const third = await run();
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/retention: pruned old rows/);
    expect(
      (await e.sql<{ id: string }>(`SELECT id FROM connector_sync.events`)).map((r) => r.id),
    ).toEqual([waiting!.id]);
    expect(await count('passes')).toBe(1); // this run's own

    // 5. Prefect takes events again: the old one is delivered, then pruned.
    proxy.setFaults([]);
    expect((await run()).code).toBe(1);
    expect(await count('events')).toBe(0);
    // Prefect stores what it was sent a moment later.
    const [inPrefect] = await eventually(
      () => storedInPrefect(e.apiUrl, [waiting!.id], 4 * 24 * 3_600_000),
      (found) => found.length === 1,
    );
    expect(inPrefect).toMatchObject({
      event: 'connector-sync.connector.invalid',
      resource: { 'prefect.resource.id': `connector-sync.connector.${badId}` },
    });
  });
});
