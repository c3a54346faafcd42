import { describe, expect, it } from 'vitest';
import { prefectEventOf } from '../../../src/publish/prefect-events.js';
import type { StoredEvent } from '../../../src/domain/events.js';

// Which events of our log the Prefect sink posts, and under what name and
// resources. Prefect emits prefect.deployment.* itself for every write of
// ours, so those are never posted again — except an update that reverted a
// drift, which Prefect cannot tell from any other update.

const DEPLOYMENT = 'prefect.deployment.5f0c8b1e-1111-4222-8333-444455556666';
const OCCURRED = new Date('2026-12-01T08:00:00.000Z');

const deploymentResource = { 'prefect.resource.id': DEPLOYMENT, 'prefect.resource.name': 'c-42' };
const flow = { 'prefect.resource.id': 'prefect.flow.f1', 'prefect.resource.role': 'flow' };
const queue = {
  'prefect.resource.id': 'prefect.work-queue.q1',
  'prefect.resource.role': 'work-queue',
};
const connector = {
  'prefect.resource.id': 'connector-sync.connector.42',
  'prefect.resource.role': 'connector',
  'prefect.resource.name': 'Orders',
};
const aboutConnector = {
  'prefect.resource.id': 'connector-sync.connector.42',
  'prefect.resource.name': 'Orders',
};
const asRelatedDeployment = { ...deploymentResource, 'prefect.resource.role': 'deployment' };

function stored(overrides: Partial<StoredEvent>): StoredEvent {
  return {
    id: '0190aaaa-0000-7000-8000-000000000001',
    occurred: OCCURRED,
    event: 'prefect.deployment.updated',
    action: 'updated',
    connector_id: '42',
    deployment_id: '5f0c8b1e-1111-4222-8333-444455556666',
    resource: deploymentResource,
    related: [flow, queue, connector],
    payload: {},
    pass_id: '0190bbbb-0000-7000-8000-000000000002',
    ...overrides,
  };
}

describe('prefectEventOf: what is never posted (Prefect has its own event)', () => {
  it.each([
    ['created', 'prefect.deployment.created', { id: 'd' }],
    ['updated', 'prefect.deployment.updated', { updated_fields: ['description'], updates: {} }],
    ['paused', 'prefect.deployment.updated', { updated_fields: ['paused'], updates: {} }],
    ['resumed', 'prefect.deployment.updated', { updated_fields: ['paused'], updates: {} }],
    ['deleted', 'prefect.deployment.deleted', { id: 'd' }],
    // A drift flag on anything but an update does not make it ours to post.
    ['paused', 'prefect.deployment.updated', { updated_fields: ['paused'], drift: true }],
    ['updated', 'prefect.deployment.updated', { drift: 'yes' }], // only `true` marks a drift
    ['something-new', 'connector-sync.something', {}], // an action this version does not know
  ])('%s (%s, payload %j) → null', (action, event, payload) => {
    expect(prefectEventOf(stored({ action, event, payload }))).toBeNull();
  });
});

