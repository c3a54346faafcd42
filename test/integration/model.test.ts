import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import {
  createTestEnv,
  untilIntentsSettleable,
  type TestEnv,
  descriptionOf,
  type ConnectorRecord,
} from '../harness/env.js';
import { closedApiUrl, isWrite, startFlakyProxy, type FlakyMode } from '../harness/model-faults.js';
import { prefectApi } from '../harness/prefect-api.js';
import { startProxy, type HoldPoint } from '../harness/proxy.js';

// Model-based test: random sequences of row edits, drift made directly in
// Prefect, injected faults and kill -9 crashes, against the real Postgres and
// the real Prefect server. After the steps the worker is left alone to settle
// ("quiet": clean passes until one changes nothing), then:
//  1. Prefect's managed deployments equal what a small independent model
//     computes from the rows (not the product's planner);
//  2. the event log, replayed from empty in commit order, reproduces exactly
//     the deployments Prefect holds;
//  3. no intent is left open, no connector has two deployments, deployments
//     without our tag are untouched, every live connector is `synced`.
//
// MODEL_SEED / MODEL_RUNS override the fixed seed and the number of runs
// (`npm run test:soak` runs it longer).

const SEED = Number(process.env.MODEL_SEED ?? 20261123);
const RUNS = Number(process.env.MODEL_RUNS ?? 16);
const MAX_STEPS = 8;
/** MODEL_PATH (with MODEL_SEED) replays one case, as printed by a failure (`path: "23:0:1"`). */
const REPLAY_PATH = process.env.MODEL_PATH;
/** MODEL_VERBOSE=1 prints what every run did, not only a failing one. */
const VERBOSE = process.env.MODEL_VERBOSE === '1';
const QUIET_PASSES = 3;
const SLUG = 'connector-sync';
const PREFECT_TIMEOUT_MS = 3_000;

// ---------------------------------------------------------------- steps

type RowValues = {
  name: string;
  schedule: string | null;
  timezone: string | null;
  is_active: boolean;
  parameters: Record<string, unknown>;
};
type Edit =
  | { schedule: string | null }
  | { timezone: string | null }
  | { parameters: Record<string, unknown> | unknown[] }
  | { name: string }
  | { is_active: boolean };
type Drift =
  | 'schedule'
  | 'schedule-inactive'
  | 'paused'
  | 'description'
  | 'parameters'
  | 'tags'
  | 'extra-schedule'
  | 'delete';
type HoldMethod = 'any write' | 'POST' | 'PATCH' | 'DELETE';
/** Killed while a write is held in the proxy, or a random time after the first write of a slowed pass. */
type Crash = { hold: HoldPoint; method: HoldMethod } | { killAfterMs: number; latency: HoldPoint };

type Step =
  | { kind: 'insert'; row: RowValues }
  | { kind: 'edit'; row: number; set: Edit }
  | { kind: 'soft-delete'; row: number }
  | { kind: 'hard-delete'; row: number }
  | { kind: 'reactivate'; row: number }
  | { kind: 'drift'; deployment: number; what: Drift }
  | { kind: 'orphan'; variant: 'no-connector-tag' | 'gone-connector' | 'other-flow'; row: number }
  | { kind: 'unmanaged' }
  | { kind: 'pass' }
  | { kind: 'prefect-down' }
  | { kind: 'slow'; ms: number }
  | { kind: 'flaky'; mode: FlakyMode }
  | { kind: 'crash'; how: Crash };

function describeStep(step: Step): string {
  const { kind, ...rest } = step;
  return `${kind} ${JSON.stringify(rest)}`;
}

/** Steps print as one line each in fast-check's counterexamples. */
function legible<T extends Step>(arb: fc.Arbitrary<T>): fc.Arbitrary<Step> {
  return arb.map((step) =>
    Object.defineProperty({ ...step }, fc.toStringMethod, {
      value: () => describeStep(step),
      enumerable: false,
    }),
  );
}

const cronArb = fc.constantFrom(null, '', '0 1 * * *', '*/15 * * * *', ' 30  6 * * 1-5 ', '@daily');
const tzArb = fc.constantFrom(null, 'UTC', 'Europe/Berlin', 'America/New_York', 'US/Pacific');
const paramsArb = fc.constantFrom<Record<string, unknown>>(
  {},
  { a: 1 },
  { a: 2, b: 'x' },
  { connector_id: 999, k: [1, 2] },
  { nested: { deep: { x: null } } },
);
const nameArb = fc.constantFrom('alpha', 'beta', 'Zürich ✓ 東京', 'a "quoted" name');
const rowArb: fc.Arbitrary<RowValues> = fc.record({
  name: nameArb,
  schedule: cronArb,
  timezone: tzArb,
  is_active: fc.boolean(),
  parameters: paramsArb,
});
const target = fc.nat(20);
const INVALID_CRONS = ['61 * * * *', '0 0 */2 * * *'];
const INVALID_TZ = 'Mars/Olympus';
const INVALID_PARAMS = [1, 2];

