import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/domain/types.js';
import { unitsOf } from '../../../src/pass/apply.js';
import { managedOnly, specFor } from '../../harness/plan-fixtures.js';

// A connector's changes go out as one unit, deletes first: a renamed connector's
// old deployment is gone before its new one exists.

const create = (id: string): Change => ({ action: 'create', connectorId: id, spec: specFor(id) });
const remove = (id: string | null, deploymentId: string): Change => ({
  action: 'delete',
  connectorId: id,
  connectorName: null,
  deployment: managedOnly(id ?? 'x', { id: deploymentId }),
  reason: id === null ? 'orphan' : 'renamed',
});

describe('unitsOf', () => {
  it('groups per connector, deletes before the rest, orphans alone', () => {
    const units = unitsOf([create('1'), create('2'), remove('1', 'old-1'), remove(null, 'stray')]);
    expect(units.map((u) => u.map((c) => `${c.action}:${c.connectorId ?? '-'}`))).toEqual([
      ['delete:1', 'create:1'],
      ['create:2'],
      ['delete:-'],
    ]);
  });

  it('keeps plan order inside a unit otherwise', () => {
    const units = unitsOf([remove('1', 'a'), remove('1', 'b'), create('1')]);
    expect(units[0]!.map((c) => (c.action === 'delete' ? c.deployment.id : c.action))).toEqual([
      'a',
      'b',
      'create',
    ]);
  });
});
