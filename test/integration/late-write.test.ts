import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CLI,
  cliEnv,
  CHANGE_EVENTS,
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  type TestEnv,
} from '../harness/env.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { startProxy, type FaultProxy, type HoldRule } from '../harness/proxy.js';
import type { PassResult } from '../../src/pass/result.js';

// A late write: the worker is killed while Prefect still has its call, and
// the call lands only after a new pass has read Prefect. If that pass settled
// the intent as "did not take effect" (Prefect did not show it yet), the late
// write would be a change in Prefect with no event in our log — or the next
// pass would revert it with an event about a change we never recorded.
//
// The proxy holds the call before Prefect, the worker is killed -9, a new pass
// runs, then the proxy sends the held call on to Prefect. Our log is then
// compared with Prefect's own deployment events.

// A short timeout keeps the wait short: an open intent is settled once no call
// of ours can still land, (retries + 3) x timeoutMs + retries x retryMaxDelayMs
// after it was written (core/settle.ts) — here 4 x 2 s + 250 ms = 8.25 s.
const PREFECT = SHORT_CALLS;
const SETTLE_AFTER_MS = 8_250;

let env: TestEnv;
let proxy: FaultProxy | null = null;
let started: Date;
beforeEach(async () => {
  env = await createTestEnv({ config: { prefect: PREFECT } });
  started = new Date();
});
afterEach(async () => {
  await proxy?.close();
  proxy = null;
  await env?.cleanup();
});

