import { describe, expect, it } from 'vitest';
import { connectorIdOf, deleteLimit, planPass, unmatchedNames } from '../../../src/domain/plan.js';
import { changesConnectorState } from '../../../src/domain/changes.js';
import type { Change, Deployment } from '../../../src/domain/types.js';
import {
  deploymentFor,
  FLOW_ID,
  invalidProblem,
  MANAGED_TAG,
  managedOnly,
  OTHER_FLOW_ID,
  specFor,
  planInputOf,
} from '../../harness/plan-fixtures.js';

const input = planInputOf;

function summary(changes: Change[]): string[] {
  return changes.map((c) =>
    c.action === 'delete'
      ? `delete ${c.connectorId ?? '-'} ${c.deployment.id} (${c.reason})`
      : `${c.action} ${c.connectorId}`,
  );
}

/** A deployment without the managed tag, as someone else created it. */
function stranger(id: string): Deployment {
  const spec = specFor(id);
  return deploymentFor(spec, {
    id: `foreign-${id}`,
    tags: ['hand-made'],
    description: 'made by hand',
  });
}

describe('planPass: one connector', () => {
  it('creates a missing deployment', () => {
    const spec = specFor('1');
    const plan = planPass(input({ specs: [spec] }));
    expect(plan.changes).toEqual([{ action: 'create', connectorId: '1', spec }]);
    expect(plan.unchanged).toEqual([]);
    expect(plan.problems).toEqual([]);
    expect(plan.notices).toEqual([]);
    expect(plan.heldDeletes).toBeNull();
  });

  it('leaves a matching deployment alone and lists it as unchanged', () => {
    const spec = specFor('1');
    const plan = planPass(input({ specs: [spec], managed: [deploymentFor(spec)] }));
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual(['1']);
  });

  it('updates a drifted deployment with the fields from/to', () => {
    const spec = specFor('1');
    const actual = deploymentFor(spec, { description: 'Old name' });
    const plan = planPass(input({ specs: [spec], managed: [actual], rowAsSynced: new Set(['1']) }));
    expect(plan.changes).toEqual([
      {
        action: 'update',
        connectorId: '1',
        connectorName: 'Connector 1',
        deployment: actual,
        fields: { description: { from: 'Old name', to: spec.description } },
        // Prefect holds the version of this very spec: the difference was made there.
        cause: 'drift',
      },
    ]);
    expect(plan.unchanged).toEqual([]);
  });

  it('the same version but a row changed since the last sync (a deactivation): no drift', () => {
    const spec = specFor('1', { isActive: false });
    const actual = deploymentFor(spec, { paused: false });
    const [change] = planPass(input({ specs: [spec], managed: [actual] })).changes;
    expect(change).toMatchObject({ action: 'pause' });
    expect(change).not.toHaveProperty('cause');
  });

  it('paused in Prefect while the row is as synced: a drift, resumed', () => {
    const spec = specFor('1', { isActive: true });
    const actual = deploymentFor(spec, { paused: true });
    const plan = planPass(input({ specs: [spec], managed: [actual], rowAsSynced: new Set(['1']) }));
    expect(plan.changes[0]).toMatchObject({ action: 'resume', cause: 'drift' });
  });

  it('a new version (the row or the release changed): an update, never a drift', () => {
    const spec = specFor('1');
    const actual = deploymentFor(spec, { description: 'Old name', version: 'r0+00000000' });
    const plan = planPass(input({ specs: [spec], managed: [actual], rowAsSynced: new Set(['1']) }));
    expect(plan.changes[0]).toMatchObject({ action: 'update' });
    expect(plan.changes[0]).not.toHaveProperty('cause');
  });

  it('pauses a deployment whose connector became inactive', () => {
    const spec = specFor('1', { isActive: false });
    const actual = deploymentFor(spec, { paused: false });
    const plan = planPass(input({ specs: [spec], managed: [actual] }));
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({
      action: 'pause',
      connectorId: '1',
      fields: { paused: { from: false, to: true } },
    });
  });

  it('resumes a deployment whose connector became active', () => {
    const spec = specFor('1', { isActive: true });
    const actual = deploymentFor(spec, { paused: true });
    const plan = planPass(input({ specs: [spec], managed: [actual] }));
    expect(plan.changes[0]).toMatchObject({
      action: 'resume',
      fields: { paused: { from: true, to: false } },
    });
  });

  it('an inactive connector without a deployment is created paused (onInactive pause)', () => {
    const spec = specFor('1', { isActive: false });
    const plan = planPass(input({ specs: [spec] }));
    expect(plan.changes).toEqual([{ action: 'create', connectorId: '1', spec }]);
    expect(spec.paused).toBe(true);
  });

  it('only deployments of our flow match a spec by name', () => {
    const spec = specFor('1');
    const elsewhere = deploymentFor(spec, { flow_id: OTHER_FLOW_ID });
    const plan = planPass(input({ specs: [spec], managed: [elsewhere] }));
    expect(summary(plan.changes)).toEqual([
      'create 1',
      `delete 1 ${elsewhere.id} (moved to another flow)`,
    ]);
  });
});

