import { describe, expect, it } from 'vitest';
import {
  connectorResource,
  createdEvent,
  deletedEvent,
  EVENT_NAMES,
  eventForChange,
  updatedEvent,
  type RelatedContext,
} from '../../../src/domain/events.js';
import { failedEvent } from '../../../src/domain/connector-events.js';
import type { Change, Deployment, Problem } from '../../../src/domain/types.js';
import { deploymentFor, FLOW_ID, OTHER_FLOW_ID, specFor } from '../../harness/plan-fixtures.js';

const DEPLOYMENT_ID = '5f0c8b1e-1111-4222-8333-444455556666';
const POOL_ID = '7a7a7a7a-0000-4000-8000-000000000009';
const QUEUE_ID = '9b9b9b9b-0000-4000-8000-000000000003';

const context: RelatedContext = {
  flow: { id: FLOW_ID, name: 'run_connector_pipeline' },
  workPools: [{ id: POOL_ID, name: 'default' }],
};

const spec = specFor('42', { name: 'Orders' });
const deployment: Deployment = deploymentFor(spec, {
  id: DEPLOYMENT_ID,
  work_queue_id: QUEUE_ID,
});
const connector = { id: '42', name: 'Orders' };

const flowRelated = {
  'prefect.resource.id': `prefect.flow.${FLOW_ID}`,
  'prefect.resource.role': 'flow',
  'prefect.resource.name': 'run_connector_pipeline',
};
const queueRelated = {
  'prefect.resource.id': `prefect.work-queue.${QUEUE_ID}`,
  'prefect.resource.role': 'work-queue',
  'prefect.resource.name': 'default',
};
const poolRelated = {
  'prefect.resource.id': `prefect.work-pool.${POOL_ID}`,
  'prefect.resource.role': 'work-pool',
  'prefect.resource.name': 'default',
};
const connectorRelated = {
  'prefect.resource.id': 'connector-sync.connector.42',
  'prefect.resource.role': 'connector',
  'prefect.resource.name': 'Orders',
};

describe('EVENT_NAMES', () => {
  it('are the documented names (docs/reference/events.md)', () => {
    expect(EVENT_NAMES).toEqual({
      created: 'prefect.deployment.created',
      updated: 'prefect.deployment.updated',
      paused: 'prefect.deployment.updated',
      resumed: 'prefect.deployment.updated',
      deleted: 'prefect.deployment.deleted',
      failed: 'connector-sync.connector.failed',
      recovered: 'connector-sync.connector.recovered',
      held: 'connector-sync.connector.held',
      'pass-failed': 'connector-sync.pass.failed',
      'pass-aborted': 'connector-sync.pass.aborted',
      'source-shrank': 'connector-sync.source.shrank',
      'release-started': 'connector-sync.release.started',
      'release-wave-passed': 'connector-sync.release.wave-passed',
      'release-paused': 'connector-sync.release.paused',
      'release-resumed': 'connector-sync.release.resumed',
      'release-failed': 'connector-sync.release.failed',
      'release-rolled-back': 'connector-sync.release.rolled-back',
      'release-completed': 'connector-sync.release.completed',
    });
  });
});

describe('createdEvent', () => {
  it('has the shape of a Prefect deployment event', () => {
    const event = createdEvent(deployment, connector, context);
    expect(event).toEqual({
      event: 'prefect.deployment.created',
      action: 'created',
      connector_id: '42',
      deployment_id: DEPLOYMENT_ID,
      resource: {
        'prefect.resource.id': `prefect.deployment.${DEPLOYMENT_ID}`,
        'prefect.resource.name': 'connector-42',
      },
      related: [flowRelated, queueRelated, poolRelated, connectorRelated],
      payload: deployment,
    });
  });

  it('the payload is a copy of the deployment as created', () => {
    const event = createdEvent(deployment, connector, context);
    expect(event.payload).not.toBe(deployment);
    expect(event.payload.id).toBe(DEPLOYMENT_ID);
    expect(event.payload.schedules).toEqual(deployment.schedules);
  });
});

