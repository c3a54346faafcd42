import { describe, expect, it } from 'vitest';
import { diffDeployment, updateAction } from '../../../src/domain/diff.js';
import {
  ripeIntents,
  settleAfterMs,
  settleIntent,
  storedChange,
  viewOf,
  waitingMessage,
  writeWindowMs,
  type Settlement,
} from '../../../src/domain/settle.js';
import type { Change, Deployment, DeploymentSpec } from '../../../src/domain/types.js';
import { deploymentFor, FLOW_ID, OTHER_FLOW_ID, specFor } from '../../harness/plan-fixtures.js';

function updateChange(spec: DeploymentSpec, before: Deployment): Change {
  const fields = diffDeployment(spec, before);
  return {
    action: updateAction(fields),
    connectorId: spec.connectorId,
    connectorName: spec.connectorName,
    deployment: before,
    fields,
  };
}

/** The field names of an update/pause/resume change; anything else fails the test. */
function fieldNames(change: Change): string[] {
  if (change.action === 'create' || change.action === 'delete') {
    throw new Error(`expected an update, pause or resume, got ${change.action}`);
  }
  return Object.keys(change.fields);
}

/** The field names of a settlement that took effect; anything else fails the test. */
function appliedFields(settlement: Settlement): string[] {
  if (!settlement.tookEffect) throw new Error('expected the intent to take effect');
  return fieldNames(settlement.change);
}

describe('viewOf', () => {
  it('indexes deployments by id and by flow/name', () => {
    const a = deploymentFor(specFor('1'));
    const b = deploymentFor(specFor('2'), { flow_id: OTHER_FLOW_ID });
    const view = viewOf([a, b]);
    expect(view.byId.get('dep-1')).toBe(a);
    expect(view.byId.get('dep-2')).toBe(b);
    expect(view.byFlowAndName.get(`${FLOW_ID}/connector-1`)).toBe(a);
    expect(view.byFlowAndName.get(`${OTHER_FLOW_ID}/connector-2`)).toBe(b);
    expect(view.byFlowAndName.has(`${FLOW_ID}/connector-2`)).toBe(false);
  });
});

describe('settleIntent: create', () => {
  const spec = specFor('1');
  const change: Change = { action: 'create', connectorId: '1', spec };

  it('took effect when a deployment of our flow with that name exists, with it as result', () => {
    const created = deploymentFor(spec, { id: 'new-id' });
    expect(settleIntent(change, FLOW_ID, viewOf([created]))).toEqual({
      tookEffect: true,
      change,
      result: created,
    });
  });

  it('did not take effect when the name is absent', () => {
    expect(settleIntent(change, FLOW_ID, viewOf([deploymentFor(specFor('2'))]))).toEqual({
      tookEffect: false,
    });
  });

  it('did not take effect when the name exists only under another flow', () => {
    const elsewhere = deploymentFor(spec, { flow_id: OTHER_FLOW_ID });
    expect(settleIntent(change, FLOW_ID, viewOf([elsewhere]))).toEqual({
      tookEffect: false,
    });
  });

  it('did not take effect when our flow does not exist', () => {
    expect(settleIntent(change, null, viewOf([deploymentFor(spec)]))).toEqual({
      tookEffect: false,
    });
  });
});

describe('settleIntent: delete', () => {
  const doomed = deploymentFor(specFor('7'));
  const change: Change = {
    action: 'delete',
    connectorId: '7',
    connectorName: 'Seven',
    deployment: doomed,
    reason: 'row deleted',
  };

  it('took effect when the id is gone', () => {
    expect(settleIntent(change, FLOW_ID, viewOf([]))).toEqual({
      tookEffect: true,
      change,
      result: null,
    });
  });

  it('did not take effect while the id is still there', () => {
    expect(settleIntent(change, FLOW_ID, viewOf([doomed]))).toEqual({
      tookEffect: false,
    });
  });

  it('a new deployment of the same name (another id) does not mean the delete failed', () => {
    const recreated = { ...doomed, id: 'another-id' };
    expect(settleIntent(change, FLOW_ID, viewOf([recreated])).tookEffect).toBe(true);
  });
});