describe('planPass: ownership', () => {
  it('a same-named deployment without the managed tag is a conflict and nothing changes', () => {
    const spec = specFor('1');
    const plan = planPass(input({ specs: [spec], foreign: [stranger('1')] }));
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual([]);
    expect(plan.problems).toEqual([
      {
        connectorId: '1',
        connectorName: 'Connector 1',
        status: 'conflict',
        message:
          'deployment "connector-1" already exists without the managed tag; remove it, rename it or set ownership.adopt',
        retryable: false,
      },
    ]);
  });

  it('a conflict is added after the problems the caller passed in', () => {
    const plan = planPass(
      input({ specs: [specFor('1')], foreign: [stranger('1')], problems: [invalidProblem('9')] }),
    );
    expect(plan.problems.map((p) => `${p.connectorId}:${p.status}`)).toEqual([
      '9:invalid',
      '1:conflict',
    ]);
  });

  it('adopt: true turns the conflict into an update that adds the managed tag', () => {
    const spec = specFor('1');
    const foreign = stranger('1');
    const plan = planPass(input({ specs: [spec], foreign: [foreign], adopt: true }));
    expect(plan.problems).toEqual([]);
    expect(plan.changes).toHaveLength(1);
    const change = plan.changes[0]!;
    expect(change.action).toBe('update');
    if (change.action !== 'update') return;
    expect(change.deployment.id).toBe('foreign-1');
    expect(change.fields.tags).toEqual({ from: ['hand-made'], to: spec.tags });
    expect(change.fields.tags?.to).toContain(MANAGED_TAG);
    expect(change.fields.description).toEqual({ from: 'made by hand', to: spec.description });
  });

  it('a managed deployment with the name wins over a foreign one', () => {
    const spec = specFor('1');
    const plan = planPass(
      input({ specs: [spec], managed: [deploymentFor(spec)], foreign: [stranger('1')] }),
    );
    expect(plan.problems).toEqual([]);
    expect(plan.unchanged).toEqual(['1']);
  });
});

describe('planPass: onInactive delete', () => {
  it('deletes the deployment of an inactive connector', () => {
    const spec = specFor('1', { isActive: false });
    const actual = deploymentFor(spec, { paused: false });
    const plan = planPass(input({ specs: [spec], managed: [actual], onInactive: 'delete' }));
    expect(plan.changes).toEqual([
      {
        action: 'delete',
        connectorId: '1',
        connectorName: 'Connector 1',
        deployment: actual,
        reason: 'inactive',
      },
    ]);
  });

  it('an inactive connector without a deployment stays without one (unchanged)', () => {
    const spec = specFor('1', { isActive: false });
    const plan = planPass(input({ specs: [spec], onInactive: 'delete' }));
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual(['1']);
  });

  it('active connectors are still created and updated', () => {
    const spec = specFor('1');
    const plan = planPass(input({ specs: [spec], onInactive: 'delete' }));
    expect(summary(plan.changes)).toEqual(['create 1']);
  });
});

