import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { failedEvent } from '../../src/domain/connector-events.js';
import type { EventRow } from '../../src/domain/events.js';
import { appendEvents } from '../../src/postgres/eventlog.js';
import { createTestEnv, insertConnectors, jsonLines, type TestEnv } from '../harness/env.js';
import { follow, ids, stop, type Follower } from '../harness/follower.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';

// `events`: the newest N by default with a note when more match, `--since`
// durations, and `--follow` across killed connections and a Postgres that
// refuses connections for a while.

const SCHEMA = 'connector_sync';

/** Failure events written the way a pass writes them (appendEvents: one transaction, seq in commit order). */
async function writeFailures(env: TestEnv, occurred: Date[]): Promise<void> {
  const passId = uuidv7();
  const events: EventRow[] = occurred.map((at, i) => ({
    ...failedEvent({
      connectorId: `f-${i}`,
      connectorName: `failing ${i}`,
      status: 'failed',
      message: `boom ${i}`,
      retryable: true,
    }),
    id: uuidv7(),
    occurred: at,
    pass_id: passId,
  }));
  await appendEvents(env.db, SCHEMA, events, []);
}

async function storedIds(env: TestEnv, where = 'true'): Promise<string[]> {
  const rows = await env.sql<{ id: string }>(
    `SELECT id FROM ${SCHEMA}.events WHERE ${where} ORDER BY seq`,
  );
  return rows.map((r) => r.id);
}

function logLines(stderr: string): { msg: string; [key: string]: unknown }[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

const LOST = 'events --follow: lost the Postgres connection; reconnecting';
const BACK = 'events --follow: Postgres connection back; caught up from the last event printed';
const LISTENING = 'events --follow: listening';
const RETRYING = 'events --follow: still reconnecting';

function countLogs(f: Follower, msg: string): number {
  return logLines(f.stderr()).filter((l) => l.msg === msg).length;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('events: newest first page, --since', () => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv();
  });
  afterEach(async () => env?.cleanup());

  it('shows the newest --limit events oldest first, and says when more match (stdout for people, stderr under --json)', async () => {
    const cids = await insertConnectors(
      env,
      Array.from({ length: 12 }, (_, i) => ({ name: `newest-${i}`, schedule: `${i} 3 * * *` })),
    );
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const all = await storedIds(env);
    expect(all).toHaveLength(12);

    const text = await env.cli(['events', '--limit', '5']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    // The last five connectors, in commit order; the note last.
    const created = await env.sql<{ connector_id: string }>(
      `SELECT connector_id FROM ${SCHEMA}.events ORDER BY seq`,
    );
    lines.slice(0, 5).forEach((line, i) => {
      expect(line).toMatch(/ created /);
      expect(line).toContain(`connector ${created[7 + i]!.connector_id} `);
    });
    expect(lines[5]).toBe(
      'Showing the newest 5 of 12 events; use --limit to see more or --since to narrow.',
    );
    expect(text.stderr).toBe('');

    const json = await env.cli(['events', '--limit', '5', '--json']);
    expect(json.code).toBe(0);
    expect(ids(jsonLines(json.stdout))).toEqual(all.slice(7));
    expect(json.stderr.trim()).toBe(
      'Showing the newest 5 of 12 events; use --limit to see more or --since to narrow.',
    );

    // Exactly the limit, or fewer: no note.
    const exact = await env.cli(['events', '--limit', '12', '--json']);
    expect(ids(jsonLines(exact.stdout))).toEqual(all);
    expect(exact.stderr).toBe('');
    const plain = await env.cli(['events']);
    expect(plain.stdout.trimEnd().split('\n')).toHaveLength(12);

    // Filters count too: one connector's events are its own.
    await env.sql(`UPDATE cai_connectors SET schedule = '59 3 * * *' WHERE id = $1`, [cids[0]]);
    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const mine = await env.cli(['events', '--connector', cids[0]!, '--limit', '1', '--json']);
    expect(jsonLines(mine.stdout)).toMatchObject([{ action: 'updated', connector_id: cids[0] }]);
    expect(mine.stderr.trim()).toBe(
      'Showing the newest 1 of 2 events; use --limit to see more or --since to narrow.',
    );
    const createdOnly = await env.cli(['events', '--action', 'created', '--limit', '3', '--json']);
    expect(ids(jsonLines(createdOnly.stdout))).toEqual(all.slice(9));
    expect(createdOnly.stderr).toMatch(/newest 3 of 12 events/);
  }, 90_000);

  it('the default limit is the newest 100; the count is written with separators', async () => {
    const now = Date.now();
    // Three transactions of failure events, as three passes would write them.
    for (let batch = 0; batch < 3; batch++)
      await writeFailures(
        env,
        Array.from({ length: 410 }, (_, i) => new Date(now - (1_230 - batch * 410 - i) * 1_000)),
      );
    const all = await storedIds(env);
    expect(all).toHaveLength(1_230);
    const json = await env.cli(['events', '--json']);
    expect(json.code).toBe(0);
    expect(ids(jsonLines(json.stdout))).toEqual(all.slice(-100));
    expect(json.stderr.trim()).toBe(
      'Showing the newest 100 of 1,230 events; use --limit to see more or --since to narrow.',
    );
    const text = await env.cli(['events']);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)).toMatch(/^Showing the newest 100 of 1,230 events;/);
  }, 60_000);

  it('--since takes durations before now (45s, 30m, 2h, 7d, 2w, 1h45m) and ISO dates; the limit still keeps the newest; bad values exit 64', async () => {
    const now = Date.now();
    const ago = (ms: number): Date => new Date(now - ms);
    const minute = 60_000;
    const hour = 60 * minute;
    const day = 24 * hour;
    // Oldest first: 8 days, 3 days, 3 hours, 90 minutes, 20 minutes, 5 seconds ago.
    await writeFailures(env, [
      ago(8 * day),
      ago(3 * day),
      ago(3 * hour),
      ago(90 * minute),
      ago(20 * minute),
      ago(5_000),
    ]);
    const all = await storedIds(env);
    const since = async (value: string, extra: string[] = []): Promise<string[]> => {
      const result = await env.cli(['events', '--since', value, '--json', ...extra]);
      expect(result.code, `--since ${value}: ${result.stderr}`).toBe(0);
      return ids(jsonLines(result.stdout));
    };
    // Windows chosen far from every event's age, so a slow machine changes nothing.
    expect(await since('2w')).toEqual(all);
    expect(await since('7d')).toEqual(all.slice(1));
    expect(await since('2h')).toEqual(all.slice(3));
    expect(await since('1h45m')).toEqual(all.slice(3));
    expect(await since('30m')).toEqual(all.slice(4));
    expect(await since('45s')).toEqual(all.slice(5));
    expect(await since(ago(2 * hour).toISOString())).toEqual(all.slice(3));
    expect(await since('2000-01-01')).toEqual(all);

    // With --since, --limit still shows the newest of the window.
    const limited = await env.cli(['events', '--since', '2h', '--limit', '2', '--json']);
    expect(ids(jsonLines(limited.stdout))).toEqual(all.slice(4));
    expect(limited.stderr).toMatch(/^Showing the newest 2 of 3 events;/);

    const empty = await env.cli(['events', '--since', '1s']);
    expect(empty.code).toBe(0);
    expect(empty.stdout.trim()).toBe('No events.');

    for (const bad of ['5x', '30', '2 hours', '-1h', 'yesterday', '2026-13-45', '1.5h', '']) {
      const result = await env.cli(['events', '--since', bad]);
      expect(result.code, `--since ${JSON.stringify(bad)}`).toBe(64);
      expect(result.stderr).toMatch(/option '--since <when>' argument .* is invalid/);
      expect(result.stderr).toMatch(/a duration such as 45s, 30m, 2h or 7d/);
      expect(result.stdout).toBe('');
    }
  }, 90_000);
});