describe('related resources', () => {
  it('the flow has no name when the context knows another flow', () => {
    const event = createdEvent({ ...deployment, flow_id: OTHER_FLOW_ID }, connector, context);
    expect(event.related[0]).toEqual({
      'prefect.resource.id': `prefect.flow.${OTHER_FLOW_ID}`,
      'prefect.resource.role': 'flow',
    });
  });

  it('the flow has no name when the context has no flow', () => {
    const event = createdEvent(deployment, connector, { ...context, flow: null });
    expect(event.related[0]).toEqual({
      'prefect.resource.id': `prefect.flow.${FLOW_ID}`,
      'prefect.resource.role': 'flow',
    });
  });

  it('no work queue without a work_queue_id', () => {
    const event = createdEvent({ ...deployment, work_queue_id: null }, connector, context);
    expect(event.related.map((r) => r['prefect.resource.role'])).toEqual([
      'flow',
      'work-pool',
      'connector',
    ]);
  });

  it('a work queue without a name when Prefect gave none', () => {
    const event = createdEvent({ ...deployment, work_queue_name: null }, connector, context);
    expect(event.related[1]).toEqual({
      'prefect.resource.id': `prefect.work-queue.${QUEUE_ID}`,
      'prefect.resource.role': 'work-queue',
    });
  });

  it('no work pool when the deployment is in another pool than the one known', () => {
    const event = createdEvent({ ...deployment, work_pool_name: 'gpu' }, connector, context);
    expect(event.related.map((r) => r['prefect.resource.role'])).toEqual([
      'flow',
      'work-queue',
      'connector',
    ]);
  });

  it('no work pool when none is known', () => {
    const event = createdEvent(deployment, connector, { ...context, workPools: [] });
    expect(event.related.some((r) => r['prefect.resource.role'] === 'work-pool')).toBe(false);
  });
});

describe('updatedEvent', () => {
  it('payload is {updated_fields, updates} with Prefect field names', () => {
    const fields = {
      description: { from: 'Old', to: 'Orders' },
      tags: { from: ['a'], to: ['b'] },
    };
    const event = updatedEvent(deployment, fields, connector, context);
    expect(event).toEqual({
      event: 'prefect.deployment.updated',
      action: 'updated',
      connector_id: '42',
      deployment_id: DEPLOYMENT_ID,
      resource: {
        'prefect.resource.id': `prefect.deployment.${DEPLOYMENT_ID}`,
        'prefect.resource.name': 'connector-42',
      },
      related: [flowRelated, queueRelated, poolRelated, connectorRelated],
      payload: { updated_fields: ['description', 'tags'], updates: fields },
    });
  });

  it('paused is the action when paused -> true is the only field', () => {
    const fields = { paused: { from: false, to: true } };
    const event = updatedEvent(deployment, fields, connector, context);
    expect(event.action).toBe('paused');
    expect(event.event).toBe('prefect.deployment.updated');
    expect(event.payload).toEqual({ updated_fields: ['paused'], updates: fields });
  });

  it('resumed is the action when paused -> false is the only field', () => {
    const event = updatedEvent(
      deployment,
      { paused: { from: true, to: false } },
      connector,
      context,
    );
    expect(event.action).toBe('resumed');
    expect(event.event).toBe('prefect.deployment.updated');
  });

  it('updated when paused moves with other fields, paused listed among them', () => {
    const event = updatedEvent(
      deployment,
      { paused: { from: false, to: true }, schedules: { from: [], to: [] } },
      connector,
      context,
    );
    expect(event.action).toBe('updated');
    expect(event.payload.updated_fields).toEqual(['paused', 'schedules']);
  });
});

describe('deletedEvent', () => {
  it('carries the deployment as it was and the connector', () => {
    const event = deletedEvent(deployment, { id: '42', name: null }, context);
    expect(event).toEqual({
      event: 'prefect.deployment.deleted',
      action: 'deleted',
      connector_id: '42',
      deployment_id: DEPLOYMENT_ID,
      resource: {
        'prefect.resource.id': `prefect.deployment.${DEPLOYMENT_ID}`,
        'prefect.resource.name': 'connector-42',
      },
      related: [
        flowRelated,
        queueRelated,
        poolRelated,
        {
          'prefect.resource.id': 'connector-sync.connector.42',
          'prefect.resource.role': 'connector',
        },
      ],
      payload: deployment,
    });
  });

  it('an orphan without a connector has no connector id and no connector resource', () => {
    const event = deletedEvent(deployment, null, context);
    expect(event.connector_id).toBeNull();
    expect(event.related.map((r) => r['prefect.resource.role'])).toEqual([
      'flow',
      'work-queue',
      'work-pool',
    ]);
  });
});