describe('planPass: deletes', () => {
  it('a managed deployment whose row is gone, of a known connector: row deleted', () => {
    const orphan = managedOnly('7');
    const plan = planPass(input({ managed: [orphan], known: new Set(['7']) }));
    expect(plan.changes).toEqual([
      {
        action: 'delete',
        connectorId: '7',
        connectorName: null,
        deployment: orphan,
        reason: 'row deleted',
      },
    ]);
  });

  it('a managed deployment of a connector never seen: orphan', () => {
    const orphan = managedOnly('7');
    const plan = planPass(input({ managed: [orphan], known: new Set(['8']) }));
    expect(summary(plan.changes)).toEqual([`delete 7 ${orphan.id} (orphan)`]);
  });

  it('a managed deployment without a connector-<id> tag: orphan with no connector', () => {
    const orphan = managedOnly('7', { tags: [MANAGED_TAG, 'team:data'] });
    const plan = planPass(input({ managed: [orphan] }));
    expect(plan.changes).toEqual([
      {
        action: 'delete',
        connectorId: null,
        connectorName: null,
        deployment: orphan,
        reason: 'orphan',
      },
    ]);
  });

  it('a soft-deleted row: soft-deleted, with the row name', () => {
    const gone = managedOnly('7');
    const plan = planPass(
      input({ managed: [gone], softDeleted: new Map([['7', 'Seven']]), known: new Set(['7']) }),
    );
    expect(plan.changes).toEqual([
      {
        action: 'delete',
        connectorId: '7',
        connectorName: 'Seven',
        deployment: gone,
        reason: 'soft-deleted',
      },
    ]);
  });

  it('a renamed deployment (nameTemplate changed): delete the old name, create the new', () => {
    const spec = specFor('1', {}, { nameTemplate: 'sync-{id}' });
    const old = managedOnly('1');
    const plan = planPass(input({ specs: [spec], managed: [old] }));
    expect(summary(plan.changes)).toEqual(['create 1', `delete 1 ${old.id} (renamed)`]);
  });

  it('a deployment of another flow (flowName changed) for a live connector: delete + create', () => {
    const spec = specFor('1');
    const old = deploymentFor(spec, { id: 'old-flow-dep', flow_id: OTHER_FLOW_ID });
    const plan = planPass(input({ specs: [spec], managed: [old], known: new Set(['1']) }));
    expect(plan.changes).toHaveLength(2);
    expect(plan.changes[0]).toEqual({ action: 'create', connectorId: '1', spec });
    expect(plan.changes[1]).toMatchObject({
      action: 'delete',
      connectorId: '1',
      deployment: old,
      reason: 'moved to another flow',
    });
  });

  // BUG (minor): for 'renamed' and 'moved to another flow' deletes the connector is live and
  // its name is in the spec, but planPass takes the name only from softDeleted, so the
  // delete (and its deleted event's connector resource) has connectorName null.
  it('a moved or renamed delete carries the name of the live connector', () => {
    const spec = specFor('1');
    const moved = deploymentFor(spec, { id: 'old-flow-dep', flow_id: OTHER_FLOW_ID });
    const plan = planPass(input({ specs: [spec], managed: [moved] }));
    expect(plan.changes[1]).toMatchObject({ action: 'delete', connectorName: 'Connector 1' });
  });

  it('when our flow does not exist yet, every managed deployment belongs to another flow', () => {
    const spec = specFor('1');
    const old = deploymentFor(spec);
    const plan = planPass(input({ specs: [spec], managed: [old], flowId: null }));
    expect(summary(plan.changes)).toEqual([
      'create 1',
      `delete 1 ${old.id} (moved to another flow)`,
    ]);
  });

  it('deletes come after creates and updates', () => {
    const a = specFor('1');
    const b = specFor('2');
    const plan = planPass(
      input({
        specs: [a, b],
        managed: [managedOnly('9'), deploymentFor(b, { description: 'x' })],
        known: new Set(['9']),
      }),
    );
    expect(summary(plan.changes)).toEqual(['create 1', 'update 2', 'delete 9 dep-9 (row deleted)']);
  });
});