describe('prefectEventOf: what is posted, and as what', () => {
  it.each([
    // A failure is named after its problem, so an automation can pick exactly one.
    [
      'failed',
      'connector-sync.connector.failed',
      { status: 'invalid' },
      'connector-sync.connector.invalid',
    ],
    [
      'failed',
      'connector-sync.connector.failed',
      { status: 'conflict' },
      'connector-sync.connector.conflict',
    ],
    [
      'failed',
      'connector-sync.connector.failed',
      { status: 'failed' },
      'connector-sync.connector.failed',
    ],
    ['failed', 'connector-sync.connector.failed', {}, 'connector-sync.connector.failed'],
    ['failed', 'connector-sync.connector.failed', { status: 7 }, 'connector-sync.connector.failed'],
    [
      'recovered',
      'connector-sync.connector.recovered',
      { from: 'failed' },
      'connector-sync.connector.recovered',
    ],
    [
      'held',
      'connector-sync.connector.held',
      { message: 'held back' },
      'connector-sync.connector.held',
    ],
    ['pass-failed', 'connector-sync.pass.failed', { kind: 'full' }, 'connector-sync.pass.failed'],
    [
      'pass-aborted',
      'connector-sync.pass.aborted',
      { kind: 'targeted' },
      'connector-sync.pass.aborted',
    ],
    [
      'updated',
      'prefect.deployment.updated',
      { drift: true },
      'connector-sync.deployment.drift-reverted',
    ],
    ...(
      ['started', 'wave-passed', 'paused', 'resumed', 'failed', 'rolled-back', 'completed'] as const
    ).map((what): [string, string, Record<string, unknown>, string] => [
      `release-${what}`,
      `connector-sync.release.${what}`,
      { release: '2.0.0' },
      `connector-sync.release.${what}`,
    ]),
  ])('%s (%s, payload %j) → %s', (action, event, payload, name) => {
    const posted = prefectEventOf(stored({ action, event, payload }));
    expect(posted?.event).toBe(name);
  });

  it('keeps our id (Prefect keeps one copy per id), the time as ISO text, and adds the pass to the payload', () => {
    const e = stored({
      action: 'failed',
      event: 'connector-sync.connector.failed',
      resource: aboutConnector,
      related: [asRelatedDeployment, flow],
      payload: { status: 'invalid', message: 'bad cron', retryable: false },
    });
    expect(prefectEventOf(e)).toEqual({
      id: e.id,
      occurred: '2026-12-01T08:00:00.000Z',
      event: 'connector-sync.connector.invalid',
      resource: aboutConnector,
      related: [asRelatedDeployment, flow],
      payload: { status: 'invalid', message: 'bad cron', retryable: false, pass_id: e.pass_id },
    });
  });

  it('a connector event keeps its resource and related as recorded (no connector-as-related added)', () => {
    const e = stored({
      action: 'recovered',
      event: 'connector-sync.connector.recovered',
      resource: aboutConnector,
      related: [],
      payload: { from: 'conflict', was: 'a stranger holds the name' },
    });
    const posted = prefectEventOf(e)!;
    expect(posted.resource).toEqual(aboutConnector);
    expect(posted.related).toEqual([]);
  });

  it('a pass event is about the pass and relates to nothing', () => {
    const pass = {
      'prefect.resource.id': 'connector-sync.pass.p1',
      'prefect.resource.name': 'full pass',
    };
    const posted = prefectEventOf(
      stored({
        action: 'pass-failed',
        event: 'connector-sync.pass.failed',
        connector_id: null,
        deployment_id: null,
        resource: pass,
        related: [],
        payload: { kind: 'full', error: 'boom', duration_ms: 12 },
      }),
    )!;
    expect(posted.resource).toEqual(pass);
    expect(posted.related).toEqual([]);
    expect(posted.payload).toEqual({
      kind: 'full',
      error: 'boom',
      duration_ms: 12,
      pass_id: '0190bbbb-0000-7000-8000-000000000002',
    });
  });
});

describe('prefectEventOf: a drift reverted is about the connector', () => {
  const payload = {
    updated_fields: ['description'],
    updates: { description: { from: 'edited in the UI', to: 'Orders' } },
    drift: true,
  };

  it('the connector becomes the resource (without its role); the deployment is related with role deployment, first', () => {
    const posted = prefectEventOf(stored({ payload }))!;
    expect(posted.resource).toEqual(aboutConnector);
    expect(posted.related).toEqual([asRelatedDeployment, flow, queue]);
    expect(posted.payload).toEqual({ ...payload, pass_id: '0190bbbb-0000-7000-8000-000000000002' });
  });

  it('keeps a work pool that was recorded, after the deployment', () => {
    const pool = {
      'prefect.resource.id': 'prefect.work-pool.p1',
      'prefect.resource.role': 'work-pool',
      'prefect.resource.name': 'default',
    };
    const posted = prefectEventOf(stored({ payload, related: [flow, pool, connector] }))!;
    expect(posted.related).toEqual([asRelatedDeployment, flow, pool]);
  });

  it('without a connector among the related: a resource made from the connector id', () => {
    const posted = prefectEventOf(stored({ payload, related: [flow] }))!;
    expect(posted.resource).toEqual({ 'prefect.resource.id': 'connector-sync.connector.42' });
    expect(posted.related).toEqual([asRelatedDeployment, flow]);
    const orphan = prefectEventOf(stored({ payload, related: [], connector_id: null }))!;
    expect(orphan.resource).toEqual({ 'prefect.resource.id': 'connector-sync.connector.unknown' });
  });

  it('does not change the stored event it maps', () => {
    const e = stored({ payload });
    const before = structuredClone(e);
    prefectEventOf(e);
    expect(e).toEqual(before);
  });
});