describe('events --follow across lost connections', () => {
  let env: TestEnv;
  let proxy: TcpProxy | undefined;
  const followers: Follower[] = [];
  const PASSWORD = 'Follow-Secret-77';
  beforeEach(async () => {
    env = await createTestEnv();
  });
  afterEach(async () => {
    for (const f of followers.splice(0)) if (f.child.exitCode === null) f.child.kill('SIGKILL');
    await proxy?.close();
    proxy = undefined;
    await env?.cleanup();
  });

  /** The follower's database URL: a password (trust auth ignores it) and an application_name to find its backends by. */
  function followerUrl(port = 5432): { url: string; appName: string } {
    const appName = `cs-follower-${env.id}`;
    const database = new URL(env.databaseUrl).pathname;
    return {
      url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}${database}?application_name=${appName}`,
      appName,
    };
  }

  /** A real pass (in this process) that updates the schedule of each connector: one event each. */
  async function updatePass(cids: string[], round: number): Promise<void> {
    for (const [i, id] of cids.entries())
      await env.sql(`UPDATE cai_connectors SET schedule = $1 WHERE id = $2`, [
        `${round} ${i} * * *`,
        id,
      ]);
    const result = await env.pass();
    expect(result.applied).toHaveLength(cids.length);
  }

  async function killBackends(appName: string): Promise<number> {
    // Found first, then killed: a terminate inside the same WHERE could run before the filters.
    const found = await env.sql<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
      [appName],
    );
    const killed = await env.sql<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid`,
      [found.map((r) => r.pid)],
    );
    return killed.filter((r) => r.ok).length;
  }

  function expectExactlyOnceInOrder(f: Follower, stored: string[]): void {
    const seen = ids(f.events());
    expect(new Set(seen).size, 'an event printed twice').toBe(seen.length);
    expect(seen).toEqual(stored);
  }

  it('pg_terminate_backend of every follower connection, between passes and right before one: each event printed once, in seq order', async () => {
    const cids = await insertConnectors(
      env,
      Array.from({ length: 4 }, (_, i) => ({ name: `kill-${i}`, schedule: `${i} 4 * * *` })),
    );
    await env.pass();
    const { url, appName } = followerUrl();
    const f = follow(env, [], { DATABASE_URL: url, LOG_LEVEL: 'debug' });
    followers.push(f);
    await f.waitFor(4);

    let kills = 0;
    for (let round = 1; round <= 4; round++) {
      await until('the follower listening', () => countLogs(f, LISTENING) === kills + 1);
      // Its listening connection, and the pool's idle ones while it still has them.
      const killed = await killBackends(appName);
      expect(killed, 'no follower backend to kill').toBeGreaterThanOrEqual(1);
      kills += 1;
      await until('the loss logged', () => countLogs(f, LOST) === kills);
      if (round % 2 === 0) {
        // Events committed while the follower is away: it catches up by seq.
        await updatePass(cids, round);
        await until('the follower back', () => countLogs(f, BACK) === kills);
      } else {
        // Back first, then events through its new LISTEN.
        await until('the follower back', () => countLogs(f, BACK) === kills);
        await updatePass(cids, round);
      }
      await f.waitFor(4 + round * 4, 30_000);
    }
    // Nothing late, nothing doubled.
    await new Promise((r) => setTimeout(r, 1_000));
    expectExactlyOnceInOrder(f, await storedIds(env));
    expect(countLogs(f, LOST)).toBe(kills);
    expect(countLogs(f, BACK)).toBe(kills);
    expect(await stop(f)).toEqual({ code: 0, signal: null });
    expect(f.stderr()).not.toContain(PASSWORD);
  }, 120_000);

  it('Postgres refusing connections for a while (a cut TCP relay): reconnects with growing pauses, catches up, then follows; SIGINT while reconnecting exits 0', async () => {
    const cids = await insertConnectors(
      env,
      Array.from({ length: 3 }, (_, i) => ({ name: `cut-${i}`, schedule: `${i} 6 * * *` })),
    );
    await env.pass();
    proxy = await startTcpProxy(5432);
    const f = follow(env, ['--action', 'updated'], {
      DATABASE_URL: followerUrl(proxy.port).url,
      LOG_LEVEL: 'debug',
    });
    followers.push(f);
    // Nothing to show yet (no update): wait for its LISTEN.
    await until('the follower listening', () => countLogs(f, LISTENING) === 1);
    await updatePass(cids, 1);
    await f.waitFor(3);

    await proxy.cut();
    await until('the loss logged', () => countLogs(f, LOST) === 1);
    // Events committed during the outage (straight to Postgres, not through the relay).
    await updatePass(cids, 2);
    await until('two refused reconnects', () => countLogs(f, RETRYING) >= 2);
    await updatePass(cids, 3);
    await proxy.restore();
    await until('the follower back', () => countLogs(f, BACK) === 1);
    await f.waitFor(9, 30_000);
    await updatePass(cids, 4);
    await f.waitFor(12, 30_000);

    const pauses = logLines(f.stderr())
      .filter((l) => l.msg === LOST || l.msg === RETRYING)
      .map((l) => l.retryInMs as number);
    // Growing pauses: the ceiling doubles from 250 ms to 10 s, jittered within its upper half.
    expect(pauses.length).toBeGreaterThanOrEqual(3);
    for (const [i, pause] of pauses.entries()) {
      const ceiling = Math.min(10_000, 250 * 2 ** i);
      expect(pause).toBeGreaterThanOrEqual(ceiling / 2);
      expect(pause).toBeLessThanOrEqual(ceiling);
    }

    expectExactlyOnceInOrder(f, await storedIds(env, `action = 'updated'`));
    expect(countLogs(f, LOST)).toBe(1);
    // One warning when lost, one when back (the retries between them are debug lines).
    const warnings = logLines(f.stderr()).filter(
      (l) => (l.level as number) >= 40 && l.msg.startsWith('events --follow'),
    );
    expect(warnings.map((l) => l.msg)).toEqual([LOST, BACK]);
    expect(f.stderr()).not.toContain(PASSWORD);

    // Stopped while it cannot reach Postgres: still a clean exit.
    await proxy.cut();
    await until('the second loss logged', () => countLogs(f, LOST) === 2);
    expect(await stop(f)).toEqual({ code: 0, signal: null });
  }, 120_000);
});
