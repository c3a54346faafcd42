import { describe, expect, it } from 'vitest';
import { planPass, type PlanInput } from '../../../src/domain/plan.js';
import type { Suspension } from '../../../src/domain/types.js';
import {
  deploymentFor,
  invalidProblem,
  managedOnly,
  OTHER_FLOW_ID,
  specFor,
  planInputOf,
} from '../../harness/plan-fixtures.js';

// The planner's rule for a connector an operator suspended: its deployment
// stays exactly as it is, whatever its row or Prefect says.

const SINCE = new Date('2026-12-01T10:00:00Z');
const BY_ALICE: Suspension = { by: 'alice', reason: 'migrating', since: SINCE };

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return planInputOf({
    suspended: new Map([['1', BY_ALICE]]),
    known: new Set(['1']),
    rowAsSynced: new Set(['1']),
    ...overrides,
  });
}

describe('planPass: a suspended connector', () => {
  it('is listed as suspended with who, why, since and its deployment, and counts as nothing else', () => {
    const spec = specFor('1');
    const plan = planPass(input({ specs: [spec], managed: [deploymentFor(spec)] }));
    expect(plan.suspended).toEqual([
      {
        connectorId: '1',
        by: 'alice',
        reason: 'migrating',
        since: SINCE,
        deploymentName: spec.name,
      },
    ]);
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual([]);
  });

  it('gets no deployment when it has none', () => {
    const plan = planPass(input({ specs: [specFor('1')] }));
    expect(plan.changes).toEqual([]);
    expect(plan.suspended[0]?.deploymentName).toBeNull();
  });

  it('a changed row or a drift is not updated, paused or resumed', () => {
    const spec = specFor('1', { cron: '5 4 * * *', isActive: false });
    const drifted = deploymentFor(specFor('1'), { paused: false, description: 'edited by hand' });
    expect(planPass(input({ specs: [spec], managed: [drifted] })).changes).toEqual([]);
    const resumedRow = specFor('1', { isActive: true });
    const pausedByHand = deploymentFor(resumedRow, { paused: true });
    expect(planPass(input({ specs: [resumedRow], managed: [pausedByHand] })).changes).toEqual([]);
  });

  it('is not deleted when its row is deleted, soft-deleted or inactive with onInactive delete', () => {
    const orphan = managedOnly('1');
    expect(planPass(input({ managed: [orphan] })).changes).toEqual([]);
    expect(
      planPass(input({ managed: [orphan], softDeleted: new Map([['1', 'Connector 1']]) })).changes,
    ).toEqual([]);
    const inactive = specFor('1', { isActive: false });
    expect(
      planPass(
        input({ specs: [inactive], managed: [deploymentFor(inactive)], onInactive: 'delete' }),
      ).changes,
    ).toEqual([]);
  });

  it('an old name or another flow of its own is kept, and no new one is created', () => {
    const spec = specFor('1');
    const old = deploymentFor(spec, { name: 'connector-1-old', flow_id: OTHER_FLOW_ID });
    const plan = planPass(input({ specs: [spec], managed: [old] }));
    expect(plan.changes).toEqual([]);
    expect(plan.suspended[0]?.deploymentName).toBe('connector-1-old');
  });

  it('an invalid row that is inactive is not paused, and its problem is not reported', () => {
    const deployment = managedOnly('1', { paused: false });
    const plan = planPass(
      input({
        managed: [deployment],
        problems: [invalidProblem('1')],
        stopRuns: new Map([['1', 'Connector 1']]),
      }),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.problems).toEqual([]);
  });

  it('its name taken by a stranger is no conflict while suspended', () => {
    const spec = specFor('1');
    const stranger = deploymentFor(spec, { id: 'foreign-1', tags: ['hand-made'] });
    const plan = planPass(input({ specs: [spec], foreign: [stranger] }));
    expect(plan.problems).toEqual([]);
    expect(plan.changes).toEqual([]);
  });

  it('others are planned as ever: created, updated, deleted', () => {
    const suspendedSpec = specFor('1', { cron: '5 4 * * *' });
    const other = specFor('2', { cron: '5 4 * * *' });
    const plan = planPass(
      input({
        specs: [suspendedSpec, other, specFor('3')],
        managed: [deploymentFor(specFor('1')), deploymentFor(specFor('2')), managedOnly('9')],
        known: new Set(['1', '2', '9']),
      }),
    );
    expect(plan.changes.map((c) => `${c.action} ${c.connectorId}`)).toEqual([
      'update 2',
      'create 3',
      'delete 9',
    ]);
  });

  it('does not count against the mass-delete limit, nor is it held', () => {
    const managed = Array.from({ length: 12 }, (_, i) => managedOnly(String(i + 1)));
    const known = new Set(managed.map((_, i) => String(i + 1)));
    // 12 rows gone, 1 suspended: 11 deletes (over 10 held back); with 2 suspended: 10 go.
    const held = planPass(input({ managed, known }));
    expect(held.heldDeletes?.count).toBe(11);
    const suspended = new Map([
      ['1', BY_ALICE],
      ['2', BY_ALICE],
    ]);
    const plan = planPass(input({ managed, known, suspended }));
    expect(plan.heldDeletes).toBeNull();
    expect(plan.changes.filter((c) => c.action === 'delete')).toHaveLength(10);
  });
});
