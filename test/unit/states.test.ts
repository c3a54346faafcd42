import { describe, expect, it } from 'vitest';
import { rowHash, rowHashes } from '../../src/reconcile/states.js';
import { sourceRow } from './core-fixtures.js';

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