/** Something that changes the world: a row edit, or drift made in Prefect. */
const changeArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: legible(rowArb.map((row) => ({ kind: 'insert' as const, row }))) },
  {
    weight: 6,
    arbitrary: legible(
      fc.record({
        kind: fc.constant('edit' as const),
        row: target,
        set: fc.oneof(
          fc.record({ schedule: cronArb }),
          fc.record({ timezone: tzArb }),
          fc.record({ parameters: paramsArb }),
          fc.record({ name: nameArb }),
          fc.record({ is_active: fc.boolean() }),
          // A row the web app let through broken; fixed again before the quiet passes.
          fc.record({ schedule: fc.constantFrom(...INVALID_CRONS) }),
          fc.record({ timezone: fc.constant(INVALID_TZ) }),
          fc.record({ parameters: fc.constant(INVALID_PARAMS) }),
        ),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: legible(fc.record({ kind: fc.constant('soft-delete' as const), row: target })),
  },
  {
    weight: 1,
    arbitrary: legible(fc.record({ kind: fc.constant('hard-delete' as const), row: target })),
  },
  {
    weight: 1,
    arbitrary: legible(fc.record({ kind: fc.constant('reactivate' as const), row: target })),
  },
  {
    weight: 3,
    arbitrary: legible(
      fc.record({
        kind: fc.constant('drift' as const),
        deployment: target,
        what: fc.constantFrom<Drift>(
          'schedule',
          'schedule-inactive',
          'paused',
          'description',
          'parameters',
          'tags',
          'extra-schedule',
          'delete',
        ),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: legible(
      fc.record({
        kind: fc.constant('orphan' as const),
        variant: fc.constantFrom<'no-connector-tag' | 'gone-connector' | 'other-flow'>(
          'no-connector-tag',
          'gone-connector',
          'other-flow',
        ),
        row: target,
      }),
    ),
  },
  { weight: 1, arbitrary: legible(fc.constant({ kind: 'unmanaged' as const })) },
);

/** A `run --once`: plain, with Prefect down, slow or flaky, or killed mid-pass. */
const runArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: legible(fc.constant({ kind: 'pass' as const })) },
  { weight: 1, arbitrary: legible(fc.constant({ kind: 'prefect-down' as const })) },
  {
    weight: 1,
    arbitrary: legible(
      fc.record({ kind: fc.constant('slow' as const), ms: fc.constantFrom(100, 400) }),
    ),
  },
  {
    weight: 2,
    arbitrary: legible(
      fc.record({
        kind: fc.constant('flaky' as const),
        mode: fc.constantFrom<FlakyMode>('first-attempt', 'every-write', 'first-attempt-timeout'),
      }),
    ),
  },
  {
    weight: 4,
    arbitrary: legible(
      fc.record({
        kind: fc.constant('crash' as const),
        how: fc.oneof(
          fc.record({
            hold: fc.constantFrom<HoldPoint>('before-prefect', 'after-prefect'),
            method: fc.constantFrom<HoldMethod>(
              'any write',
              'any write',
              'POST',
              'PATCH',
              'DELETE',
            ),
          }),
          fc.record({
            killAfterMs: fc.integer({ min: 0, max: 500 }),
            latency: fc.constantFrom<HoldPoint>('before-prefect', 'after-prefect'),
          }),
        ),
      }),
    ),
  },
);

const scenarioArb = fc.record({
  initial: fc.array(rowArb, { minLength: 1, maxLength: 4 }),
  /** Most runs start from a synced table, so updates, pauses and deletes have something to act on. */
  initialPass: fc.constantFrom(true, true, true, false),
  // Rounds of 1–2 changes then a run, so most runs (and crashes) have something to do.
  steps: fc
    .array(fc.tuple(fc.array(changeArb, { minLength: 1, maxLength: 2 }), runArb), {
      minLength: 1,
      maxLength: 3,
    })
    .map((rounds) => rounds.flatMap(([changes, run]) => [...changes, run]))
    .filter((steps) => steps.length <= MAX_STEPS),
});

// ---------------------------------------------------------------- the model

/** What a deployment is, in the terms the contract talks about. */
interface View {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  schedules: { cron: string; timezone: string; active: boolean; slug: string | null }[];
  paused: boolean;
  tags: string[];
  /** The release + a hash of the spec: replayed from the log, not modelled from the rows. */
  version?: string | null;
}

type SourceRowDb = Omit<ConnectorRecord, 'prefect_deployment_id'>;

function isInvalid(row: SourceRowDb): boolean {
  return (
    INVALID_CRONS.includes(row.schedule ?? '') ||
    row.timezone === INVALID_TZ ||
    Array.isArray(row.parameters)
  );
}

/** The desired deployments, by name: docs/concepts/connectors-and-deployments.md, written out again. */
function desiredFromRows(rows: SourceRowDb[], tag: string): Map<string, View> {
  const out = new Map<string, View>();
  for (const row of rows) {
    if (row.deleted_at !== null) continue;
    const cron = (row.schedule ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
    const name = `connector-${row.id}`;
    out.set(name, {
      name,
      description: descriptionOf(row.name, String(row.id)),
      parameters: { ...row.parameters, connector_id: Number(row.id) },
      schedules: cron ? [{ cron, timezone: row.timezone ?? 'UTC', active: true, slug: SLUG }] : [],
      paused: !row.is_active,
      tags: [tag, `connector-${row.id}`].sort(),
    });
  }
  return out;
}

type ScheduleLike = Record<string, unknown>;

/** A schedule in any of the shapes we meet: Prefect's, an event's scheduleView, a spec. */
function scheduleOf(s: ScheduleLike): View['schedules'][number] {
  const inner = (s.schedule ?? s) as Record<string, unknown>;
  return {
    cron: String(inner.cron),
    timezone: (inner.timezone as string | null | undefined) ?? 'UTC',
    active: s.active as boolean,
    slug: (s.slug as string | null | undefined) ?? null,
  };
}

function sortSchedules(list: View['schedules']): View['schedules'] {
  return [...list].sort((a, b) =>
    `${a.slug}|${a.cron}|${a.timezone}`.localeCompare(`${b.slug}|${b.cron}|${b.timezone}`),
  );
}

function viewOf(d: Record<string, any>): View {
  return {
    name: d.name as string,
    description: (d.description as string | null) ?? '',
    parameters: (d.parameters as Record<string, unknown> | null) ?? {},
    schedules: sortSchedules(((d.schedules as ScheduleLike[] | null) ?? []).map(scheduleOf)),
    paused: d.paused as boolean,
    tags: [...(d.tags as string[])].sort(),
    version: (d.version as string | null | undefined) ?? null,
  };
}

interface EventRowDb {
  seq: string;
  action: string;
  deployment_id: string | null;
  payload: Record<string, any>;
}

/** A field of an event's from/to, in View terms; undefined for a field the model does not follow. */
function fieldValue(field: string, raw: unknown): unknown {
  switch (field) {
    case 'description':
      return raw ?? '';
    case 'parameters':
      return raw ?? {};
    case 'paused':
      return raw;
    case 'tags':
      return [...(raw as string[])].sort();
    case 'schedules':
      return sortSchedules(((raw as ScheduleLike[] | null) ?? []).map(scheduleOf));
    case 'version':
      return raw ?? null;
    default:
      return undefined;
  }
}

/**
 * A change the test made by hand in Prefect: the deployment as it was right
 * after (null: deleted), and the last event seq at that moment. The worker
 * writes no event for it (it is not the worker's change), so the replay
 * applies it between the events, where it happened.
 */
interface HandEdit {
  afterSeq: number;
  id: string;
  view: View | null;
}

/**
 * Folds the event log from empty, with the test's hand edits in between,
 * into deployment id → view. For a deployment nobody touched by hand, every
 * update's `from` must be what the log says it was: an update that took
 * effect without its event would show up there.
 */
function replay(
  events: EventRowDb[],
  handEdits: HandEdit[],
): { state: Map<string, View>; problems: string[] } {
  const state = new Map<string, View>();
  const problems: string[] = [];
  const byHand = new Set(handEdits.map((h) => h.id));
  const pending = [...handEdits];
  const applyHandEdits = (upTo: number): void => {
    while (pending.length > 0 && pending[0]!.afterSeq < upTo) {
      const edit = pending.shift()!;
      if (edit.view) state.set(edit.id, structuredClone(edit.view));
      else state.delete(edit.id);
    }
  };
  for (const e of events) {
    applyHandEdits(Number(e.seq));
    const id = e.deployment_id;
    // Events about a connector's problems or a pass change no deployment.
    if (!['created', 'updated', 'paused', 'resumed', 'deleted'].includes(e.action)) continue;
    if (id === null) {
      problems.push(`event #${e.seq} (${e.action}) has no deployment_id`);
      continue;
    }
    switch (e.action) {
      case 'created':
        // (A create settled after a crash may come after a hand edit of the same deployment.)
        if (state.has(id) && !byHand.has(id)) problems.push(`event #${e.seq}: ${id} created twice`);
        state.set(id, viewOf(e.payload));
        break;
      case 'updated':
      case 'paused':
      case 'resumed': {
        const view = state.get(id) as Record<string, unknown> | undefined;
        if (!view) {
          problems.push(`event #${e.seq}: ${e.action} of ${id}, never created in the log`);
          break;
        }
        const fields = e.payload.updated_fields as string[];
        const updates = e.payload.updates as Record<string, { from: unknown; to: unknown }>;
        if ([...fields].sort().join() !== Object.keys(updates).sort().join())
          problems.push(`event #${e.seq}: updated_fields ≠ keys of updates`);
        if (e.action !== 'updated' && (fields.length !== 1 || fields[0] !== 'paused'))
          problems.push(`event #${e.seq}: ${e.action} with fields ${fields.join()}`);
        for (const field of fields) {
          const to = fieldValue(field, updates[field]?.to);
          if (to === undefined) {
            problems.push(`event #${e.seq}: unexpected field ${field}`);
            continue;
          }
          const from = fieldValue(field, updates[field]?.from);
          if (!byHand.has(id) && !isDeepStrictEqual(from, view[field]))
            problems.push(
              `event #${e.seq}: ${field} of ${id} from ${JSON.stringify(from)}, but the log had it at ${JSON.stringify(view[field])}`,
            );
          view[field] = to;
        }
        break;
      }
      case 'deleted':
        if (!state.delete(id) && !byHand.has(id))
          problems.push(`event #${e.seq}: deleted ${id}, which neither the log nor the test made`);
        break;
      default:
        problems.push(`event #${e.seq}: unknown action ${e.action}`);
    }
  }
  applyHandEdits(Infinity);
  return { state, problems };
}

// ---------------------------------------------------------------- running it

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const totals = {
  runs: 0,
  steps: 0,
  byKind: {} as Record<string, number>,
  faults: 0,
  injected503: 0,
  crashesKilled: 0,
  crashesFinishedFirst: 0,
  connectors: 0,
  quietPasses: 0,
  skipped: 0,
  invalidFixed: 0,
};

class Run {
  readonly api: ReturnType<typeof prefectApi>;
  readonly log: string[] = [];
  /** Managed deployments the test created, changed or deleted by hand in Prefect. */
  readonly handEdits: HandEdit[] = [];
  readonly unmanaged: string[] = [];
  private counter = 0;

  constructor(readonly env: TestEnv) {
    this.api = prefectApi(env.apiUrl);
  }

  note(line: string): void {
    this.log.push(line);
  }

  async rows(): Promise<SourceRowDb[]> {
    return this.env.sql<SourceRowDb>(
      'SELECT id::text AS id, name, schedule, timezone, is_active, parameters, deleted_at FROM cai_connectors ORDER BY id',
    );
  }

  async insert(row: RowValues): Promise<string> {
    const [r] = await this.env.sql<{ id: string }>(
      'INSERT INTO cai_connectors (name, schedule, timezone, is_active, parameters) VALUES ($1,$2,$3,$4,$5) RETURNING id::text AS id',
      [row.name, row.schedule, row.timezone, row.is_active, JSON.stringify(row.parameters)],
    );
    totals.connectors++;
    return r!.id;
  }

  async managed(): Promise<Record<string, any>[]> {
    const list = await this.api.deploymentsByTag(this.env.tag);
    return list.sort((a, b) => `${a.name}|${a.id}`.localeCompare(`${b.name}|${b.id}`));
  }

  async flowId(name: string): Promise<string> {
    const { status, data } = await this.api.call<{ id: string }>('POST', '/flows/', { name });
    if (status >= 300) throw new Error(`POST /flows/ → ${status}`);
    return data.id;
  }

  private async ok(method: string, path: string, body?: unknown): Promise<any> {
    const { status, data } = await this.api.call(method, path, body);
    if (status >= 300) throw new Error(`${method} ${path} → ${status} ${JSON.stringify(data)}`);
    return data;
  }

  cliEnv(apiUrl: string): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: this.env.databaseUrl,
      PREFECT_API_URL: apiUrl,
      CONNECTOR_SYNC_CONFIG: this.env.configFile,
      LOG_LEVEL: 'silent',
    };
  }

  async recordHandEdit(id: string): Promise<void> {
    const [last] = await this.env.sql<{ seq: string }>(
      'SELECT coalesce(max(seq), 0)::text AS seq FROM connector_sync.events',
    );
    const now = await this.api.deployment(id);
    this.handEdits.push({ afterSeq: Number(last!.seq), id, view: now ? viewOf(now) : null });
  }

  /**
   * The exit code of a pass that goes well: 1 while some live row is invalid,
   * else 2 while an earlier crash's intent is too young to settle (its
   * connector waits; docs/reference/exit-codes.md), else 0.
   */
  async cleanExit(): Promise<number> {
    if ((await this.rows()).some((r) => r.deleted_at === null && isInvalid(r))) return 1;
    const open = await this.env.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM connector_sync.intents`,
    );
    return open[0]!.n > 0 ? 2 : 0;
  }

  /** The web app fixes the rows it broke: invalid values become valid ones. */
  async fixInvalid(): Promise<void> {
    const fixed = await this.env.sql<{ id: string }>(
      `UPDATE cai_connectors SET
         schedule = CASE WHEN schedule = ANY($1) THEN '0 4 * * *' ELSE schedule END,
         timezone = CASE WHEN timezone = $2 THEN 'UTC' ELSE timezone END,
         parameters = CASE WHEN jsonb_typeof(parameters) <> 'object' THEN '{}'::jsonb ELSE parameters END
       WHERE schedule = ANY($1) OR timezone = $2 OR jsonb_typeof(parameters) <> 'object'
       RETURNING id::text AS id`,
      [INVALID_CRONS, INVALID_TZ],
    );
    totals.invalidFixed += fixed.length;
    if (fixed.length > 0)
      this.note(`fix invalid rows → connectors ${fixed.map((r) => r.id).join(', ')}`);
  }

  /** `run --once` through some API URL; the exit code. */
  async runOnce(apiUrl: string): Promise<number> {
    const result = await this.env.cli(['run', '--once', '--json'], { PREFECT_API_URL: apiUrl });
    return result.code;
  }

  async step(step: Step): Promise<string> {
    totals.steps++;
    totals.byKind[step.kind] = (totals.byKind[step.kind] ?? 0) + 1;
    const rows = await this.rows();
    const pick = <T>(list: T[], n: number): T | undefined =>
      list.length === 0 ? undefined : list[n % list.length];
    switch (step.kind) {
      case 'insert':
        return `id ${await this.insert(step.row)}`;
      case 'edit':
      case 'soft-delete':
      case 'hard-delete':
      case 'reactivate': {
        const candidates =
          step.kind === 'reactivate' ? rows.filter((r) => r.deleted_at || !r.is_active) : rows;
        const row = pick(candidates, step.row);
        if (!row) {
          totals.skipped++;
          return 'skipped (no row)';
        }
        if (step.kind === 'edit') {
          const [column, value] = Object.entries(step.set)[0]!;
          await this.env.sql(`UPDATE cai_connectors SET ${column} = $1 WHERE id = $2`, [
            column === 'parameters' ? JSON.stringify(value) : value,
            row.id,
          ]);
        } else if (step.kind === 'soft-delete') {
          await this.env.sql('UPDATE cai_connectors SET deleted_at = now() WHERE id = $1', [
            row.id,
          ]);
        } else if (step.kind === 'hard-delete') {
          await this.env.sql('DELETE FROM cai_connectors WHERE id = $1', [row.id]);
        } else {
          await this.env.sql(
            'UPDATE cai_connectors SET deleted_at = NULL, is_active = true WHERE id = $1',
            [row.id],
          );
        }
        return `connector ${row.id}`;
      }
      case 'drift': {
        const d = pick(await this.managed(), step.deployment);
        if (!d) {
          totals.skipped++;
          return 'skipped (no deployment)';
        }
        const path = `/deployments/${d.id}`;
        switch (step.what) {
          case 'schedule':
            await this.ok('PATCH', path, {
              schedules: [
                {
                  schedule: { cron: '5 5 * * *', timezone: 'Asia/Tokyo', day_or: true },
                  active: true,
                  slug: SLUG,
                  parameters: {},
                },
              ],
            });
            break;
          case 'schedule-inactive': {
            // Turns our schedule off (or adds an inactive one of our slug when there is none).
            const ours = (d.schedules as Record<string, any>[]).find((x) => x.slug === SLUG);
            await this.ok('PATCH', path, {
              schedules: [
                {
                  schedule: ours?.schedule ?? { cron: '0 3 * * *', timezone: 'UTC', day_or: true },
                  active: false,
                  slug: SLUG,
                  parameters: {},
                },
              ],
            });
            break;
          }
          case 'tags':
            await this.ok('PATCH', path, { tags: [...(d.tags as string[]), 'added-by-hand'] });
            break;
          case 'paused':
            await this.ok('PATCH', path, { paused: !d.paused });
            break;
          case 'description':
            await this.ok('PATCH', path, { description: 'drifted by hand' });
            break;
          case 'parameters':
            await this.ok('PATCH', path, { parameters: { drifted: true } });
            break;
          case 'extra-schedule':
            await this.ok('POST', `${path}/schedules`, [
              { schedule: { cron: '0 0 1 * *', timezone: 'UTC' }, active: true },
            ]);
            break;
          case 'delete':
            await this.ok('DELETE', path);
            break;
        }
        await this.recordHandEdit(d.id as string);
        return `${d.name as string} (${d.id as string})`;
      }
      case 'orphan': {
        const n = ++this.counter;
        let flowName = this.env.flowName;
        let name = `orphan-${n}`;
        const tags = [this.env.tag];
        if (step.variant === 'gone-connector') tags.push(`connector-${900_000 + n}`);
        if (step.variant === 'other-flow') {
          const row = pick(rows, step.row);
          const id = row?.id ?? String(900_000 + n);
          flowName = `${this.env.flowName}_other`;
          name = `connector-${id}`;
          tags.push(`connector-${id}`);
        }
        const created = await this.ok('POST', '/deployments/', {
          name,
          flow_id: await this.flowId(flowName),
          tags,
          paused: false,
        });
        await this.recordHandEdit(created.id as string);
        return `${flowName}/${name} (${created.id as string})`;
      }
      case 'unmanaged': {
        const n = ++this.counter;
        const created = await this.ok('POST', '/deployments/', {
          name: `unmanaged-${n}`,
          flow_id: await this.flowId(this.env.flowName),
          tags: ['someone-else'],
          description: 'not ours',
        });
        this.unmanaged.push(created.id as string);
        return `unmanaged-${n} (${created.id as string})`;
      }
      case 'pass': {
        const code = await this.runOnce(this.env.apiUrl);
        expect(code, `run --once exit code (${describeStep(step)})`).toBe(await this.cleanExit());
        return `exit ${code}`;
      }
      case 'prefect-down': {
        totals.faults++;
        const code = await this.runOnce(await closedApiUrl());
        expect(code, 'run --once with Prefect down').toBe(69);
        return `exit ${code}`;
      }
      case 'slow': {
        totals.faults++;
        const proxy = await startProxy(this.env.apiUrl, [], { latency: { ms: step.ms } });
        try {
          const code = await this.runOnce(proxy.url);
          expect(code, 'run --once through a slow Prefect').toBe(await this.cleanExit());
          return `exit ${code}, ${proxy.requests.length} calls`;
        } finally {
          await proxy.close();
        }
      }
      case 'flaky': {
        totals.faults++;
        const proxy = await startFlakyProxy(this.env.apiUrl, step.mode, PREFECT_TIMEOUT_MS + 1_000);
        try {
          const code = await this.runOnce(proxy.url);
          totals.injected503 += proxy.failed;
          // first-attempt: the retry sees the real answer; every-write: the outcome stays unknown.
          if (step.mode !== 'every-write')
            expect(code, 'retried writes').toBe(await this.cleanExit());
          // Writes whose every answer was a 503 failed (1), or tripped the circuit (69); a pass
          // that had no write to make (its connectors wait for an earlier crash's intent to
          // settle: exit 2, say) ends as any clean pass would (docs/reference/exit-codes.md).
          else if (proxy.failed > 0) expect([1, 69], 'writes never confirmed').toContain(code);
          else expect(code, 'no write to fail').toBe(await this.cleanExit());
          return `exit ${code}, ${proxy.failed} answers replaced by 503`;
        } finally {
          await proxy.close();
        }
      }
      case 'crash':
        return this.crash(step.how);
    }
  }

  /** `run --once` killed with SIGKILL while a write is held, or at a random moment of a slowed pass. */
  async crash(how: Crash): Promise<string> {
    const proxy =
      'hold' in how
        ? await startProxy(
            this.env.apiUrl,
            [
              { method: 'POST', path: /^\/deployments\/$/, point: how.hold },
              { method: 'PATCH', path: /^\/deployments\//, point: how.hold },
              { method: 'DELETE', path: /^\/deployments\//, point: how.hold },
            ].filter((rule) => how.method === 'any write' || rule.method === how.method),
            {},
          )
        : await startProxy(this.env.apiUrl, [], {
            latency: { ms: 300, point: how.latency, match: isWrite },
          });
    try {
      const child = spawn(process.execPath, [join(REPO, 'dist/cli/bin.js'), 'run', '--once'], {
        env: this.cliEnv(proxy.url),
        stdio: 'ignore',
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve) => child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      const over = { value: false };
      const trigger =
        'hold' in how
          ? proxy.held().then((h) => `${h.method} ${h.path} held ${how.hold}`)
          : (async () => {
              // A random moment after the first write reached the proxy.
              while (!proxy.requests.some((r) => isWrite(r.method, r.path))) {
                if (over.value) return 'never';
                await sleep(10);
              }
              await sleep(how.killAfterMs);
              return `${how.killAfterMs} ms after the first write`;
            })();
      const first = await Promise.race([trigger, exited]);
      over.value = true;
      if (typeof first === 'string') {
        child.kill('SIGKILL');
        const end = await exited;
        if (end.signal === 'SIGKILL') {
          totals.crashesKilled++;
          return `killed ${first}`;
        }
        totals.crashesFinishedFirst++;
        return `finished before the kill (exit ${end.code})`;
      }
      totals.crashesFinishedFirst++;
      return `finished before the kill (exit ${first.code})`;
    } finally {
      await proxy.close();
    }
  }

  /** Clean passes until one changes nothing; throws if none does within QUIET_PASSES. */
  async quiet(): Promise<void> {
    // An intent left by a kill is settled only once no call of ours can still
    // land (core/settle.ts): wait that out first, on the database's clock.
    const waited = await untilIntentsSettleable(this.env.db, this.env.config);
    if (waited > 0) this.note(`  waited ${waited} ms for open intents to become settleable`);
    for (let i = 1; i <= QUIET_PASSES; i++) {
      totals.quietPasses++;
      const result = await this.env.pass();
      const settled = result.settled.tookEffect + result.settled.didNot;
      const changes = result.plan.changes.length;
      this.note(
        `  quiet pass ${i}: ${changes} changes, ${settled} intents settled, ${result.failures.length} failures, ${result.plan.problems.length} problems${result.aborted ? `, aborted: ${result.aborted}` : ''}`,
      );
      if (changes === 0 && settled === 0 && result.failures.length === 0) {
        expect(result.plan.problems, 'problems after quiet').toEqual([]);
        expect(result.plan.heldDeletes).toBeNull();
        return;
      }
    }
    throw new Error(`not quiet after ${QUIET_PASSES} clean passes`);
  }

  async check(): Promise<void> {
    const rows = await this.rows();
    const managed = await this.managed();
    const flowId = await this.flowId(this.env.flowName);

    // (3) no duplicates: one deployment per name, one per connector tag.
    const names = managed.map((d) => d.name as string);
    expect(new Set(names).size, `duplicate deployment names: ${names.join(', ')}`).toBe(
      names.length,
    );
    for (const d of managed) expect(d.flow_id, `${d.name as string} is in our flow`).toBe(flowId);

    // (1) Prefect = the independent model of the rows.
    const desired = desiredFromRows(rows, this.env.tag);
    // The version is no part of the model (it hashes the spec); the replay below checks it.
    const actual = new Map(
      managed.map((d) => {
        const { version, ...view } = viewOf(d);
        expect(version, `${d.name as string}: version, no release configured`).toMatch(
          /^[0-9a-f]{8}$/,
        );
        return [d.name as string, view];
      }),
    );
    expect(Object.fromEntries(actual), 'Prefect vs the rows').toEqual(
      Object.fromEntries(
        [...desired].map(([k, v]) => [k, { ...v, schedules: sortSchedules(v.schedules) }]),
      ),
    );

    // (2) the event log replayed from empty = what Prefect holds, by id.
    const events = await this.env.sql<EventRowDb>(
      'SELECT seq::text AS seq, action, deployment_id::text AS deployment_id, payload FROM connector_sync.events e ORDER BY e.seq',
    );
    const { state, problems } = replay(events, this.handEdits);
    expect(problems, 'replay problems').toEqual([]);
    expect(Object.fromEntries(state), 'events replayed vs Prefect').toEqual(
      Object.fromEntries(managed.map((d) => [d.id as string, viewOf(d)])),
    );

    // (3) no intents, every live connector synced to its deployment.
    expect(await this.env.sql('SELECT * FROM connector_sync.intents')).toEqual([]);
    const states = new Map(
      (
        await this.env.sql<{ connector_id: string; status: string; deployment_id: string | null }>(
          'SELECT connector_id, status, deployment_id::text AS deployment_id FROM connector_sync.connector_state',
        )
      ).map((s) => [s.connector_id, s]),
    );
    const byName = new Map(managed.map((d) => [d.name as string, d.id as string]));
    for (const row of rows.filter((r) => r.deleted_at === null)) {
      expect(states.get(row.id), `state of connector ${row.id}`).toMatchObject({
        status: 'synced',
        deployment_id: byName.get(`connector-${row.id}`),
      });
    }

    // Deployments without our tag are never touched.
    for (const id of this.unmanaged) {
      const d = await this.api.deployment(id);
      expect(d, `unmanaged deployment ${id}`).not.toBeNull();
      expect(d!.tags).toEqual(['someone-else']);
      expect(d!.description).toBe('not ours');
    }
  }

  /** Leaves the shared Prefect server as it found it. */
  async tidy(): Promise<void> {
    for (const d of await this.managed()) await this.api.call('DELETE', `/deployments/${d.id}`);
    for (const id of this.unmanaged) await this.api.call('DELETE', `/deployments/${id}`);
  }
}

describe('model-based: rows, drift, faults and crashes converge, and the log replays to Prefect', () => {
  const started = Date.now();
  afterAll(() => {
    console.log(
      `[model] seed ${SEED}, ${totals.runs} runs, ${totals.steps} steps (${JSON.stringify(totals.byKind)}), ` +
        `${totals.connectors} connectors inserted, ${totals.faults} fault passes (${totals.injected503} answers replaced by 503), ` +
        `${totals.crashesKilled} kill -9 mid-pass (+${totals.crashesFinishedFirst} passes finished before the kill), ` +
        `${totals.skipped} steps without a target, ${totals.invalidFixed} rows still invalid at the end (fixed before quiet), ${totals.quietPasses} quiet passes, ${Math.round((Date.now() - started) / 1000)} s`,
    );
  });

  it(
    `converges to the model after any sequence of steps (seed ${SEED}, ${RUNS} runs)`,
    async () => {
      console.log(`[model] seed ${SEED} (MODEL_SEED to replay), ${RUNS} runs (MODEL_RUNS)`);
      await fc.assert(
        fc.asyncProperty(scenarioArb, async ({ initial, initialPass, steps }) => {
          totals.runs++;
          // A short timeout, so a withheld answer (first-attempt-timeout) costs seconds, not tens.
          // One retry with short delays keeps the settle bound ((retries + 3) ×
          // timeout + retries × max delay) at 12.25 s for the quiet passes.
          const env = await createTestEnv({
            config: {
              prefect: {
                timeoutMs: PREFECT_TIMEOUT_MS,
                retries: 1,
                retryMinDelayMs: 100,
                retryMaxDelayMs: 250,
              },
            },
          });
          const run = new Run(env);
          try {
            for (const row of initial)
              run.note(`initial ${JSON.stringify(row)} → id ${await run.insert(row)}`);
            if (initialPass) {
              const code = await run.runOnce(env.apiUrl);
              run.note(`initial run --once → exit ${code}`);
              expect(code, 'initial run --once').toBe(0);
            }
            for (const step of steps) run.note(`${describeStep(step)} → ${await run.step(step)}`);
            await run.fixInvalid();
            await run.quiet();
            await run.check();
            await run.tidy();
            if (VERBOSE) console.log(`[model] run ${totals.runs}:\n${run.log.join('\n')}`);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            throw new Error(`${message}\n--- what this run did:\n${run.log.join('\n')}`, {
              cause: error,
            });
          } finally {
            await env.cleanup();
          }
        }),
        { seed: SEED, numRuns: RUNS, verbose: 1, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}) },
      );
    },
    60 * 60_000,
  );
});