describe('planPass: connectors that must keep their deployment', () => {
  it('a connector left alone: no change, no delete, not unchanged', () => {
    const spec = specFor('1');
    const drifted = deploymentFor(spec, { description: 'drifted', paused: true });
    const plan = planPass(input({ specs: [spec], managed: [drifted], leftAlone: new Set(['1']) }));
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual([]);
  });

  it('a connector left alone is not created either', () => {
    const plan = planPass(input({ specs: [specFor('1')], leftAlone: new Set(['1']) }));
    expect(plan.changes).toEqual([]);
  });

  it('a connector left alone with a foreign same-named deployment is not reported as a conflict', () => {
    const plan = planPass(
      input({ specs: [specFor('1')], foreign: [stranger('1')], leftAlone: new Set(['1']) }),
    );
    expect(plan.problems).toEqual([]);
  });

  it("a connector left alone's deployment under an old name or flow is kept", () => {
    const spec = specFor('1', {}, { nameTemplate: 'sync-{id}' });
    const old = managedOnly('1');
    const plan = planPass(input({ specs: [spec], managed: [old], leftAlone: new Set(['1']) }));
    expect(plan.changes).toEqual([]);
  });

  it('an id left alone with no spec keeps its deployment', () => {
    const plan = planPass(
      input({ managed: [managedOnly('5')], leftAlone: new Set(['5']), known: new Set(['5']) }),
    );
    expect(plan.changes).toEqual([]);
  });

  // The caller (src/pass/judge.ts) puts only rows Prefect judged invalid in `leftAlone`;
  // rows that fail validation arrive as `problems` with no spec. planPass keeps their
  // deployments because it also protects every connector named in input.problems.
  it('a row that failed validation (in problems, no spec, not left alone) keeps its deployment', () => {
    const existing = managedOnly('3');
    const plan = planPass(
      input({
        managed: [existing],
        problems: [invalidProblem('3')],
        known: new Set(['3']),
      }),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.heldDeletes).toBeNull();
    expect(plan.problems).toEqual([invalidProblem('3')]);
  });

  it('duplicate-id rows (both in problems) keep their deployment', () => {
    const existing = managedOnly('3');
    const plan = planPass(
      input({
        managed: [existing],
        problems: [invalidProblem('3', 'dup'), invalidProblem('3', 'dup')],
        known: new Set(['3']),
      }),
    );
    expect(plan.changes).toEqual([]);
  });

  it('a problem on one connector does not protect the orphans of others', () => {
    const plan = planPass(
      input({
        managed: [managedOnly('3'), managedOnly('4')],
        problems: [invalidProblem('3')],
        known: new Set(['3', '4']),
      }),
    );
    expect(summary(plan.changes)).toEqual(['delete 4 dep-4 (row deleted)']);
  });

  // The caller passes the managed tag among the tags that are never a connector's
  // (regression: with managedTag "connector-sync" and id "zendesk", the id was read as "sync"
  // and an invalid connector's deployment was deleted as an orphan).
  it('a managed tag that starts with "connector-" does not hide the connector id', () => {
    const managedTag = 'connector-sync';
    const spec = specFor('zendesk', {}, { idKind: 'string', ownershipTags: [managedTag] });
    const existing = deploymentFor(spec);
    expect(existing.tags).toEqual(['connector-sync', 'connector-zendesk', 'team:data']);
    const plan = planPass(
      input({
        managed: [existing],
        problems: [invalidProblem('zendesk')],
        known: new Set(),
        configTags: ['team:data', managedTag],
      }),
    );
    expect(plan.changes).toEqual([]);
    expect(connectorIdOf(existing, ['team:data', managedTag])).toBe('zendesk');
  });
});

