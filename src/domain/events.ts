import { updateAction } from './diff.js';
import type { Change, Deployment, FieldChanges } from './types.js';
import type { EventAction } from './vocabulary.js';

// Lifecycle events in the shape Prefect itself emits (OSS 3.6.23+; docs/concepts/event-log.md).

export type { EventAction } from './vocabulary.js';

export const EVENT_NAMES: Record<EventAction, string> = {
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
};

export type ReleaseAction = Extract<EventAction, `release-${string}`>;

/** An event about a release (resource `connector-sync.release.<id>`), its gate runs related. */
export function releaseEvent(
  action: ReleaseAction,
  releaseId: string,
  payload: Record<string, unknown>,
  flowRunIds: string[] = [],
): EventDraft {
  return {
    event: EVENT_NAMES[action],
    action,
    connector_id: null,
    deployment_id: null,
    resource: {
      'prefect.resource.id': `connector-sync.release.${releaseId}`,
      'prefect.resource.name': releaseId,
    },
    related: flowRunIds.map((id) => ({
      'prefect.resource.id': `prefect.flow-run.${id}`,
      'prefect.resource.role': 'flow-run',
    })),
    payload: { release: releaseId, ...payload },
  };
}

export interface Resource {
  'prefect.resource.id': string;
  'prefect.resource.name'?: string;
  'prefect.resource.role'?: string;
}

/** An event before it has an id, a time and a pass. */
export interface EventDraft {
  event: string;
  action: EventAction;
  connector_id: string | null;
  deployment_id: string | null;
  resource: Resource;
  related: Resource[];
  payload: Record<string, unknown>;
}

export interface EventRow extends EventDraft {
  id: string;
  occurred: Date;
  pass_id: string;
}

/** What we know of the things an event relates to. */
export interface RelatedContext {
  flow: { id: string; name: string } | null;
  /** The work pools this pass read (every distinct one its changes use). */
  workPools: { id: string; name: string }[];
}

/**
 * A context as stored in an intent, in today's shape: the release before
 * this one knew a single work pool.
 */
export function storedContext(
  raw:
    | RelatedContext
    | { flow: RelatedContext['flow']; workPool?: { id: string; name: string } | null },
): RelatedContext {
  if ('workPools' in raw) return raw;
  return { flow: raw.flow, workPools: raw.workPool ? [raw.workPool] : [] };
}

export function connectorResource(id: string, name: string | null, role?: string): Resource {
  const resource: Resource = { 'prefect.resource.id': `connector-sync.connector.${id}` };
  if (role) resource['prefect.resource.role'] = role;
  if (name !== null) resource['prefect.resource.name'] = name;
  return resource;
}

export function deploymentRelated(
  deployment: Pick<Deployment, 'flow_id' | 'work_queue_id' | 'work_queue_name' | 'work_pool_name'>,
  connector: { id: string; name: string | null } | null,
  context: RelatedContext,
): Resource[] {
  const related: Resource[] = [];
  const flow: Resource = {
    'prefect.resource.id': `prefect.flow.${deployment.flow_id}`,
    'prefect.resource.role': 'flow',
  };
  if (context.flow?.id === deployment.flow_id) flow['prefect.resource.name'] = context.flow.name;
  related.push(flow);
  if (deployment.work_queue_id) {
    const queue: Resource = {
      'prefect.resource.id': `prefect.work-queue.${deployment.work_queue_id}`,
      'prefect.resource.role': 'work-queue',
    };
    if (deployment.work_queue_name) queue['prefect.resource.name'] = deployment.work_queue_name;
    related.push(queue);
  }
  const pool = context.workPools.find((p) => p.name === deployment.work_pool_name);
  if (pool) {
    related.push({
      'prefect.resource.id': `prefect.work-pool.${pool.id}`,
      'prefect.resource.role': 'work-pool',
      'prefect.resource.name': pool.name,
    });
  }
  if (connector) related.push(connectorResource(connector.id, connector.name, 'connector'));
  return related;
}

export function deploymentResource(id: string, name: string): Resource {
  return { 'prefect.resource.id': `prefect.deployment.${id}`, 'prefect.resource.name': name };
}

/** A deployment as an event carries it: what we manage, not Prefect's readiness of the moment. */
function deploymentPayload(deployment: Deployment): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...deployment };
  delete payload.status;
  return payload;
}

export function createdEvent(
  deployment: Deployment,
  connector: { id: string; name: string },
  context: RelatedContext,
): EventDraft {
  return {
    event: EVENT_NAMES.created,
    action: 'created',
    connector_id: connector.id,
    deployment_id: deployment.id,
    resource: deploymentResource(deployment.id, deployment.name),
    related: deploymentRelated(deployment, connector, context),
    payload: deploymentPayload(deployment),
  };
}

export function updatedEvent(
  deployment: Deployment,
  fields: FieldChanges,
  connector: { id: string; name: string | null },
  context: RelatedContext,
  /** The change reverted an edit made in Prefect (docs/concepts/event-log.md). */
  drift = false,
): EventDraft {
  const action = updateAction(fields);
  const eventAction: EventAction =
    action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'updated';
  return {
    event: EVENT_NAMES[eventAction],
    action: eventAction,
    connector_id: connector.id,
    deployment_id: deployment.id,
    resource: deploymentResource(deployment.id, deployment.name),
    related: deploymentRelated(deployment, connector, context),
    payload: {
      updated_fields: Object.keys(fields),
      updates: fields,
      ...(drift ? { drift: true } : {}),
    },
  };
}

export function deletedEvent(
  deployment: Deployment,
  connector: { id: string; name: string | null } | null,
  context: RelatedContext,
): EventDraft {
  return {
    event: EVENT_NAMES.deleted,
    action: 'deleted',
    connector_id: connector?.id ?? null,
    deployment_id: deployment.id,
    resource: deploymentResource(deployment.id, deployment.name),
    related: deploymentRelated(deployment, connector, context),
    payload: deploymentPayload(deployment),
  };
}

/** The event a change produces once Prefect has taken it; `result` is the deployment after the call. */
export function eventForChange(
  change: Change,
  result: Deployment | null,
  context: RelatedContext,
): EventDraft {
  switch (change.action) {
    case 'create':
      if (!result) throw new Error('a create event needs the created deployment');
      return createdEvent(
        result,
        { id: change.connectorId, name: change.spec.connectorName },
        context,
      );
    case 'update':
    case 'pause':
    case 'resume':
      return updatedEvent(
        result ?? change.deployment,
        change.fields,
        { id: change.connectorId, name: change.connectorName },
        context,
        change.cause === 'drift',
      );
    case 'delete':
      return deletedEvent(
        change.deployment,
        change.connectorId === null ? null : { id: change.connectorId, name: change.connectorName },
        context,
      );
  }
}

export interface StoredEvent {
  id: string;
  occurred: Date;
  event: string;
  action: string;
  connector_id: string | null;
  deployment_id: string | null;
  resource: Record<string, unknown>;
  related: Record<string, unknown>[];
  payload: Record<string, unknown>;
  pass_id: string;
}

/** An event with its place in commit order (`events.seq`, a bigint, as text). */
export interface SequencedEvent {
  seq: string;
  event: StoredEvent;
}
