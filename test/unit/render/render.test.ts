import { describe, expect, it } from 'vitest';
import type { Change, Problem } from '../../../src/domain/types.js';
import { passJson, renderPassesTable } from '../../../src/render/passes.js';
import {
  planJson,
  renderChange,
  renderPlan,
  renderProblem,
  summarize,
} from '../../../src/render/plan.js';
import { EXIT } from '../../../src/domain/exit-codes.js';
import { exitCodeOf, renderRun, runJson } from '../../../src/render/run.js';
import { renderEvent, renderStatusTable, statusJson } from '../../../src/render/status.js';
import {
  deploymentFor,
  emptyPlan,
  managedOnly,
  perPassHold,
  specFor,
} from '../../harness/plan-fixtures.js';
import type { ConnectorState } from '../../../src/domain/connector-state.js';
import type { StoredEvent } from '../../../src/domain/events.js';
import type { PassRecord } from '../../../src/domain/pass-record.js';
import type { PassResult } from '../../../src/pass/result.js';

// What people and machines read about a pass, and the exit code it ends with.

function result(
  overrides: Partial<PassResult> = {},
  plan: Partial<PassResult['plan']> = {},
): PassResult {
  return {
    passId: 'pass-1',
    dryRun: false,
    plan: emptyPlan(plan),
    applied: [],
    failures: [],
    settled: { tookEffect: 0, didNot: 0 },
    waiting: [],
    events: 0,
    aborted: null,
    calls: { reads: 3, writes: 0, byRoute: {} },
    durationMs: 1234,
    ...overrides,
  };
}

const problem: Problem = {
  connectorId: '9',
  connectorName: 'x',
  status: 'invalid',
  message: 'unknown timezone "Mars/Olympus"',
  retryable: false,
};
const create: Change = { action: 'create', connectorId: '1', spec: specFor('1') };
const drifted = deploymentFor(specFor('2'), { description: 'old' });
const update: Change = {
  action: 'update',
  connectorId: '2',
  connectorName: 'Connector 2',
  deployment: drifted,
  fields: { description: { from: 'old', to: 'Connector 2' } },
};
const remove: Change = {
  action: 'delete',
  connectorId: '3',
  connectorName: null,
  deployment: managedOnly('3'),
  reason: 'row deleted',
};
const waiting = [
  { connectorId: '4', deploymentId: 'd', message: 'waiting for an earlier update call', inMs: 5 },
];

describe('exitCodeOf: the first that applies of 69, 1, 2, 0', () => {
  it.each<[string, PassResult, number]>([
    ['converged', result(), EXIT.ok],
    ['plan with changes', result({ dryRun: true }, { changes: [create] }), EXIT.pending],
    ['run left connectors waiting', result({ waiting }), EXIT.pending],
    ['a problem', result({}, { problems: [problem] }), EXIT.problems],
    ['a failure while applying', result({ failures: [problem] }), EXIT.problems],
    [
      'held deletes',
      result(
        {},
        {
          heldDeletes: perPassHold({
            deletes: [],
            connectors: [],
          }),
        },
      ),
      EXIT.problems,
    ],
    [
      'a problem beats pending',
      result({ dryRun: true, waiting }, { changes: [create], problems: [problem] }),
      EXIT.problems,
    ],
    [
      'aborted beats everything',
      result({ aborted: 'Prefect kept failing', failures: [problem] }),
      EXIT.unavailable,
    ],
  ])('%s', (_name, pass, code) => {
    expect(exitCodeOf(pass)).toBe(code);
  });
});