describe('planPass: mass-delete guard', () => {
  const orphans = (n: number, from = 100): Deployment[] =>
    Array.from({ length: n }, (_, i) => managedOnly(String(from + i)));

  it('holds back every delete over the floor of 10 and says why', () => {
    const spec = specFor('1');
    const doomed = orphans(11);
    const plan = planPass(input({ specs: [spec], managed: doomed }));
    expect(summary(plan.changes)).toEqual(['create 1']);
    expect(plan.heldDeletes).not.toBeNull();
    expect(plan.heldDeletes?.count).toBe(11);
    expect(plan.heldDeletes?.limit).toBe(10);
    expect(
      plan.heldDeletes?.deletes.map((c) => (c.action === 'delete' ? c.deployment.id : '')),
    ).toEqual(doomed.map((d) => d.id));
    expect(plan.notices).toEqual([
      {
        connectorId: null,
        message:
          'mass-delete guard: this pass would delete 11 deployments, more than the limit of 10; nothing was deleted (use --allow-mass-delete if this is intended)',
      },
    ]);
  });

  it('lets exactly the limit through', () => {
    const plan = planPass(input({ managed: orphans(10) }));
    expect(plan.changes.filter((c) => c.action === 'delete')).toHaveLength(10);
    expect(plan.heldDeletes).toBeNull();
    expect(plan.notices).toEqual([]);
  });

  it('--allow-mass-delete lets them all through', () => {
    const plan = planPass(input({ managed: orphans(30), allowMassDelete: true }));
    expect(plan.changes.filter((c) => c.action === 'delete')).toHaveLength(30);
    expect(plan.heldDeletes).toBeNull();
    expect(plan.notices).toEqual([]);
  });

  it('a percentage is taken of every managed deployment listed', () => {
    // 100 managed: 70 matching, 30 orphans; 25% of 100 = 25 < 30
    const specs = Array.from({ length: 70 }, (_, i) => specFor(String(i + 1)));
    const matching = specs.map((s) => deploymentFor(s));
    const held = planPass(input({ specs, managed: [...matching, ...orphans(30)] }));
    expect(held.heldDeletes).toMatchObject({ count: 30, limit: 25 });
    expect(held.changes).toEqual([]);
    expect(held.unchanged).toHaveLength(70);

    // 95 managed: 70 matching, 25 orphans; 25% of 95 = 23 < 25, still held
    const alsoHeld = planPass(input({ specs, managed: [...matching, ...orphans(25)] }));
    expect(alsoHeld.heldDeletes).toMatchObject({ count: 25, limit: 23 });

    // 90 managed: 70 matching, 20 orphans; 25% of 90 = 22 >= 20
    const allowed = planPass(input({ specs, managed: [...matching, ...orphans(20)] }));
    expect(allowed.heldDeletes).toBeNull();
    expect(allowed.changes).toHaveLength(20);
  });

  it('a count limit is used as it is, above the floor', () => {
    const plan = planPass(input({ managed: orphans(15), deleteLimit: { count: 14 } }));
    expect(plan.heldDeletes).toMatchObject({ count: 15, limit: 14 });
    const ok = planPass(input({ managed: orphans(15), deleteLimit: { count: 15 } }));
    expect(ok.heldDeletes).toBeNull();
  });

  it('a count below 10 is raised to the floor of 10', () => {
    const plan = planPass(input({ managed: orphans(10), deleteLimit: { count: 0 } }));
    expect(plan.heldDeletes).toBeNull();
    expect(plan.changes).toHaveLength(10);
  });

  it('every kind of delete counts: inactive, renamed, moved, soft-deleted and orphans', () => {
    const inactive = Array.from({ length: 3 }, (_, i) =>
      specFor(String(i + 1), { isActive: false }),
    );
    const renamed = Array.from({ length: 3 }, (_, i) =>
      specFor(String(i + 11), {}, { nameTemplate: 'sync-{id}' }),
    );
    const moved = Array.from({ length: 3 }, (_, i) => specFor(String(i + 21)));
    const plan = planPass(
      input({
        onInactive: 'delete',
        specs: [...inactive, ...renamed, ...moved],
        managed: [
          ...inactive.map((s) => deploymentFor(s)),
          ...renamed.map((s) => managedOnly(s.connectorId)),
          ...moved.map((s) => deploymentFor(s, { flow_id: OTHER_FLOW_ID })),
          managedOnly('31'),
          managedOnly('32'),
        ],
        softDeleted: new Map([['31', 'x']]),
      }),
    );
    expect(plan.heldDeletes?.count).toBe(11);
    expect(
      plan.heldDeletes?.deletes.map((c) => (c.action === 'delete' ? c.reason : '')).sort(),
    ).toEqual([
      'inactive',
      'inactive',
      'inactive',
      'moved to another flow',
      'moved to another flow',
      'moved to another flow',
      'orphan',
      'renamed',
      'renamed',
      'renamed',
      'soft-deleted',
    ]);
    // A recreate is one unit: the renamed and moved connectors' creates wait for their deletes,
    // their old deployments go on running meanwhile; the inactive ones are paused already.
    expect(plan.changes).toEqual([]);
    expect(plan.heldDeletes?.connectors.map((c) => c.connectorId).sort()).toEqual(
      ['1', '2', '3', '11', '12', '13', '21', '22', '23', '31'].sort(),
    );
    expect(
      plan.heldDeletes?.connectors.filter((c) => c.notCreated !== null).map((c) => c.notCreated),
    ).toEqual(['sync-11', 'sync-12', 'sync-13', 'connector-21', 'connector-22', 'connector-23']);
  });
});