describe('failedEvent', () => {
  const problem: Problem = {
    connectorId: '29',
    connectorName: 'Broken',
    status: 'invalid',
    message: 'unknown timezone "Mars/Olympus"',
    retryable: false,
  };

  it('its resource is the connector and the payload is {status, message, retryable}', () => {
    expect(failedEvent(problem)).toEqual({
      event: 'connector-sync.connector.failed',
      action: 'failed',
      connector_id: '29',
      deployment_id: null,
      resource: {
        'prefect.resource.id': 'connector-sync.connector.29',
        'prefect.resource.name': 'Broken',
      },
      related: [],
      payload: { status: 'invalid', message: 'unknown timezone "Mars/Olympus"', retryable: false },
    });
  });

  it('a connector without a readable name has no resource name', () => {
    const event = failedEvent({
      ...problem,
      connectorName: null,
      status: 'failed',
      retryable: true,
    });
    expect(event.resource).toEqual({ 'prefect.resource.id': 'connector-sync.connector.29' });
    expect(event.payload).toEqual({
      status: 'failed',
      message: 'unknown timezone "Mars/Olympus"',
      retryable: true,
    });
  });
});

describe('connectorResource', () => {
  it('with and without a role', () => {
    expect(connectorResource('1', 'One', 'connector')).toEqual({
      'prefect.resource.id': 'connector-sync.connector.1',
      'prefect.resource.role': 'connector',
      'prefect.resource.name': 'One',
    });
    expect(connectorResource('1', 'One')).toEqual({
      'prefect.resource.id': 'connector-sync.connector.1',
      'prefect.resource.name': 'One',
    });
  });
});

describe('eventForChange', () => {
  it('create: the event of the created deployment (the result), with the connector name', () => {
    const change: Change = { action: 'create', connectorId: '42', spec };
    const event = eventForChange(change, deployment, context);
    expect(event.action).toBe('created');
    expect(event.deployment_id).toBe(DEPLOYMENT_ID);
    expect(event.related.at(-1)).toEqual(connectorRelated);
  });

  it('create without a result is an error', () => {
    const change: Change = { action: 'create', connectorId: '42', spec };
    expect(() => eventForChange(change, null, context)).toThrow(
      'a create event needs the created deployment',
    );
  });

  it('pause: a paused event about the deployment after the call', () => {
    const change: Change = {
      action: 'pause',
      connectorId: '42',
      connectorName: spec.connectorName,
      deployment: { ...deployment, paused: false },
      fields: { paused: { from: false, to: true } },
    };
    const after = { ...deployment, paused: true };
    const event = eventForChange(change, after, context);
    expect(event.action).toBe('paused');
    expect(event.payload).toEqual({
      updated_fields: ['paused'],
      updates: { paused: { from: false, to: true } },
    });
  });

  it('update without a result falls back to the deployment before the call', () => {
    const before = { ...deployment, name: 'connector-42', id: 'before-id' };
    const change: Change = {
      action: 'update',
      connectorId: '42',
      connectorName: spec.connectorName,
      deployment: before,
      fields: { description: { from: 'x', to: 'Orders' } },
    };
    const event = eventForChange(change, null, context);
    expect(event.deployment_id).toBe('before-id');
    expect(event.resource['prefect.resource.id']).toBe('prefect.deployment.before-id');
  });

  it('delete: a deleted event, with or without a connector', () => {
    const withConnector: Change = {
      action: 'delete',
      connectorId: '42',
      connectorName: 'Orders',
      deployment,
      reason: 'row deleted',
    };
    expect(eventForChange(withConnector, null, context)).toMatchObject({
      action: 'deleted',
      connector_id: '42',
      payload: deployment,
    });
    const orphan: Change = { ...withConnector, connectorId: null, connectorName: null };
    expect(eventForChange(orphan, null, context).connector_id).toBeNull();
  });
});