describe('the plan, for people', () => {
  it('one line per change, problem and note, then the summary', () => {
    const text = renderPlan(
      result(
        { dryRun: true },
        {
          changes: [create, update, remove],
          problems: [problem],
          notices: [{ connectorId: null, message: 'a note' }],
          unchanged: ['5'],
        },
      ),
      'Plan',
    );
    expect(text.split('\n')).toEqual([
      '+ create  connector-1    schedule "0 1 * * *" UTC, active',
      '~ update  connector-2    description: "old" -> "Connector 2"',
      '- delete  connector-3    (row deleted)',
      '! invalid connector 9    unknown timezone "Mars/Olympus"',
      '? note    a note',
      'Plan: 1 to create, 1 to update, 0 to pause, 0 to resume, 1 to delete; 1 unchanged; 1 invalid.',
    ]);
  });

  it('a pause that only stops runs says why', () => {
    const pause: Change = {
      action: 'pause',
      connectorId: '2',
      connectorName: null,
      deployment: drifted,
      fields: { paused: { from: false, to: true } },
      reason: 'row invalid',
    };
    expect(renderChange(pause)).toBe('~ pause   connector-2    (row invalid)');
  });

  it('held deletes are listed with what they hold back', () => {
    const text = renderPlan(
      result(
        { dryRun: true },
        {
          heldDeletes: perPassHold({
            deletes: [{ ...remove, reason: 'renamed' }],
            connectors: [
              { connectorId: '3', connectorName: null, message: 'm', notCreated: 'cs-3' },
            ],
          }),
        },
      ),
      'Plan',
    );
    expect(text).toContain(
      '= held    connector-3    delete held back by the mass-delete guard (renamed; "cs-3" not created until then)',
    );
  });

  it('long values are cut, schedules shown as crons', () => {
    const long: Change = {
      ...update,
      fields: { parameters: { from: { a: 'x'.repeat(100) }, to: {} } },
    };
    expect(renderChange(long)).toMatch(/parameters: \{"a":"x+\.\.\. -> \{\}$/);
    const schedules: Change = {
      ...update,
      fields: {
        schedules: { from: [{ cron: '0 1 * * *', timezone: 'UTC', active: false }], to: [] },
      },
    };
    expect(renderChange(schedules)).toMatch(/schedules: "0 1 \* \* \*" UTC \(inactive\) -> none$/);
  });
});

describe('the plan, for machines', () => {
  it('planJson has every key, a summary and the problems', () => {
    const json = planJson(
      result({ dryRun: true }, { changes: [create, update], problems: [problem] }),
    );
    expect(json.changes).toEqual([
      {
        action: 'create',
        connector_id: '1',
        deployment_name: 'connector-1',
        deployment_id: null,
        fields: null,
      },
      {
        action: 'update',
        connector_id: '2',
        deployment_name: 'connector-2',
        deployment_id: drifted.id,
        fields: update.fields,
      },
    ]);
    expect(json.problems).toEqual([
      { connector_id: '9', status: 'invalid', message: problem.message },
    ]);
    expect(json.held_deletes).toBeNull();
    expect(json.summary).toEqual(
      summarize(result({}, { changes: [create, update], problems: [problem] })),
    );
    expect(json.summary).toMatchObject({ create: 1, update: 1, invalid: 1 });
  });

  it('suspended connectors: a line each, counted in the summary, listed in JSON', () => {
    const since = new Date('2026-12-01T09:00:00Z');
    const suspended = [
      {
        connectorId: '42',
        by: 'alice',
        reason: 'migrating',
        since,
        deploymentName: 'connector-42',
        wouldChange: true,
      },
      { connectorId: '43', by: 'bob', reason: 'no "rush"', since, deploymentName: null },
    ];
    const r = result({ dryRun: true }, { changes: [create], suspended, unchanged: ['5'] });
    const lines = renderPlan(r, 'Plan').split('\n');
    expect(lines).toContain(
      '= suspended connector-42   left as it is, would change (suspended by alice: "migrating"; since 2026-12-01T09:00:00.000Z)',
    );
    expect(lines).toContain(
      '= suspended connector 43 (no deployment) left as it is (suspended by bob: "no \\"rush\\""; since 2026-12-01T09:00:00.000Z)',
    );
    expect(lines.at(-1)).toBe(
      'Plan: 1 to create, 0 to update, 0 to pause, 0 to resume, 0 to delete; 1 unchanged, 2 suspended.',
    );
    const json = planJson(r);
    expect(json.summary.suspended).toBe(2);
    expect(json.suspended[0]).toEqual({
      connector_id: '42',
      suspended_by: 'alice',
      reason: 'migrating',
      suspended_at: '2026-12-01T09:00:00.000Z',
      deployment_name: 'connector-42',
      would_change: true,
    });
    // Changes pending win; with none, what a suspension holds back exits 3.
    expect(exitCodeOf(r)).toBe(EXIT.pending);
    const onlyHeld = result({ dryRun: true }, { suspended, unchanged: ['5'] });
    expect(exitCodeOf(onlyHeld)).toBe(EXIT.suspended);
    expect(exitCodeOf(result({ dryRun: true }, { suspended: [suspended[1]!] }))).toBe(EXIT.ok);
  });

  it('runJson: a dry run carries only the waiting connectors, a real one the pass', () => {
    expect(runJson(result({ dryRun: true, waiting }))).toEqual({
      waiting: [{ connector_id: '4', deployment_id: 'd', message: waiting[0]!.message }],
    });
    expect(runJson(result())).toMatchObject({
      pass_id: 'pass-1',
      applied: 0,
      events: 0,
      duration_ms: 1234,
      aborted: null,
    });
  });
});

describe('renderRun', () => {
  it('says what was settled, what waits, what cut the pass short, and the calls', () => {
    const text = renderRun(
      result({
        settled: { tookEffect: 1, didNot: 1 },
        waiting,
        aborted: 'Prefect kept failing',
        events: 2,
      }),
    );
    expect(text).toContain('Settled 2 open intents from an earlier pass: 1 took effect.');
    expect(text).toContain('1 open intents are too recent to settle');
    expect(text).toContain('Pass ended early: Prefect kept failing');
    expect(text).toMatch(/Events written: 2\. Prefect calls: 3 reads, 0 writes\. 1\.23s\.$/);
  });
});

describe('status and events', () => {
  const state: ConnectorState = {
    connectorId: '7',
    deploymentId: 'dep-7',
    deploymentName: 'connector-7',
    status: 'held',
    lastError: 'not deleted',
    attempts: 0,
    nextAttemptAt: null,
    lastSyncedAt: new Date('2026-12-01T08:00:00Z'),
    rowHash: null,
  };

  it('an invalid row whose connector has a deployment: still running the spec of its last sync', () => {
    const invalid = { ...state, status: 'invalid' as const, lastError: 'cron "x" has 1 fields' };
    expect(renderStatusTable([invalid])).toMatch(
      /^7 +invalid — still running the spec of 2026-12-01T08:00:00\.000Z +connector-7 /m,
    );
    const json = statusJson([invalid, { ...invalid, connectorId: '8', deploymentId: null }]) as {
      connectors: Record<string, unknown>[];
    };
    expect(json.connectors.map((c) => c.still_running_since)).toEqual([state.lastSyncedAt, null]);
    expect(
      renderProblem({
        connectorId: '7',
        connectorName: 'Orders',
        status: 'invalid',
        message: 'cron "x" has 1 fields',
        retryable: false,
        stillRunningSince: new Date('2026-12-01T08:00:00Z'),
      }),
    ).toBe(
      '! invalid connector 7    cron "x" has 1 fields — still running the spec of 2026-12-01T08:00:00.000Z',
    );
  });

  it('the release each connector is on follows its status, once the ledger has one', () => {
    const text = renderStatusTable([state], new Map(), new Map(), new Map([['7', '2026.05.2']]));
    expect(text.split('\n')[0]).toMatch(/^CONNECTOR +STATUS +RELEASE +DEPLOYMENT /);
    expect(text).toMatch(/^7 +held +2026\.05\.2 +connector-7 /m);
    const json = statusJson([state], new Map(), true, new Map(), new Map([['7', '2026.05.2']])) as {
      connectors: Record<string, unknown>[];
    };
    expect(json.connectors[0]!.release).toBe('2026.05.2');
  });

  it('a table with a summary line, and JSON with the same fields', () => {
    const text = renderStatusTable([
      state,
      { ...state, connectorId: '8', status: 'synced', lastError: null },
    ]);
    expect(text.split('\n')[0]).toMatch(
      /^CONNECTOR +STATUS +DEPLOYMENT +DEPLOYMENT ID +ATTEMPTS +LAST SYNCED +LAST ERROR$/,
    );
    expect(text).toMatch(
      /^7 +held +connector-7 +dep-7 +0 +2026-12-01T08:00:00.000Z +not deleted$/m,
    );
    expect(text.endsWith('2 connectors: 1 held, 1 synced.')).toBe(true);
    expect(renderStatusTable([])).toBe('No connectors seen yet: run a pass first.');
    expect(statusJson([state])).toEqual({
      connectors: [
        {
          connector_id: '7',
          status: 'held',
          deployment_id: 'dep-7',
          deployment_name: 'connector-7',
          last_error: 'not deleted',
          attempts: 0,
          next_attempt_at: null,
          last_synced_at: state.lastSyncedAt,
          still_running_since: null,
          release: null,
          suspended: null,
          run_health: null,
        },
      ],
    });
  });

  it('run health: its columns after STATUS once a full pass read any, in the summary, and in JSON', () => {
    const checkedAt = new Date('2026-12-01T10:00:00Z');
    const health = new Map([
      [
        '7',
        {
          connectorId: '7',
          deploymentId: 'dep-7',
          readiness: 'READY',
          health: 'failing' as const,
          lastRunState: 'Crashed',
          lastRunStateType: 'CRASHED',
          lastRunAt: new Date('2026-12-01T09:00:00Z'),
          runsLate: 0,
          failedRuns: 2,
          runsConsidered: 5,
          checkedAt,
        },
      ],
    ]);
    const synced = { ...state, connectorId: '8', status: 'synced' as const, lastError: null };
    const text = renderStatusTable([state, synced], new Map(), health);
    expect(text.split('\n')[0]).toMatch(
      /^CONNECTOR +STATUS +HEALTH +LAST RUN +LATE +FAILED +DEPLOYMENT +DEPLOYMENT ID +ATTEMPTS/,
    );
    expect(text).toMatch(
      /^7 +held +failing +Crashed 2026-12-01T09:00:00.000Z +0 +2\/5 +connector-7 /m,
    );
    expect(text).toMatch(/^8 +synced +- +- +- +- +connector-7 /m);
    expect(text.endsWith('2 connectors: 1 held, 1 synced; run health: 1 failing.')).toBe(true);
    const json = statusJson([state, synced], new Map(), true, health) as {
      connectors: Record<string, unknown>[];
    };
    expect(json.connectors.map((c) => c.run_health)).toEqual([
      {
        health: 'failing',
        readiness: 'READY',
        last_run_state: 'Crashed',
        last_run_state_type: 'CRASHED',
        last_run_at: new Date('2026-12-01T09:00:00Z'),
        runs_late: 0,
        failed_runs: 2,
        of_last_runs: 5,
        deployment_id: 'dep-7',
        checked_at: checkedAt,
      },
      null,
    ]);
  });

  it('suspended connectors: who, since and why in a column of their own, and in JSON', () => {
    const since = new Date('2026-12-01T09:00:00Z');
    const suspensions = new Map([
      ['7', { by: 'alice', reason: 'migrating', since }],
      ['99', { by: 'bob', reason: 'not yet', since }],
    ]);
    const text = renderStatusTable([state], suspensions);
    expect(text.split('\n')[0]).toMatch(/ +LAST ERROR +SUSPENDED$/);
    expect(text).toMatch(
      /^7 +held .* +not deleted +by alice since 2026-12-01T09:00:00.000Z: "migrating"$/m,
    );
    expect(text).toMatch(/^99 +- .* by bob since 2026-12-01T09:00:00.000Z: "not yet"$/m);
    expect(text.endsWith('2 connectors: 1 held; 2 suspended.')).toBe(true);
    const json = statusJson([state], suspensions) as { connectors: Record<string, unknown>[] };
    expect(json.connectors.map((c) => [c.connector_id, c.status, c.suspended])).toEqual([
      ['7', 'held', { by: 'alice', reason: 'migrating', since }],
      ['99', null, { by: 'bob', reason: 'not yet', since }],
    ]);
    // A page of /api/connectors lists the states it pages through, nothing more.
    expect(
      (statusJson([state], suspensions, false) as { connectors: unknown[] }).connectors,
    ).toHaveLength(1);
  });

  it('an event line names the action, connector, deployment and what changed', () => {
    const event: StoredEvent = {
      id: 'e',
      occurred: new Date('2026-12-01T08:00:00Z'),
      event: 'prefect.deployment.updated',
      action: 'updated',
      connector_id: '7',
      deployment_id: 'dep-7',
      resource: { 'prefect.resource.name': 'connector-7' },
      related: [],
      payload: { updated_fields: ['schedules', 'paused'] },
      pass_id: 'p',
    };
    expect(renderEvent(event)).toBe(
      '2026-12-01T08:00:00.000Z  updated  connector 7        connector-7  fields: schedules, paused',
    );
    const failed = {
      ...event,
      action: 'failed',
      payload: { status: 'invalid', message: 'bad cron' },
    };
    expect(renderEvent(failed)).toMatch(/failed +connector 7 +connector-7 {2}invalid: bad cron$/);
  });
});

describe('the pass history', () => {
  const pass = (over: Partial<PassRecord>): PassRecord => ({
    id: '0190c2a4-7d1e-7c3b-9f00-123456789abc',
    startedAt: new Date('2026-12-02T08:00:00Z'),
    finishedAt: new Date('2026-12-02T08:00:01.5Z'),
    kind: 'full',
    result: 'ok',
    changes: {},
    problems: 0,
    events: 0,
    calls: { reads: 6, writes: 0 },
    durationMs: 1500,
    error: null,
    ...over,
  });

  it('a table newest first, changes counted, the error last and unpadded', () => {
    const table = renderPassesTable(
      [
        pass({
          result: 'error',
          error: 'Prefect unreachable: connect ECONNREFUSED',
          durationMs: 12_400,
        }),
        pass({
          result: 'problems',
          changes: { create: 3, update: 0, delete: 1 },
          problems: 2,
          calls: { reads: 7, writes: 4 },
        }),
      ],
      true,
    );
    expect(table.split('\n')).toEqual([
      'STARTED                   KIND  RESULT    DURATION  CHANGES             PROBLEMS  CALLS  ERROR',
      '2026-12-02T08:00:00.000Z  full  error     12s       -                   0         6r/0w  Prefect unreachable: connect ECONNREFUSED',
      '2026-12-02T08:00:00.000Z  full  problems  1.50s     3 create, 1 delete  2         7r/4w',
      '',
      'Showing the newest 2; use --limit to see more.',
    ]);
    expect(renderPassesTable([], false)).toMatch(/^No passes recorded yet/);
  });

  it("JSON in the API's words", () => {
    expect(passJson(pass({ changes: { create: 1 } }))).toEqual({
      id: '0190c2a4-7d1e-7c3b-9f00-123456789abc',
      started_at: '2026-12-02T08:00:00.000Z',
      finished_at: '2026-12-02T08:00:01.500Z',
      kind: 'full',
      result: 'ok',
      duration_ms: 1500,
      changes: { create: 1 },
      problems: 0,
      events: 0,
      prefect_calls: { reads: 6, writes: 0 },
      error: null,
    });
  });
});