describe('deleteLimit', () => {
  it.each([
    [{ percent: 25 }, 0, 10],
    [{ percent: 25 }, 39, 10],
    [{ percent: 25 }, 44, 11],
    [{ percent: 25 }, 47, 11],
    [{ percent: 25 }, 100, 25],
    [{ percent: 25 }, 1000, 250],
    [{ percent: 12.5 }, 200, 25],
    [{ percent: 100 }, 12, 12],
    [{ percent: 0 }, 1000, 10],
    [{ count: 0 }, 1000, 10],
    [{ count: 5 }, 1000, 10],
    [{ count: 40 }, 0, 40],
  ])('%j of %i managed is %i', (limit, managed, expected) => {
    expect(deleteLimit(limit, managed)).toBe(expected);
  });
});

describe('unmatchedNames', () => {
  it('names of specs with no managed deployment of our flow', () => {
    const specs = [specFor('1'), specFor('2'), specFor('3')];
    const managed = [
      deploymentFor(specs[0]!),
      deploymentFor(specs[1]!, { flow_id: OTHER_FLOW_ID }),
    ];
    expect(unmatchedNames(specs, managed, FLOW_ID)).toEqual(['connector-2', 'connector-3']);
  });

  it('every name when our flow does not exist', () => {
    const specs = [specFor('1')];
    expect(unmatchedNames(specs, [deploymentFor(specs[0]!)], null)).toEqual(['connector-1']);
  });
});

describe('connectorIdOf', () => {
  it('reads the id from the connector-<id> tag', () => {
    expect(connectorIdOf(managedOnly('42'), [])).toBe('42');
  });

  it('skips config tags that look like connector tags', () => {
    const d = managedOnly('42', { tags: ['connector-fleet', MANAGED_TAG, 'connector-42'] });
    expect(connectorIdOf(d, ['connector-fleet'])).toBe('42');
  });

  it('is null without a connector tag', () => {
    expect(connectorIdOf(managedOnly('42', { tags: [MANAGED_TAG] }), [])).toBeNull();
  });

  it('keeps the rest of the tag, dashes included', () => {
    const id = '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60';
    expect(connectorIdOf(managedOnly('x', { tags: [`connector-${id}`] }), [])).toBe(id);
  });
});

