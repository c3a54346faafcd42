import { describe, expect, it } from 'vitest';
import {
  installationOfTags,
  installationTag,
  ownedBy,
  ownershipVariableName,
} from '../../../src/domain/ownership.js';
import { connectorIdOfTags } from '../../../src/domain/vocabulary.js';
import { planPass } from '../../../src/domain/plan.js';
import { deploymentFor, MANAGED_TAG, planInputOf, specFor } from '../../harness/plan-fixtures.js';

describe('installations', () => {
  it('the default installation tags nothing and owns what carries no installation tag', () => {
    expect(installationTag('default')).toBeNull();
    expect(ownedBy([MANAGED_TAG, 'connector-1'], 'default')).toBe(true);
    expect(ownedBy([MANAGED_TAG, 'connector-1', 'cs-installation:team-b'], 'default')).toBe(false);
  });

  it('another installation owns exactly what carries its tag', () => {
    const tag = installationTag('team-b')!;
    expect(tag).toBe('cs-installation:team-b');
    expect(ownedBy([MANAGED_TAG, tag, 'connector-1001'], 'team-b')).toBe(true);
    expect(ownedBy([MANAGED_TAG, 'connector-1'], 'team-b')).toBe(false);
    expect(ownedBy([MANAGED_TAG, 'cs-installation:team-c'], 'team-b')).toBe(false);
    expect(installationOfTags([MANAGED_TAG, 'cs-installation:team-c'])).toBe('team-c');
  });

  it('the installation tag never reads as a connector id', () => {
    expect(connectorIdOfTags(['cs-installation:team-b', 'connector-7'], [MANAGED_TAG])).toBe('7');
  });

  it('the ownership variable is one per managed tag and name, in the characters Prefect allows', () => {
    const name = ownershipVariableName(MANAGED_TAG, 'default');
    expect(name).toMatch(/^connector-sync-installation-default-[0-9a-f]{12}$/);
    expect(ownershipVariableName('managed-by:other', 'default')).not.toBe(name);
    expect(ownershipVariableName(MANAGED_TAG, 'team-b')).not.toBe(name);
  });

  it('a same-named deployment of another installation is a conflict, never adopted', () => {
    const spec = specFor('1');
    const theirs = deploymentFor(spec, {
      id: 'theirs',
      tags: [MANAGED_TAG, 'cs-installation:team-b', 'connector-1'],
    });
    const plan = planPass(planInputOf({ specs: [spec], foreign: [theirs], adopt: true }));
    expect(plan.changes).toEqual([]);
    expect(plan.problems).toEqual([
      {
        connectorId: '1',
        connectorName: spec.connectorName,
        status: 'conflict',
        message:
          'deployment "connector-1" belongs to connector-sync installation "team-b"; give this installation a deployment.nameTemplate or flow of its own',
        retryable: false,
      },
    ]);
  });
});
