import { describe, expect, it } from 'vitest';
import { planPass } from '../../../src/domain/plan.js';
import { shrinkOf, shrinkLimitOf } from '../../../src/domain/source-health.js';
import type { Change, Deployment } from '../../../src/domain/types.js';
import { managedOnly, planInputOf, specFor } from '../../harness/plan-fixtures.js';

// The delete budget and the source check, beside the per-pass guard
// (plan.test.ts): pure, on the planner's input.

const gone = (n: number, from = 100): Deployment[] =>
  Array.from({ length: n }, (_, i) => managedOnly(String(from + i)));
const known = (deployments: Deployment[]): Set<string> =>
  new Set(deployments.map((d) => d.name.replace('connector-', '')));
const deleted = (changes: Change[]): string[] =>
  changes.flatMap((c) => (c.action === 'delete' ? [c.connectorId ?? '-'] : []));
const budget = (limit: number, used: number) => ({ limit, window: '1h', used });

describe('the delete budget', () => {
  it('lets the deletes it has room for go, in connector order, and holds the rest', () => {
    const doomed = gone(5);
    const plan = planPass(
      planInputOf({ managed: doomed, known: known(doomed), budget: budget(10, 7) }),
    );
    expect(deleted(plan.changes)).toEqual(['100', '101', '102']);
    expect(plan.heldDeletes).toMatchObject({
      rule: 'budget',
      by: 'the delete budget',
      count: 2,
      limit: 10,
    });
    expect(plan.heldDeletes!.connectors.map((c) => c.connectorId)).toEqual(['103', '104']);
    expect(plan.heldDeletes!.connectors[0]!.message).toBe(
      'deployment "connector-103" (row deleted) not deleted: the delete budget of 10 per 1h is spent; it goes once the window frees up, or when approved',
    );
    expect(plan.notices).toEqual([
      {
        connectorId: null,
        message:
          "delete budget: 7 deployments deleted in the last 1h, the delete budget is 10 per 1h; 2 of this pass's 5 deletes are held back until the window frees up (approve them if they are intended)",
      },
    ]);
  });

  it('holds a single delete once the window is spent (deletes that trickle in one at a time)', () => {
    const one = gone(1);
    const spent = planPass(
      planInputOf({ managed: one, known: known(one), budget: budget(10, 10) }),
    );
    expect(deleted(spent.changes)).toEqual([]);
    expect(spent.heldDeletes).toMatchObject({ rule: 'budget', count: 1 });
    const room = planPass(planInputOf({ managed: one, known: known(one), budget: budget(10, 9) }));
    expect(deleted(room.changes)).toEqual(['100']);
    expect(room.heldDeletes).toBeNull();
  });

  it("pauses what must not run while held, as the per-pass guard does (an inactive connector's)", () => {
    const spec = specFor('7', { isActive: false });
    const live = managedOnly('7', { paused: false });
    const plan = planPass(
      planInputOf({
        specs: [spec],
        managed: [live],
        onInactive: 'delete',
        known: new Set(['7']),
        budget: budget(10, 10),
      }),
    );
    expect(plan.changes.map((c) => `${c.action} ${c.connectorId}`)).toEqual(['pause 7']);
    expect(plan.heldDeletes!.connectors[0]!.message).toContain('; it is paused until then');
  });

  it('the per-pass limit comes first: a pass over it deletes nothing, whatever room the budget has', () => {
    const doomed = gone(11);
    const plan = planPass(
      planInputOf({ managed: doomed, known: known(doomed), budget: budget(100, 0) }),
    );
    expect(deleted(plan.changes)).toEqual([]);
    expect(plan.heldDeletes).toMatchObject({ rule: 'per-pass', count: 11, limit: 10 });
  });

  it('an approval (--allow-mass-delete) lets every delete go', () => {
    const doomed = gone(4);
    const plan = planPass(
      planInputOf({
        managed: doomed,
        known: known(doomed),
        budget: budget(10, 10),
        allowMassDelete: true,
      }),
    );
    expect(deleted(plan.changes)).toHaveLength(4);
    expect(plan.heldDeletes).toBeNull();
  });
});

