import { describe, expect, it } from 'vitest';
import type { Change, Problem } from '../../../src/domain/types.js';
import { statesAfterPass, type AfterPassInput } from '../../../src/domain/states-after-pass.js';
import {
  blankState,
  deferredConnectors,
  isNewProblem,
  problemState,
  stateAfter,
  stateChanged,
  synced,
  withStatus,
  type ConnectorState,
} from '../../../src/domain/connector-state.js';
import {
  connectorRow,
  managedOnly,
  specFor,
  emptyPlan,
  perPassHold,
} from '../../harness/plan-fixtures.js';

// Every connector's state after a pass, decided from its plan and what it applied.

const NOW = new Date('2026-12-01T08:00:00Z');
const plan = emptyPlan;
const invalid = (id: string, message = 'bad cron'): Problem => ({
  connectorId: id,
  connectorName: null,
  status: 'invalid',
  message,
  retryable: false,
});

function input(overrides: Partial<AfterPassInput> = {}): AfterPassInput {
  return {
    plan: plan(),
    applied: [],
    failures: [],
    states: new Map(),
    hashes: new Map(),
    liveRows: new Set(),
    managed: [],
    scope: null,
    deferred: new Set(),
    waiting: new Map(),
    configTags: ['managed-by:connector-sync'],
    backoff: { baseSeconds: 10, maxSeconds: 3600 },
    now: NOW,
    random: () => 0.5,
    ...overrides,
  };
}

const byId = (states: ConnectorState[]): Record<string, string> =>
  Object.fromEntries(
    states.map((s) => [s.connectorId, `${s.status}${s.lastError ? `: ${s.lastError}` : ''}`]),
  );

describe('statesAfterPass', () => {
  it('a suspended connector whose row is gone and has no deployment keeps its state', () => {
    const suspended = [
      { connectorId: '2', by: 'alice', reason: 'migrating', since: NOW, deploymentName: null },
    ];
    const states = new Map([['2', withStatus(undefined, '2', 'failed', { lastError: 'boom' })]]);
    expect(statesAfterPass(input({ plan: plan({ suspended }), states })).states).toEqual([]);
    // Not suspended: deleted, as ever.
    expect(byId(statesAfterPass(input({ states })).states)).toEqual({ '2': 'deleted' });
  });

  it('unchanged connectors are synced to their deployment; gone ones deleted; nothing written twice', () => {
    const deployment = managedOnly('1');
    const out = statesAfterPass(
      input({
        plan: plan({ unchanged: ['1'] }),
        managed: [deployment],
        liveRows: new Set(['1']),
        states: new Map([['2', withStatus(undefined, '2', 'synced', {})]]),
      }),
    );
    expect(byId(out.states)).toEqual({ '1': 'synced', '2': 'deleted' });
    expect(out.states.find((s) => s.connectorId === '1')?.deploymentId).toBe(deployment.id);
    const again = statesAfterPass(
      input({
        plan: plan({ unchanged: ['1'] }),
        managed: [deployment],
        liveRows: new Set(['1']),
        states: new Map(out.states.map((s) => [s.connectorId, s])),
      }),
    );
    expect(again.states).toEqual([]); // a no-op pass writes no state
  });

  it('a new problem is reported once; the same one again is not; a failed connector backs off', () => {
    const failed: Problem = {
      ...invalid('2', 'Prefect answered 503'),
      status: 'failed',
      retryable: true,
    };
    const first = statesAfterPass(
      input({ plan: plan({ problems: [invalid('1')] }), failures: [failed] }),
    );
    expect(first.newProblems.map((p) => p.connectorId)).toEqual(['1', '2']);
    const backingOff = first.states.find((s) => s.connectorId === '2')!;
    expect(backingOff.nextAttemptAt?.getTime()).toBe(NOW.getTime() + 7_500); // 10 s, half of it jitter
    const states = new Map(first.states.map((s) => [s.connectorId, s]));
    const second = statesAfterPass(input({ plan: plan({ problems: [invalid('1')] }), states }));
    expect(second.newProblems).toEqual([]);
  });

  it('held connectors are held, over a confirm that wrote synced, but a row problem stands', () => {
    const update: Change = {
      action: 'update',
      connectorId: '1',
      connectorName: null,
      deployment: managedOnly('1'),
      fields: { description: { from: 'a', to: 'b' } },
    };
    const out = statesAfterPass(
      input({
        plan: plan({
          problems: [invalid('2')],
          heldDeletes: perPassHold({
            deletes: [],
            connectors: [
              { connectorId: '1', connectorName: null, message: 'held back', notCreated: null },
              { connectorId: '2', connectorName: null, message: 'held back', notCreated: null },
            ],
          }),
        }),
        applied: [{ change: update, result: update.deployment, eventId: 'e' }],
        states: new Map([['1', withStatus(undefined, '1', 'held', { lastError: 'held back' })]]),
      }),
    );
    expect(byId(out.states)).toEqual({ '1': 'held: held back', '2': 'invalid: bad cron' });
  });

  it('a connector whose earlier call may still land is pending, unless its row has a problem', () => {
    const out = statesAfterPass(
      input({
        plan: plan({ problems: [invalid('2')], unchanged: ['1'] }),
        waiting: new Map([
          ['1', 'waiting for an earlier update call'],
          ['2', 'waiting for an earlier update call'],
        ]),
      }),
    );
    expect(byId(out.states)).toEqual({
      '1': 'pending: waiting for an earlier update call',
      '2': 'invalid: bad cron',
    });
  });
});