describe('planPass: a recreate is one unit (rename, flow change)', () => {
  /** Connectors 1..n renamed from connector-{id} to cs-{id}: specs with the new name, the old deployments. */
  function renamed(n: number, overrides: Partial<Deployment> = {}) {
    const specs = Array.from({ length: n }, (_, i) =>
      specFor(String(i + 1), {}, { nameTemplate: 'cs-{id}' }),
    );
    const old = specs.map((s) => managedOnly(s.connectorId, overrides));
    return { specs, old };
  }

  it('within the guard: the old deployment is deleted and the new one created', () => {
    const { specs, old } = renamed(1);
    const plan = planPass(input({ specs, managed: old, known: new Set(['1']) }));
    expect(summary(plan.changes)).toEqual(['create 1', 'delete 1 dep-1 (renamed)']);
    expect(plan.heldDeletes).toBeNull();
  });

  it('guard holds the deletes: the creates wait too, and the old deployments go on running alone', () => {
    const { specs, old } = renamed(15);
    const plan = planPass(
      input({ specs, managed: old, known: new Set(specs.map((s) => s.connectorId)) }),
    );
    expect(plan.changes).toEqual([]); // no create beside a running old deployment
    expect(plan.heldDeletes).toMatchObject({ count: 15, limit: 10 });
    const held = plan.heldDeletes!.connectors.find((c) => c.connectorId === '7')!;
    expect(held.notCreated).toBe('cs-7');
    expect(held.message).toBe(
      'deployment "connector-7" (renamed) not deleted: the mass-delete guard held back all 15 deletes of this pass (limit 10); run with --allow-mass-delete if they are intended; "cs-7" is created once it is deleted',
    );
    const allowed = planPass(
      input({ specs, managed: old, known: new Set(), allowMassDelete: true }),
    );
    expect(allowed.changes.filter((c) => c.action === 'create')).toHaveLength(15);
    expect(allowed.changes.filter((c) => c.action === 'delete')).toHaveLength(15);
  });

  it('guard holds the delete of a leftover beside the live deployment: the leftover is paused', () => {
    // Two live deployments for one connector (an earlier release, a copy by hand): the right one
    // stays, the leftover's delete is held with 10 orphans, so it is paused until it may go.
    const spec = specFor('1');
    const right = deploymentFor(spec);
    const leftover = deploymentFor(specFor('1'), { id: 'old', name: 'old-name-1' });
    const orphans = Array.from({ length: 10 }, (_, i) => managedOnly(String(100 + i)));
    const plan = planPass(input({ specs: [spec], managed: [right, leftover, ...orphans] }));
    expect(plan.changes).toEqual([
      {
        action: 'pause',
        connectorId: '1',
        connectorName: 'Connector 1',
        deployment: leftover,
        fields: { paused: { from: false, to: true } },
        reason: 'delete held back',
      },
    ]);
    expect(plan.unchanged).toEqual(['1']);
    expect(plan.heldDeletes?.connectors.find((c) => c.connectorId === '1')?.message).toMatch(
      /not deleted: .*; it is paused until then$/,
    );
  });

  it('an inactive connector waiting for its recreate: its old deployment is paused meanwhile', () => {
    const { specs, old } = renamed(12);
    const inactive = specs.map((s) => (s.connectorId === '3' ? { ...s, paused: true } : s));
    const plan = planPass(input({ specs: inactive, managed: old }));
    expect(summary(plan.changes)).toEqual(['pause 3']);
    expect(plan.changes[0]).toMatchObject({ reason: 'delete held back' });
  });

  it('a held delete of an inactive connector (onInactive: delete) pauses it instead', () => {
    const specs = Array.from({ length: 11 }, (_, i) => specFor(String(i + 1), { isActive: false }));
    const running = specs.map((s) => deploymentFor(s, { paused: false }));
    const plan = planPass(input({ specs, managed: running, onInactive: 'delete' }));
    expect(plan.heldDeletes?.count).toBe(11);
    expect(plan.changes.map((c) => [c.action, c.connectorId])).toEqual(
      specs.map((s) => ['pause', s.connectorId]),
    );
  });

  it('deleted rows held by the guard keep their deployments as they are', () => {
    const gone = Array.from({ length: 11 }, (_, i) => managedOnly(String(i + 1)));
    const plan = planPass(
      input({ managed: gone, known: new Set(gone.map((_, i) => String(i + 1))) }),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.heldDeletes?.connectors).toHaveLength(11);
    expect(plan.heldDeletes?.connectors[0]?.message).toMatch(
      /^deployment "connector-1" \(row deleted\) not deleted/,
    );
  });

  it('orphans held by the guard name no connector', () => {
    const orphans = Array.from({ length: 11 }, (_, i) => managedOnly(String(100 + i)));
    const plan = planPass(input({ managed: orphans }));
    expect(plan.heldDeletes?.connectors).toEqual([]);
  });
});