describe('the source check', () => {
  it('holds every delete and pauses nothing; creates and updates of the rows there still go', () => {
    const doomed = gone(6);
    const inactive = specFor('9', { isActive: false });
    const fresh = specFor('1');
    const plan = planPass(
      planInputOf({
        specs: [fresh, inactive],
        managed: [...doomed, managedOnly('9', { paused: false })],
        onInactive: 'delete',
        known: new Set([...known(doomed), '9']),
        sourceShrank: { from: 40, to: 2 },
      }),
    );
    expect(plan.changes.map((c) => `${c.action} ${c.connectorId}`)).toEqual(['create 1']);
    expect(plan.heldDeletes).toMatchObject({
      rule: 'source-shrank',
      by: 'the source check',
      count: 7,
      limit: 40,
    });
    expect(plan.heldDeletes!.connectors.find((c) => c.connectorId === '100')!.message).toBe(
      'deployment "connector-100" (row deleted) not deleted: the source shrank from 40 to 2 rows since the last good pass; nothing is deleted or paused until it looks healthy again, or the deletes are approved',
    );
    expect(plan.notices[0]!.message).toBe(
      'source check: the source shrank from 40 to 2 rows since the last good pass; none of 7 deletes was made and nothing was paused (a view returning nothing, a truncated table, the wrong source.table?); if the rows were meant to go, approve the deletes',
    );
  });

  it('an approval lets the deletes go', () => {
    const doomed = gone(3);
    const plan = planPass(
      planInputOf({
        managed: doomed,
        known: known(doomed),
        sourceShrank: { from: 40, to: 0 },
        allowMassDelete: true,
      }),
    );
    expect(deleted(plan.changes)).toHaveLength(3);
    expect(plan.heldDeletes).toBeNull();
  });

  it('judges a shrink past the limit from 10 rows up, and none where there were some at any size', () => {
    const half = shrinkLimitOf('50%');
    expect(half).toBe(0.5);
    expect(shrinkOf(40, 19, half)).toEqual({ from: 40, to: 19 });
    expect(shrinkOf(40, 20, half)).toBeNull(); // exactly half: not more than the limit
    expect(shrinkOf(10, 4, half)).toEqual({ from: 10, to: 4 });
    expect(shrinkOf(9, 1, half)).toBeNull(); // too few rows to judge a share
    expect(shrinkOf(3, 0, half)).toEqual({ from: 3, to: 0 });
    expect(shrinkOf(null, 0, half)).toBeNull(); // no good pass yet
    expect(shrinkOf(0, 0, half)).toBeNull();
    expect(shrinkOf(40, 60, half)).toBeNull();
    expect(shrinkOf(40, 0, shrinkLimitOf('off'))).toBeNull();
    expect(shrinkOf(100, 89, shrinkLimitOf('10%'))).toEqual({ from: 100, to: 89 });
  });
});

describe('an approval of listed deletes (approve-deletes)', () => {
  it('lets exactly the approved deployments go; the rest are judged as ever', () => {
    const doomed = gone(15);
    const approved = new Set([doomed[0]!.id, doomed[1]!.id]);
    const plan = planPass(
      planInputOf({ managed: doomed, known: known(doomed), approvedDeletes: approved }),
    );
    expect(deleted(plan.changes)).toEqual(['100', '101']);
    // 13 left, over the per-pass limit of 10: every one of them held.
    expect(plan.heldDeletes).toMatchObject({ rule: 'per-pass', count: 13 });
  });

  it('approved deletes spend the budget: the others get what room is left', () => {
    const doomed = gone(4);
    const plan = planPass(
      planInputOf({
        managed: doomed,
        known: known(doomed),
        budget: budget(3, 0),
        approvedDeletes: new Set([doomed[3]!.id]),
      }),
    );
    expect(deleted(plan.changes).sort()).toEqual(['100', '101', '103']);
    expect(plan.heldDeletes!.connectors.map((c) => c.connectorId)).toEqual(['102']);
  });

  it('even a source that looks shrunk lets an approved delete go, and only it', () => {
    const doomed = gone(3);
    const plan = planPass(
      planInputOf({
        managed: doomed,
        known: known(doomed),
        sourceShrank: { from: 40, to: 0 },
        approvedDeletes: new Set([doomed[2]!.id]),
      }),
    );
    expect(deleted(plan.changes)).toEqual(['102']);
    expect(plan.heldDeletes).toMatchObject({ rule: 'source-shrank', count: 2 });
  });
});