describe('settleIntent: update / pause / resume', () => {
  const spec = specFor('1', { name: 'New name', cron: '5 4 * * *' });
  const before = deploymentFor(specFor('1', { name: 'Old name', cron: '0 */6 * * *' }));
  const change = updateChange(spec, before);

  it('the change under test has two fields', () => {
    expect(change.action).toBe('update');
    // The version moves with every change of the spec (docs/concepts/connectors-and-deployments.md, "Versions").
    expect(fieldNames(change).sort()).toEqual(['description', 'schedules', 'version']);
  });

  it('took effect in full: every field at its target', () => {
    const after = deploymentFor(spec, { id: before.id });
    expect(settleIntent(change, FLOW_ID, viewOf([after]))).toEqual({
      tookEffect: true,
      change,
      result: after,
    });
  });

  it('partially applied: only the fields now at their target, action recomputed', () => {
    const after: Deployment = { ...before, description: spec.description };
    const settled = settleIntent(change, FLOW_ID, viewOf([after]));
    expect(settled.tookEffect).toBe(true);
    expect(appliedFields(settled)).toEqual(['description']);
    expect(settled).toMatchObject({ result: after });
    expect(settled).toMatchObject({
      change: {
        action: 'update',
        connectorId: '1',
        fields: { description: { from: before.description, to: spec.description } },
      },
    });
  });

  it('nothing applied: did not take effect', () => {
    expect(settleIntent(change, FLOW_ID, viewOf([before]))).toEqual({
      tookEffect: false,
    });
  });

  it('deployment gone: did not take effect', () => {
    expect(settleIntent(change, FLOW_ID, viewOf([]))).toEqual({
      tookEffect: false,
    });
  });

  it('an update whose only applied field is paused becomes a pause', () => {
    const target = specFor('1', { name: 'New name', isActive: false });
    const start = deploymentFor(specFor('1', { name: 'Old name', isActive: true }));
    const both = updateChange(target, start);
    expect(both.action).toBe('update');
    const after: Deployment = { ...start, paused: true };
    const settled = settleIntent(both, FLOW_ID, viewOf([after]));
    expect(settled).toMatchObject({
      tookEffect: true,
      change: { action: 'pause', fields: { paused: { from: false, to: true } } },
    });
    expect(appliedFields(settled)).toEqual(['paused']);
  });

  it('an update whose only applied field is paused -> false becomes a resume', () => {
    const target = specFor('1', { name: 'New name', isActive: true });
    const start = deploymentFor(specFor('1', { name: 'Old name', isActive: false }));
    const both = updateChange(target, start);
    const settled = settleIntent(both, FLOW_ID, viewOf([{ ...start, paused: false }]));
    expect(settled).toMatchObject({
      tookEffect: true,
      change: { action: 'resume', fields: { paused: { from: true, to: false } } },
    });
  });

  it('a pause that took effect stays a pause', () => {
    const target = specFor('1', { isActive: false });
    const start = deploymentFor(target, { paused: false });
    const pause = updateChange(target, start);
    expect(pause.action).toBe('pause');
    expect(settleIntent(pause, FLOW_ID, viewOf([{ ...start, paused: true }]))).toMatchObject({
      tookEffect: true,
      change: { action: 'pause' },
    });
    expect(settleIntent(pause, FLOW_ID, viewOf([start]))).toEqual({
      tookEffect: false,
    });
  });

  it('a field that reached its target counts even if another field drifted meanwhile', () => {
    const after: Deployment = { ...before, description: spec.description, tags: ['someone-else'] };
    const settled = settleIntent(change, FLOW_ID, viewOf([after]));
    expect(appliedFields(settled)).toEqual(['description']);
  });

  it('the deployment is matched by id, not by name', () => {
    const sameNameOtherId: Deployment = deploymentFor(spec, { id: 'other-id' });
    expect(settleIntent(change, FLOW_ID, viewOf([sameNameOtherId]))).toEqual({
      tookEffect: false,
    });
  });
});

describe('an open intent is settled only once no call of ours can still land', () => {
  const limits = { timeoutMs: 10_000, retries: 4, retryMaxDelayMs: 8_000 };

  it('derives the bound from the call limits: write window + 2 timeouts', () => {
    expect(writeWindowMs(limits)).toBe(4 * 18_000 + 10_000);
    expect(settleAfterMs(limits)).toBe(82_000 + 20_000);
    expect(settleAfterMs({ timeoutMs: 2_000, retries: 0, retryMaxDelayMs: 500 })).toBe(6_000);
    // More retries or a longer timeout never shorten the wait.
    expect(settleAfterMs({ ...limits, retries: 5 })).toBeGreaterThan(settleAfterMs(limits));
    expect(settleAfterMs({ ...limits, timeoutMs: 11_000 })).toBeGreaterThan(settleAfterMs(limits));
  });

  it('splits intents by age against the injected clock', () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const at = (msAgo: number): { id: string; createdAt: Date } => ({
      id: String(msAgo),
      createdAt: new Date(now.getTime() - msAgo),
    });
    const { ripe, waiting } = ripeIntents([at(10_000), at(6_000), at(5_999), at(0)], now, 6_000);
    expect(ripe.map((i) => i.id)).toEqual(['10000', '6000']);
    expect(waiting.map((w) => [w.intent.id, w.settlesAt.toISOString()])).toEqual([
      ['5999', '2026-01-01T12:00:00.001Z'],
      ['0', '2026-01-01T12:00:06.000Z'],
    ]);
    // The same intents, later: all ripe.
    expect(
      ripeIntents([at(5_999), at(0)], new Date(now.getTime() + 6_000), 6_000).ripe,
    ).toHaveLength(2);
  });

  it('tells the operator what it waits for and until when', () => {
    expect(waitingMessage('pause', 'p-1', new Date('2026-01-01T12:00:06Z'))).toBe(
      'waiting for an earlier pause call (intent from pass p-1) to finish; settles after 2026-01-01T12:00:06.000Z',
    );
  });
});

describe('storedChange: intents written by the release before', () => {
  it('an update stored with the whole spec and no connectorName settles as today', () => {
    const spec = specFor('1');
    const before = deploymentFor(spec, { description: 'old' });
    const legacy = {
      action: 'update',
      connectorId: '1',
      spec,
      deployment: before,
      fields: { description: { from: 'old', to: spec.description } },
    } as unknown as Change;
    const change = storedChange(legacy);
    expect(change).toEqual({
      action: 'update',
      connectorId: '1',
      connectorName: 'Connector 1',
      deployment: before,
      fields: { description: { from: 'old', to: spec.description } },
    });
    expect(settleIntent(change, FLOW_ID, viewOf([deploymentFor(spec)]))).toMatchObject({
      tookEffect: true,
    });
  });

  it("creates, deletes and today's updates pass unchanged", () => {
    const created: Change = { action: 'create', connectorId: '1', spec: specFor('1') };
    expect(storedChange(created)).toBe(created);
  });
});
