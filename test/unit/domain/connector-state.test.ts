import { describe, expect, it } from 'vitest';
import {
  blankState,
  goneConnectors,
  rowHash,
  rowHashes,
  type ConnectorState,
} from '../../../src/domain/connector-state.js';
import { sourceRow } from '../../harness/plan-fixtures.js';
import type { ConnectorStatus } from '../../../src/domain/vocabulary.js';

describe('rowHashes', () => {
  it('a single row keeps its own hash', () => {
    const row = sourceRow({ id: '1', name: 'One' });
    expect(rowHashes([row]).get('1')).toBe(rowHash(row));
  });

  it('rows sharing an id get one hash, whatever order the source returns them in', () => {
    const a = sourceRow({ id: 'dup', name: 'First' });
    const b = sourceRow({ id: 'dup', name: 'Second' });
    const forward = rowHashes([a, b]).get('dup');
    expect(rowHashes([b, a]).get('dup')).toBe(forward);
    expect(forward).not.toBe(rowHash(a));
    expect(forward).not.toBe(rowHash(b));
    // ...and it changes when one of them changes.
    expect(rowHashes([a, sourceRow({ id: 'dup', name: 'Third' })]).get('dup')).not.toBe(forward);
  });
});

function states(entries: [string, ConnectorStatus][]): Map<string, ConnectorState> {
  return new Map(entries.map(([id, status]) => [id, { ...blankState(id), status }]));
}

describe('goneConnectors', () => {
  it('a pending connector whose row was soft-deleted and that has no deployment is gone', () => {
    // Found by the kill suite: a create killed before it reached Prefect left the
    // connector `pending`; the row was then soft-deleted, and nothing ever moved it.
    expect(goneConnectors(states([['7', 'pending']]), new Set(), new Set(), null)).toEqual(['7']);
  });

  it('a row deleted outright, whatever its status, is gone once no deployment carries its tag', () => {
    const known = states([
      ['1', 'synced'],
      ['2', 'pending'],
      ['3', 'invalid'],
      ['4', 'failed'],
      ['5', 'conflict'],
    ]);
    expect(goneConnectors(known, new Set(), new Set(), null)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('keeps live rows, connectors that still have a deployment, and ones already deleted', () => {
    const known = states([
      ['live', 'pending'],
      ['deployed', 'synced'],
      ['done', 'deleted'],
    ]);
    expect(goneConnectors(known, new Set(['live']), new Set(['deployed']), null)).toEqual([]);
  });

  it('a targeted pass judges only its own connectors', () => {
    const known = states([
      ['1', 'pending'],
      ['2', 'pending'],
    ]);
    expect(goneConnectors(known, new Set(), new Set(), new Set(['2']))).toEqual(['2']);
  });
});