/** `run --once` through a proxy that holds one call before Prefect; kill -9 once it is held. The call stays held. */
async function killWhileHeld(rule: HoldRule): Promise<FaultProxy> {
  const p = await startProxy(env.apiUrl, [rule]);
  proxy = p;
  const child = spawn(process.execPath, [CLI, 'run', '--once'], {
    env: cliEnv(env, { PREFECT_API_URL: p.url, LOG_LEVEL: 'silent' }),
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  await Promise.race([
    p.held(),
    exited.then(() => {
      throw new Error('the worker finished before the call was held');
    }),
  ]);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return p;
}

async function openIntents(): Promise<{ action: string; age_ms: number }[]> {
  return env.sql(
    `SELECT action, (extract(epoch FROM clock_timestamp() - created_at) * 1000)::int AS age_ms
       FROM connector_sync.intents`,
  );
}

/** Passes (in this process, straight to Prefect) until nothing is open, waiting or left to do. */
async function passesUntilQuiet(timeoutMs = 60_000): Promise<PassResult[]> {
  const passes: PassResult[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await env.pass();
    passes.push(result);
    const quiet =
      result.plan.changes.length === 0 &&
      (result.waiting?.length ?? 0) === 0 &&
      (await openIntents()).length === 0;
    if (quiet || Date.now() > deadline) return passes;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** What happened to each deployment, in order: created, paused→true/false, deleted. */
type Ledger = Record<string, string[]>;

function entry(kind: string, updates: Record<string, { to: unknown }> | undefined): string | null {
  if (kind === 'created' || kind === 'deleted') return kind;
  return updates?.paused ? `paused→${String(updates.paused.to)}` : null;
}

async function ourLedger(): Promise<Ledger> {
  const events = await env.sql<{ action: string; deployment_id: string; payload: any }>(
    `SELECT action, deployment_id, payload FROM connector_sync.events
      WHERE ${CHANGE_EVENTS} ORDER BY seq`,
  );
  const out: Ledger = {};
  for (const e of events) {
    const what = entry(
      e.action === 'created' || e.action === 'deleted' ? e.action : 'updated',
      e.payload.updates,
    );
    if (what) (out[e.deployment_id] ??= []).push(what);
  }
  return out;
}

/** The same, from Prefect's own deployment events about this test's flow. */
async function prefectLedger(): Promise<Ledger> {
  const api = prefectApi(env.apiUrl);
  const flow = await api.call<{ id: string }>(
    'GET',
    `/flows/name/${encodeURIComponent(env.flowName)}`,
  );
  const events: any[] = [];
  let page = await api.call<{ events: any[]; next_page: string | null }>('POST', '/events/filter', {
    filter: {
      occurred: { since: new Date(started.getTime() - 60_000).toISOString() },
      event: { prefix: ['prefect.deployment.'] },
      related: { id: [`prefect.flow.${flow.data.id}`] },
    },
    limit: 50,
  });
  events.push(...page.data.events);
  while (page.data.next_page) {
    const next = await fetch(page.data.next_page);
    page = { status: next.status, data: (await next.json()) as typeof page.data };
    events.push(...page.data.events);
  }
  events.sort((a, b) =>
    a.occurred === b.occurred ? a.id.localeCompare(b.id) : a.occurred.localeCompare(b.occurred),
  );
  const out: Ledger = {};
  for (const e of events) {
    const id = String(e.resource['prefect.resource.id']).replace('prefect.deployment.', '');
    const what = entry(String(e.event).replace('prefect.deployment.', ''), e.payload?.updates);
    if (what) (out[id] ??= []).push(what);
  }
  return out;
}

/** Our log against Prefect's (whose events are stored a moment after the call). */
async function expectLedgersMatch(expected: string[]): Promise<void> {
  const ours = await ourLedger();
  const theirs = await eventually(
    prefectLedger,
    (l) => Object.values(l).flat().length >= expected.length,
  );
  expect(ours, 'our event log against Prefect’s own deployment events').toEqual(theirs);
  expect(Object.values(ours)).toEqual([expected]);
}

describe('a write that lands after the worker died and a new pass began', () => {
  it(
    'a late pause: recorded as paused, then resumed — never a silent pause',
    { timeout: 120_000 },
    async () => {
      const t0 = Date.now();
      const [id] = await insertConnectors(env, [{ name: 'late-pause', schedule: '0 1 * * *' }]);
      await env.pass();
      await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = $1`, [id]);
      const p = await killWhileHeld({
        method: 'PATCH',
        path: /^\/deployments\/[0-9a-f-]{36}$/,
        point: 'before-prefect',
      });
      expect((await openIntents()).map((i) => i.action)).toEqual(['pause']);

      // The operator turns it back on; a new pass runs while the PATCH is still in Prefect's hands.
      await env.sql(`UPDATE cai_connectors SET is_active = true WHERE id = $1`, [id]);
      const first = await env.pass();
      expect.soft(first.waiting, 'the pause may still land: not settled yet').toHaveLength(1);
      expect.soft(first.plan.changes, 'the connector is left as it is').toEqual([]);
      const [state] = await env.sql(
        'SELECT status, last_error FROM connector_sync.connector_state WHERE connector_id = $1',
        [id],
      );
      expect.soft(state!.status).toBe('pending');
      expect
        .soft(String(state!.last_error))
        .toMatch(
          /^waiting for an earlier pause call \(intent from pass [0-9a-f-]{36}\) to finish; settles after \d{4}-/,
        );

      // The late write lands.
      const [age] = await openIntents();
      const [late] = await p.releaseHeld();
      expect(late!.status).toBe(204);
      // The premise: it landed while the intent was still young enough to be waited for.
      expect(age?.age_ms ?? 0, 'the held call was released within the settle bound').toBeLessThan(
        SETTLE_AFTER_MS,
      );
      const [deployment] = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
      expect(deployment!.paused).toBe(true);

      const passes = await passesUntilQuiet();
      const final = await prefectApi(env.apiUrl).deployment(deployment!.id);
      expect(final!.paused).toBe(false); // converged: the row is active
      expect(await openIntents()).toEqual([]);
      const [after] = await env.sql(
        'SELECT status, last_error FROM connector_sync.connector_state WHERE connector_id = $1',
        [id],
      );
      expect(after).toEqual({ status: 'synced', last_error: null });
      await expectLedgersMatch(['created', 'paused→true', 'paused→false']);
      console.log(
        `late pause: held PATCH released ${age?.age_ms} ms after its intent; ${passes.length} passes to converge; ${Date.now() - t0} ms`,
      );
    },
  );

  it(
    'a late create after the row was deleted: created, then deleted — never a silent create',
    { timeout: 120_000 },
    async () => {
      const t0 = Date.now();
      const [id] = await insertConnectors(env, [{ name: 'late-create', schedule: '0 1 * * *' }]);
      const p = await killWhileHeld({
        method: 'POST',
        path: /^\/deployments\/$/,
        point: 'before-prefect',
      });
      expect((await openIntents()).map((i) => i.action)).toEqual(['create']);

      await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [id]);
      const first = await env.pass();
      expect.soft(first.waiting, 'the create may still land: not settled yet').toHaveLength(1);
      const [state] = await env.sql(
        'SELECT status, last_error FROM connector_sync.connector_state WHERE connector_id = $1',
        [id],
      );
      expect.soft(state!.status).toBe('pending');
      expect.soft(String(state!.last_error)).toMatch(/^waiting for an earlier create call/);

      const [age] = await openIntents();
      const [late] = await p.releaseHeld();
      expect(late!.status).toBe(201);
      expect(age?.age_ms ?? 0, 'the held call was released within the settle bound').toBeLessThan(
        SETTLE_AFTER_MS,
      );
      expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toHaveLength(1);

      const passes = await passesUntilQuiet();
      expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toEqual([]);
      expect(await openIntents()).toEqual([]);
      const [after] = await env.sql(
        'SELECT status FROM connector_sync.connector_state WHERE connector_id = $1',
        [id],
      );
      expect(after!.status).toBe('deleted');
      await expectLedgersMatch(['created', 'deleted']);
      console.log(
        `late create: held POST released ${age?.age_ms} ms after its intent; ${passes.length} passes to converge; ${Date.now() - t0} ms`,
      );
    },
  );
});