describe('planPass: is_active = false wins over an invalid row', () => {
  it('pauses the deployment of an inactive connector whose row is invalid, and still reports it', () => {
    const running = managedOnly('1');
    const problem = invalidProblem('1', 'cron "bad" has 1 fields; use 5');
    const plan = planPass(
      input({ managed: [running], problems: [problem], stopRuns: new Map([['1', 'Connector 1']]) }),
    );
    expect(plan.changes).toEqual([
      {
        action: 'pause',
        connectorId: '1',
        connectorName: 'Connector 1',
        deployment: running,
        fields: { paused: { from: false, to: true } },
        reason: 'row invalid',
      },
    ]);
    expect(plan.problems).toEqual([problem]);
  });

  it('an already paused one is left as it is', () => {
    const paused = managedOnly('1', { paused: true });
    const plan = planPass(
      input({
        managed: [paused],
        problems: [invalidProblem('1')],
        stopRuns: new Map([['1', null]]),
      }),
    );
    expect(plan.changes).toEqual([]);
  });

  it('with onInactive: delete, deletes every deployment of it', () => {
    const a = managedOnly('1');
    const b = managedOnly('1', { id: 'second', name: 'old-1' });
    const plan = planPass(
      input({
        managed: [a, b],
        problems: [invalidProblem('1')],
        stopRuns: new Map([['1', 'Connector 1']]),
        onInactive: 'delete',
      }),
    );
    expect(summary(plan.changes)).toEqual([
      'delete 1 dep-1 (inactive, row invalid)',
      'delete 1 second (inactive, row invalid)',
    ]);
  });

  it('a Prefect-judged invalid connector deferred (left alone) is paused all the same', () => {
    const spec = specFor('1', { isActive: false });
    const running = deploymentFor(spec, { paused: false });
    const plan = planPass(
      input({
        specs: [spec],
        managed: [running],
        leftAlone: new Set(['1']),
        problems: [invalidProblem('1')],
        stopRuns: new Map([['1', 'Connector 1']]),
      }),
    );
    expect(summary(plan.changes)).toEqual(['pause 1']);
  });
});

describe('changesConnectorState', () => {
  it("is false for a recreate's delete and a pause that only stops runs", () => {
    const d = managedOnly('1');
    expect(
      changesConnectorState({
        action: 'delete',
        connectorId: '1',
        connectorName: null,
        deployment: d,
        reason: 'renamed',
      }),
    ).toBe(false);
    expect(
      changesConnectorState({
        action: 'delete',
        connectorId: '1',
        connectorName: null,
        deployment: d,
        reason: 'row deleted',
      }),
    ).toBe(true);
    const pause = {
      action: 'pause' as const,
      connectorId: '1',
      connectorName: null,
      deployment: d,
      fields: { paused: { from: false, to: true } },
    };
    expect(changesConnectorState(pause)).toBe(true);
    expect(changesConnectorState({ ...pause, reason: 'row invalid' })).toBe(false);
  });
});