describe('state helpers', () => {
  it('synced clears the problem and its backoff; deleted when there is no deployment', () => {
    const failing = withStatus(undefined, '1', 'failed', {
      lastError: 'x',
      attempts: 3,
      nextAttemptAt: NOW,
    });
    expect(synced(failing, '1', { id: 'd', name: 'n' }, NOW)).toMatchObject({
      status: 'synced',
      deploymentId: 'd',
      lastError: null,
      attempts: 0,
      nextAttemptAt: null,
      lastSyncedAt: NOW,
    });
    expect(synced(failing, '1', null, NOW).status).toBe('deleted');
  });

  it('problemState counts attempts of the same problem, starts again for a new one', () => {
    const p = invalid('1');
    const once = problemState(undefined, p, 'h');
    const twice = problemState(once, p, 'h');
    expect([once.attempts, twice.attempts]).toEqual([1, 2]);
    expect(problemState(twice, invalid('1', 'other'), 'h').attempts).toBe(1);
    expect(isNewProblem(twice, p)).toBe(false);
    expect(isNewProblem(twice, invalid('1', 'other'))).toBe(true);
  });

  it('stateChanged looks at every field that is written', () => {
    const s = blankState('1');
    expect(stateChanged(undefined, s)).toBe(true);
    expect(stateChanged(s, { ...s })).toBe(false);
    expect(stateChanged(s, { ...s, nextAttemptAt: NOW })).toBe(true);
    expect(stateChanged(s, { ...s, rowHash: 'x' })).toBe(true);
  });

  it('deferred: an invalid row until it changes; a failing one while its backoff lasts (worker only)', () => {
    const rows = [connectorRow({ id: '1' }), connectorRow({ id: '2' })];
    const states = new Map([
      ['1', withStatus(undefined, '1', 'invalid', { lastError: 'Prefect said no', rowHash: 'h1' })],
      [
        '2',
        withStatus(undefined, '2', 'failed', {
          lastError: '503',
          rowHash: 'h2',
          nextAttemptAt: new Date(NOW.getTime() + 1_000),
        }),
      ],
    ]);
    const hashes = new Map([
      ['1', 'h1'],
      ['2', 'h2'],
    ]);
    const worker = { backoff: true, invalid: true };
    expect([...deferredConnectors(rows, states, hashes, NOW, worker).connectors]).toEqual([
      '1',
      '2',
    ]);
    const once = { backoff: false, invalid: true };
    expect([...deferredConnectors(rows, states, hashes, NOW, once).connectors]).toEqual(['1']);
    const changed = new Map([['1', 'changed']]);
    expect([...deferredConnectors(rows, states, changed, NOW, worker).connectors]).toEqual([]);
    // `sync` / `retry`: nothing is deferred.
    const sync = { backoff: false, invalid: false };
    expect([...deferredConnectors(rows, states, hashes, NOW, sync).connectors]).toEqual([]);
  });

  it('stateAfter: a change that only clears the way leaves the connector alone', () => {
    const spec = specFor('1');
    const created = { ...managedOnly('1'), id: 'new' };
    expect(
      stateAfter({ action: 'create', connectorId: '1', spec }, created, new Map(), NOW)[0],
    ).toMatchObject({
      status: 'synced',
      deploymentId: 'new',
    });
    const leftover: Change = {
      action: 'delete',
      connectorId: '1',
      connectorName: null,
      deployment: managedOnly('1'),
      reason: 'renamed',
    };
    expect(stateAfter(leftover, null, new Map(), NOW)).toEqual([]);
    expect(
      stateAfter({ ...leftover, reason: 'row deleted' }, null, new Map(), NOW)[0]?.status,
    ).toBe('deleted');
  });
});
