import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import {
  CHANGE_EVENTS,
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  untilIntentsSettleable,
  type TestEnv,
  descriptionOf,
  type ConnectorRecord,
} from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { seededRandom, startProxy, type FaultProxy, type ForwardedCall } from '../harness/proxy.js';

// Exactly-once under repeated kill -9 (docs/concepts/event-log.md). A seeded loop edits the
// connector table at random (creates; schedule, timezone, parameter and name
// edits; deactivate/reactivate; soft deletes and restores; hard deletes),
// starts `run --once` through a slowed proxy and kills it with SIGKILL at a
// random moment: after a random delay; once the run has written N intents;
// once N of its calls reached Prefect; right after Prefect answered its
// listing; or as soon as it settled the first of the intents an earlier kill
// left. Each kill is classified by where it landed (its own intents open with
// or without their call having reached Prefect, mid-settle, elsewhere). Then
// clean passes run until converged, and our event log is matched against
// Prefect's OWN deployment events: every change Prefect saw has exactly one
// event, and no event describes a change Prefect did not see. Prefect emits
// no event for schedule changes, so those are matched against the calls that
// made them (recorded by the proxy).
//
// A pass settles an intent only once no call of a killed run can still land
// (late-write.test.ts): short Prefect timeouts keep that wait to seconds, and
// the clean passes wait it out.
//
// KILL_SEED replays a run's random choices (timing still varies); KILL_COUNT
// sets how many kills (default 50).

const KILLS = Number(process.env.KILL_COUNT ?? 50);
const SEED = Number(process.env.KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCHEMA = 'connector_sync';

const random = seededRandom(SEED);
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const SCHEDULES = ['0 1 * * *', '*/15 * * * *', '30 4 * * 1-5', '0 0 1 * *', '@daily', null];
const TIMEZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', null];

type Row = ConnectorRecord;

let env: TestEnv;
/** Every call that reached Prefect during the test, across all proxies. */
const forwarded: ForwardedCall[] = [];
const started = new Date();

beforeAll(async () => {
  env = await createTestEnv({
    config: { reconcile: { maxDeletesPerPass: 10_000 }, prefect: SHORT_CALLS },
  });
});
afterAll(async () => env?.cleanup());

async function rows(): Promise<Row[]> {
  return env.sql<Row>('SELECT c.*, c.id::text AS id FROM cai_connectors c ORDER BY c.id');
}

async function insertRandom(): Promise<void> {
  await env.sql(
    `INSERT INTO cai_connectors (name, schedule, timezone, is_active, parameters) VALUES ($1, $2, $3, $4, $5)`,
    [
      `conn-${int(0, 1e6)}`,
      pick(SCHEDULES),
      pick(TIMEZONES),
      random() < 0.85,
      JSON.stringify({ n: int(0, 1000) }),
    ],
  );
}

/** One random edit of the table; keeps 15–35 live rows. */
async function mutate(): Promise<string> {
  const all = await rows();
  const live = all.filter((r) => r.deleted_at === null);
  const soft = all.filter((r) => r.deleted_at !== null);
  if (live.length < 15 || random() < 0.12) {
    await insertRandom();
    return 'create';
  }
  const row = pick(live);
  const kind = pick(
    live.length > 35
      ? (['soft-delete', 'hard-delete'] as const)
      : ([
          'schedule',
          'schedule',
          'timezone',
          'parameters',
          'parameters',
          'name',
          'name',
          'toggle-active',
          'toggle-active',
          'soft-delete',
          'restore',
          'hard-delete',
        ] as const),
  );
  switch (kind) {
    case 'schedule':
      await env.sql('UPDATE cai_connectors SET schedule = $2 WHERE id = $1', [
        row.id,
        pick(SCHEDULES.filter((s) => s !== row.schedule)),
      ]);
      break;
    case 'timezone':
      await env.sql('UPDATE cai_connectors SET timezone = $2 WHERE id = $1', [
        row.id,
        pick(TIMEZONES.filter((t) => t !== row.timezone)),
      ]);
      break;
    case 'parameters':
      await env.sql('UPDATE cai_connectors SET parameters = $2 WHERE id = $1', [
        row.id,
        JSON.stringify({ n: int(0, 1000), extra: random() < 0.5 ? 'x' : undefined }),
      ]);
      break;
    case 'name':
      await env.sql('UPDATE cai_connectors SET name = $2 WHERE id = $1', [
        row.id,
        `conn-${int(0, 1e6)}`,
      ]);
      break;
    case 'toggle-active':
      await env.sql('UPDATE cai_connectors SET is_active = NOT is_active WHERE id = $1', [row.id]);
      break;
    case 'soft-delete':
      await env.sql('UPDATE cai_connectors SET deleted_at = now() WHERE id = $1', [row.id]);
      break;
    case 'restore': {
      if (soft.length === 0) return mutate();
      await env.sql('UPDATE cai_connectors SET deleted_at = NULL WHERE id = $1', [pick(soft).id]);
      break;
    }
    case 'hard-delete':
      await env.sql('DELETE FROM cai_connectors WHERE id = $1', [
        random() < 0.7 || soft.length === 0 ? row.id : pick(soft).id,
      ]);
      break;
  }
  return kind;
}

interface OpenIntent {
  id: string;
  action: string;
  deployment_id: string | null;
  change: { spec?: { name: string } };
}

async function openIntents(): Promise<OpenIntent[]> {
  return env.sql<OpenIntent>(
    `SELECT id::text, action, deployment_id::text, change FROM ${SCHEMA}.intents`,
  );
}

const isWrite = (call: { method: string; path: string }): boolean =>
  call.method !== 'GET' && !/\/(filter|paginate|count)$/.test(call.path);

/** Did this intent's call reach Prefect (through this run's proxy)? */
function reachedPrefect(intent: OpenIntent, calls: ForwardedCall[]): boolean {
  if (intent.action === 'create') {
    const name = intent.change.spec?.name;
    return calls.some(
      (c) =>
        c.method === 'POST' &&
        c.path === '/deployments/' &&
        (JSON.parse(c.body) as { name?: string }).name === name,
    );
  }
  return calls.some(
    (c) => isWrite(c) && c.path.startsWith(`/deployments/${intent.deployment_id ?? '-'}`),
  );
}

type Trigger = 'delay' | 'intents' | 'forwarded' | 'listed' | 'settling';
type Landing =
  | 'intent written, call not made'
  | 'call made, not confirmed'
  | 'during settle'
  | 'other (no open intent of its own)';

interface Cycle {
  trigger: Trigger;
  /** Lines up with `landing`, but a kill can leave both kinds of intent open. */
  unsentOpen: number;
  killed: boolean;
  landing: Landing | null;
  newOpen: number;
  newForwarded: number;
  ms: number;
}

function spawnOnce(proxy: FaultProxy, target: TestEnv = env) {
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run', '--once'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: target.databaseUrl,
      PREFECT_API_URL: proxy.url,
      CONNECTOR_SYNC_CONFIG: target.configFile,
      LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `condition` holds (polled), or with false once `done` settles first. */
async function until(
  condition: () => boolean | Promise<boolean>,
  done: Promise<unknown>,
  everyMs = 10,
): Promise<boolean> {
  let finished = false;
  void done.then(() => (finished = true));
  for (;;) {
    if (finished) return false;
    if (await condition()) return true;
    await sleep(everyMs);
  }
}

/** One cycle: edit rows, start a slowed run, kill -9 it at the chosen moment, classify where it landed. */
async function killCycle(): Promise<Cycle> {
  const t0 = performance.now();
  const edits = int(2, 6);
  for (let i = 0; i < edits; i++) await mutate();
  const latencyMs = int(60, 250);
  const proxy = await startProxy(env.apiUrl, [], {
    latency: {
      ms: latencyMs,
      point: random() < 0.5 ? 'before-prefect' : 'after-prefect',
      match: (method, path) => isWrite({ method, path }),
    },
  });
  const before = new Set((await openIntents()).map((i) => i.id));
  // 'listed' and 'settling' aim at the settle of the intents an earlier kill
  // left; with too few open they become a plain delay.
  const chosen = pick([
    'delay',
    'delay',
    'intents',
    'intents',
    'forwarded',
    'forwarded',
    'listed',
    'settling',
    'settling',
  ] as const);
  const trigger: Trigger =
    (chosen === 'listed' && before.size === 0) || (chosen === 'settling' && before.size < 2)
      ? 'delay'
      : chosen;
  const n = int(1, 3);
  const extraMs = int(0, trigger === 'listed' ? 30 : latencyMs);
  const delayMs = int(100, 1000);
  const { child, exited } = spawnOnce(proxy);

  let fire: boolean;
  switch (trigger) {
    case 'delay':
      fire = await Promise.race([sleep(delayMs).then(() => true), exited.then(() => false)]);
      break;
    case 'intents':
      fire = await until(
        async () => (await openIntents()).filter((i) => !before.has(i.id)).length >= n,
        exited,
      );
      break;
    case 'forwarded':
      fire = await until(() => proxy.forwarded.filter(isWrite).length >= n, exited, 5);
      if (fire) await sleep(extraMs);
      break;
    case 'listed': // Prefect answered the listing of managed deployments
      fire = await until(
        () =>
          proxy.forwarded.some(
            (c) => c.status !== null && /^\/deployments\/(paginate|filter)$/.test(c.path),
          ),
        exited,
        2,
      );
      if (fire) await sleep(extraMs);
      break;
    case 'settling': // the first leftover intent is settled
      fire = await until(
        async () => (await openIntents()).filter((i) => before.has(i.id)).length < before.size,
        exited,
        2,
      );
      break;
  }
  if (fire) child.kill('SIGKILL');
  const exit = await exited;
  // It may have finished on its own just before the signal.
  const killed = exit.signal === 'SIGKILL';
  const after = await openIntents();
  await proxy.close(); // lets calls Prefect is already working on finish
  forwarded.push(...proxy.forwarded);
  if (!killed) {
    expect(exit).toMatchObject({ signal: null });
    return {
      trigger,
      killed,
      landing: null,
      unsentOpen: 0,
      newOpen: 0,
      newForwarded: 0,
      ms: performance.now() - t0,
    };
  }
  const newOpen = after.filter((i) => !before.has(i.id));
  const newForwarded = newOpen.filter((i) => reachedPrefect(i, proxy.forwarded)).length;
  const stillOld = after.filter((i) => before.has(i.id)).length;
  const landing: Landing =
    newForwarded > 0
      ? 'call made, not confirmed'
      : newOpen.length > 0
        ? 'intent written, call not made'
        : before.size > 0 && stillOld > 0 && stillOld < before.size
          ? 'during settle'
          : 'other (no open intent of its own)';
  return {
    trigger,
    killed,
    landing,
    unsentOpen: newOpen.length - newForwarded,
    newOpen: newOpen.length,
    newForwarded,
    ms: performance.now() - t0,
  };
}

interface OnceResult {
  code: number;
  json: {
    summary: Record<string, number>;
    settled: { tookEffect: number; didNot: number };
    /** Open intents too young to settle (their connectors were left alone). */
    waiting?: unknown[];
    applied: number;
  };
}

async function cleanPass(): Promise<OnceResult> {
  // 69 here is Prefect timing out calls of a busy machine until the pass is cut
  // short (no fault is injected): that pass's intents settle like any other,
  // and the pass is run again, a few times at most.
  for (let attempt = 1; ; attempt++) {
    const proxy = await startProxy(env.apiUrl, []);
    try {
      const result = await env.cli(['run', '--once', '--json'], { PREFECT_API_URL: proxy.url });
      if (result.code === 69 && attempt < 3) {
        await untilIntentsSettleable(env.db, env.config);
        continue;
      }
      // 2: some connectors wait for a killed run's call to settle.
      if (result.code !== 0 && result.code !== 1 && result.code !== 2)
        throw new Error(`run --once exited ${result.code}: ${result.stderr}`);
      return { code: result.code, json: JSON.parse(result.stdout) as OnceResult['json'] };
    } finally {
      await proxy.close();
      forwarded.push(...proxy.forwarded);
    }
  }
}

// --- Prefect's own view -----------------------------------------------------

interface PrefectEvent {
  id: string;
  occurred: string;
  event: string;
  resource: Record<string, string>;
  payload: { updated_fields?: string[]; updates?: Record<string, { from: unknown; to: unknown }> };
}

/** Prefect's deployment events about deployments of this test's flow (each test has its own). */
async function prefectDeploymentEvents(flowId: string): Promise<PrefectEvent[]> {
  const api = prefectApi(env.apiUrl);
  const out: PrefectEvent[] = [];
  let page = await api.call<{ events: PrefectEvent[]; next_page: string | null }>(
    'POST',
    '/events/filter',
    {
      filter: {
        occurred: { since: new Date(started.getTime() - 60_000).toISOString() },
        event: { prefix: ['prefect.deployment.'] },
        related: { id: [`prefect.flow.${flowId}`] },
      },
      limit: 50,
    },
  );
  out.push(...page.data.events);
  while (page.data.next_page) {
    const next = await fetch(page.data.next_page);
    page = { status: next.status, data: (await next.json()) as typeof page.data };
    out.push(...page.data.events);
  }
  return out;
}

/** Our field names → the names Prefect tracks in its updated events (it does not track schedules). */
const PREFECT_FIELD: Record<string, string | null> = {
  description: 'description',
  parameters: 'parameters',
  paused: 'paused',
  tags: 'tags',
  entrypoint: 'entrypoint',
  path: 'path',
  pull_steps: 'pull_steps',
  job_variables: 'infra_overrides',
  work_queue_name: 'work_queue_id',
  work_pool_name: 'work_queue_id',
  version: 'version',
  schedules: null,
};

interface OurEvent {
  action: string;
  deployment_id: string;
  payload: { updated_fields?: string[]; updates?: Record<string, { from: unknown; to: unknown }> };
}

/** Per deployment: created/deleted counts and the tracked-field updates, on each side. */
interface Ledger {
  created: number;
  deleted: number;
  updates: string[];
}

function ledgerKey(fields: string[], updates: Record<string, { to: unknown }> | undefined): string {
  const sorted = [...new Set(fields)].sort();
  const paused = updates?.paused ? ` paused→${String(updates.paused.to)}` : '';
  const description = updates?.description ? ` description→${String(updates.description.to)}` : '';
  return `${sorted.join(',')}${paused}${description}`;
}

function ourLedger(events: OurEvent[]): Map<string, Ledger> {
  const out = new Map<string, Ledger>();
  for (const e of events) {
    const l = out.get(e.deployment_id) ?? { created: 0, deleted: 0, updates: [] };
    out.set(e.deployment_id, l);
    if (e.action === 'created') l.created++;
    else if (e.action === 'deleted') l.deleted++;
    else {
      const fields = (e.payload.updated_fields ?? [])
        .map((f) => PREFECT_FIELD[f])
        .filter((f): f is string => f !== null && f !== undefined);
      if (fields.length > 0) l.updates.push(ledgerKey(fields, e.payload.updates));
    }
  }
  return out;
}

function prefectLedger(events: PrefectEvent[]): Map<string, Ledger> {
  const out = new Map<string, Ledger>();
  const sorted = [...events].sort((a, b) =>
    a.occurred === b.occurred ? a.id.localeCompare(b.id) : a.occurred.localeCompare(b.occurred),
  );
  for (const e of sorted) {
    const id = e.resource['prefect.resource.id']!.replace('prefect.deployment.', '');
    const l = out.get(id) ?? { created: 0, deleted: 0, updates: [] };
    out.set(id, l);
    if (e.event === 'prefect.deployment.created') l.created++;
    else if (e.event === 'prefect.deployment.deleted') l.deleted++;
    else if (e.event === 'prefect.deployment.updated')
      l.updates.push(ledgerKey(e.payload.updated_fields ?? [], e.payload.updates));
  }
  return out;
}

/** Deployments whose two ledgers differ (empty when our log matches Prefect's). */
function ledgerDiff(ours: Map<string, Ledger>, theirs: Map<string, Ledger>): string[] {
  const problems: string[] = [];
  for (const id of new Set([...ours.keys(), ...theirs.keys()])) {
    const a = ours.get(id) ?? { created: 0, deleted: 0, updates: [] };
    const b = theirs.get(id) ?? { created: 0, deleted: 0, updates: [] };
    if (a.created !== 1 || b.created !== 1 || a.deleted !== b.deleted || a.deleted > 1)
      problems.push(
        `${id}: created ours ${a.created} / Prefect ${b.created}, deleted ours ${a.deleted} / Prefect ${b.deleted}`,
      );
    if (JSON.stringify(a.updates) !== JSON.stringify(b.updates))
      problems.push(
        `${id}: updates ours ${JSON.stringify(a.updates)} / Prefect ${JSON.stringify(b.updates)}`,
      );
  }
  return problems;
}

/**
 * Schedule changes (Prefect emits no event for them): the calls that changed a
 * schedule in Prefect — a PATCH carrying schedules or a DELETE of a schedule,
 * answered 2xx — per deployment, against our events whose updated_fields name schedules.
 */
function scheduleDiff(ours: OurEvent[]): string[] {
  const calls = new Map<string, number>();
  for (const c of forwarded) {
    if (c.status === null || c.status >= 300) continue;
    const patch = /^\/deployments\/([0-9a-f-]{36})$/.exec(c.path);
    const removeSchedule = /^\/deployments\/([0-9a-f-]{36})\/schedules\/[0-9a-f-]{36}$/.exec(
      c.path,
    );
    const id =
      c.method === 'PATCH' && patch && 'schedules' in (JSON.parse(c.body) as object)
        ? patch[1]!
        : c.method === 'DELETE' && removeSchedule
          ? removeSchedule[1]!
          : null;
    if (id) calls.set(id, (calls.get(id) ?? 0) + 1);
  }
  const events = new Map<string, number>();
  for (const e of ours)
    if (e.payload.updated_fields?.includes('schedules'))
      events.set(e.deployment_id, (events.get(e.deployment_id) ?? 0) + 1);
  const problems: string[] = [];
  for (const id of new Set([...calls.keys(), ...events.keys()]))
    if ((calls.get(id) ?? 0) !== (events.get(id) ?? 0))
      problems.push(
        `${id}: schedule-changing calls ${calls.get(id) ?? 0} / events ${events.get(id) ?? 0}`,
      );
  return problems;
}

const cronOf = (d: Record<string, any>): unknown => d.schedules?.[0]?.schedule?.cron ?? null;
const tzOf = (d: Record<string, any>): unknown => d.schedules?.[0]?.schedule?.timezone ?? null;

describe(`kill -9 at random moments (seed ${SEED}, ${KILLS} kills)`, () => {
  it('every change Prefect saw has exactly one event; converges to the table', async () => {
    console.log(`kill suite: KILL_SEED=${SEED} KILL_COUNT=${KILLS}`);
    const suiteStart = performance.now();
    for (let i = 0; i < 24; i++) await insertRandom();
    // The starting point: all 24 created — by one pass, or by the passes after
    // it when a busy machine's Prefect timed some creates out (their intents
    // settle once they may, and the rest are created again).
    const created = async (): Promise<number> =>
      (
        await env.sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${SCHEMA}.events WHERE action = 'created'`,
        )
      )[0]!.n;
    for (let i = 0; i < 6 && (await created()) < 24; i++) {
      const first = await cleanPass();
      if ((first.json.waiting?.length ?? 0) > 0) await untilIntentsSettleable(env.db, env.config);
    }
    expect(await created()).toBe(24);

    const cycles: Cycle[] = [];
    const maxCycles = KILLS * 3;
    while (cycles.filter((c) => c.killed).length < KILLS && cycles.length < maxCycles)
      cycles.push(await killCycle());
    const kills = cycles.filter((c) => c.killed);
    const killPhaseMs = performance.now() - suiteStart;

    // Clean passes until one finds nothing to do.
    const converge: OnceResult[] = [];
    for (let i = 0; i < 8; i++) {
      const result = await cleanPass();
      converge.push(result);
      if ((result.json.waiting?.length ?? 0) > 0) {
        await untilIntentsSettleable(env.db, env.config);
        continue;
      }
      const s = result.json.summary;
      if (
        result.code === 0 &&
        s.create! + s.update! + s.pause! + s.resume! + s.delete! === 0 &&
        result.json.settled.tookEffect + result.json.settled.didNot === 0
      )
        break;
    }

    const byLanding: Record<string, number> = {};
    const byTrigger: Record<string, number> = {};
    for (const k of kills) {
      byLanding[k.landing!] = (byLanding[k.landing!] ?? 0) + 1;
      byTrigger[k.trigger] = (byTrigger[k.trigger] ?? 0) + 1;
    }
    const openAtKill = kills.reduce((n, k) => n + k.newOpen, 0);
    const killsLeavingUnsent = kills.filter((k) => k.unsentOpen > 0).length;
    const killsLeavingUnconfirmed = kills.filter((k) => k.newForwarded > 0).length;
    const forwardedAtKill = kills.reduce((n, k) => n + k.newForwarded, 0);
    console.log(
      JSON.stringify(
        {
          seed: SEED,
          kills: kills.length,
          cycles: cycles.length,
          finishedBeforeKill: cycles.length - kills.length,
          byLanding,
          byTrigger,
          killsLeavingAnIntentWhoseCallNeverReachedPrefect: killsLeavingUnsent,
          killsLeavingACallPrefectAppliedUnconfirmed: killsLeavingUnconfirmed,
          openIntentsLeftByKills: openAtKill,
          ofWhichCallReachedPrefect: forwardedAtKill,
          convergePasses: converge.map((c) => ({
            code: c.code,
            settled: c.json.settled,
            waiting: c.json.waiting?.length ?? 0,
            applied: c.json.applied,
          })),
          killPhaseSeconds: Math.round(killPhaseMs / 100) / 10,
          meanCycleMs: Math.round(killPhaseMs / cycles.length),
        },
        null,
        2,
      ),
    );
    expect(kills.length).toBe(KILLS);
    if (KILLS >= 30) {
      // Both sides of the Prefect call were hit (near-certain with this many kills).
      expect(killsLeavingUnsent).toBeGreaterThan(0);
      expect(killsLeavingUnconfirmed).toBeGreaterThan(0);
    }
    const last = converge.at(-1)!;
    expect(last.code, 'converged: exit 0').toBe(0);
    expect(last.json.applied).toBe(0);

    // Nothing left open.
    expect(await openIntents()).toEqual([]);

    // Prefect holds exactly the desired state: one deployment per live row, matching it.
    const table = await rows();
    const live = table.filter((r) => r.deleted_at === null);
    const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    const names = deployments.map((d) => d.name as string);
    expect(new Set(names).size, 'no duplicate deployments').toBe(names.length);
    expect(names.sort()).toEqual(live.map((r) => `connector-${r.id}`).sort());
    const byName = new Map(deployments.map((d) => [d.name as string, d]));
    for (const row of live) {
      const d = byName.get(`connector-${row.id}`)!;
      const what = `deployment of connector ${row.id}`;
      expect(d.description, what).toBe(descriptionOf(row.name, String(row.id)));
      expect(d.paused, what).toBe(!row.is_active);
      expect(d.parameters, what).toEqual({ ...row.parameters, connector_id: Number(row.id) });
      expect(cronOf(d), what).toBe(row.schedule);
      expect(tzOf(d), what).toBe(row.schedule === null ? null : (row.timezone ?? 'UTC'));
      expect(row.prefect_deployment_id, `write-back of ${row.id}`).toBe(d.id);
    }

    // connector_state agrees: live rows synced with their deployment; the rest deleted.
    const states = await env.sql<{ connector_id: string; status: string; deployment_id: string }>(
      `SELECT connector_id, status, deployment_id::text FROM ${SCHEMA}.connector_state`,
    );
    const liveIds = new Set(live.map((r) => r.id));
    for (const s of states) {
      if (liveIds.has(s.connector_id))
        expect(s, `state of ${s.connector_id}`).toMatchObject({
          status: 'synced',
          deployment_id: byName.get(`connector-${s.connector_id}`)!.id,
        });
      else
        expect(s, `state of ${s.connector_id}`).toMatchObject({
          status: 'deleted',
          deployment_id: null,
        });
    }
    expect(states.filter((s) => liveIds.has(s.connector_id))).toHaveLength(live.length);

    // Exactly once, against Prefect's own events (its persister writes a moment late: poll).
    const ours = await env.sql<OurEvent>(
      `SELECT action, deployment_id::text, payload FROM ${SCHEMA}.events WHERE ${CHANGE_EVENTS} ORDER BY seq`,
    );
    const flowId = (
      await prefectApi(env.apiUrl).call<{ id: string }>('GET', `/flows/name/${env.flowName}`)
    ).data.id;
    const mine = ourLedger(ours);
    let theirs: PrefectEvent[] = [];
    let problems: string[] = ['not compared yet'];
    const deadline = Date.now() + 30_000;
    while (problems.length > 0 && Date.now() < deadline) {
      theirs = await prefectDeploymentEvents(flowId);
      problems = ledgerDiff(mine, prefectLedger(theirs));
      if (problems.length > 0) await sleep(1_000);
    }
    const failed = await env.sql(`SELECT payload FROM ${SCHEMA}.events WHERE action = 'failed'`);
    const counts = (
      await env.sql<{ action: string; n: string }>(
        `SELECT action, count(*) AS n FROM ${SCHEMA}.events GROUP BY action ORDER BY action`,
      )
    ).map((r) => `${r.action} ${r.n}`);
    console.log(
      `events: ours ${counts.join(', ')}; Prefect's deployment events ${theirs.length}; deployments touched ${mine.size}; failed events: ${JSON.stringify(failed.map((f) => f.payload.message))}`,
    );
    expect(problems, "our event log against Prefect's own deployment events").toEqual([]);
    expect(scheduleDiff(ours), 'schedule changes against the calls that made them').toEqual([]);
    console.log(`kill suite wall time: ${((performance.now() - suiteStart) / 1000).toFixed(1)} s`);
  }, 900_000);
});

describe('found by the kill suite', () => {
  it('a create killed before it reached Prefect, then the row soft-deleted: the connector ends deleted, not pending forever', async () => {
    const e = await createTestEnv({ config: { prefect: SHORT_CALLS } });
    try {
      const [id] = await insertConnectors(e, [{ name: 'short-lived', schedule: '0 1 * * *' }]);
      const proxy = await startProxy(e.apiUrl, [
        { method: 'POST', path: /^\/deployments\/$/, point: 'before-prefect' },
      ]);
      const { child, exited } = spawnOnce(proxy, e);
      await Promise.race([
        proxy.held(),
        exited.then(() => {
          throw new Error('the run finished before the create was held');
        }),
      ]);
      child.kill('SIGKILL');
      expect((await exited).signal).toBe('SIGKILL');
      await proxy.close();
      const state = (): Promise<unknown[]> =>
        e.sql(`SELECT status, deployment_id FROM ${SCHEMA}.connector_state`);
      expect(await state()).toEqual([{ status: 'pending', deployment_id: null }]);

      await e.sql('UPDATE cai_connectors SET deleted_at = now() WHERE id = $1', [id]);
      await untilIntentsSettleable(e.db, e.config);
      const result = await e.pass();
      expect(result.settled).toEqual({ tookEffect: 0, didNot: 1 });
      expect(result.plan.changes).toEqual([]);
      expect(await state()).toEqual([{ status: 'deleted', deployment_id: null }]);
      expect(await e.sql(`SELECT * FROM ${SCHEMA}.events`)).toEqual([]);
      expect(await e.sql(`SELECT * FROM ${SCHEMA}.intents`)).toEqual([]);
      expect(await prefectApi(e.apiUrl).deploymentsByTag(e.tag)).toEqual([]);
    } finally {
      await e.cleanup();
    }
  });
});
