import {
  connectorResource,
  deploymentRelated,
  deploymentResource,
  EVENT_NAMES,
  type EventDraft,
  type RelatedContext,
} from './events.js';
import type { Deployment, Problem } from './types.js';

// Events about a connector, not a deployment change (those Prefect emits
// itself): its problems, its recovery, a delete held back for it; and a pass
// that failed. They are what the Prefect sink posts (docs/concepts/event-log.md, "Sinks").

/**
 * What an event about a connector (its resource) relates to: its deployment
 * (role `deployment`, so a Prefect automation can act on it), the deployment's
 * flow, work queue and pool. Nothing when it has no deployment.
 */
export interface ConnectorSubject {
  deployment: Deployment | null;
  context: RelatedContext;
}

function aboutConnector(
  action: 'failed' | 'recovered' | 'held',
  connector: { id: string; name: string | null },
  subject: ConnectorSubject,
  payload: Record<string, unknown>,
): EventDraft {
  const { deployment, context } = subject;
  return {
    event: EVENT_NAMES[action],
    action,
    connector_id: connector.id,
    deployment_id: deployment?.id ?? null,
    resource: connectorResource(connector.id, connector.name),
    related: deployment
      ? [
          {
            ...deploymentResource(deployment.id, deployment.name),
            'prefect.resource.role': 'deployment',
          },
          ...deploymentRelated(deployment, null, context),
        ]
      : [],
    payload,
  };
}

const NO_SUBJECT: ConnectorSubject = { deployment: null, context: { flow: null, workPools: [] } };

/** A connector entered a problem state (invalid, conflict, failed) or its problem changed. */
export function failedEvent(problem: Problem, subject: ConnectorSubject = NO_SUBJECT): EventDraft {
  return aboutConnector(
    'failed',
    { id: problem.connectorId, name: problem.connectorName },
    subject,
    { status: problem.status, message: problem.message, retryable: problem.retryable },
  );
}

/** A connector left a problem state (invalid, conflict, failed) for `synced`. */
export function recoveredEvent(
  connector: { id: string; name: string | null },
  from: { status: string; message: string | null },
  subject: ConnectorSubject,
): EventDraft {
  return aboutConnector('recovered', connector, subject, { from: from.status, was: from.message });
}

/** The mass-delete guard held back the delete of one of a connector's deployments. */
export function heldEvent(
  held: { connectorId: string; connectorName: string | null; message: string },
  subject: ConnectorSubject,
): EventDraft {
  return aboutConnector('held', { id: held.connectorId, name: held.connectorName }, subject, {
    message: held.message,
  });
}

/** A pass that failed (it threw) or was cut short (Prefect kept failing, or the worker stopped). */
export function passEvent(pass: {
  id: string;
  kind: 'full' | 'targeted';
  outcome: 'failed' | 'aborted';
  error: string;
  durationMs: number;
}): EventDraft {
  const action = pass.outcome === 'failed' ? 'pass-failed' : 'pass-aborted';
  return {
    event: EVENT_NAMES[action],
    action,
    connector_id: null,
    deployment_id: null,
    resource: {
      'prefect.resource.id': `connector-sync.pass.${pass.id}`,
      'prefect.resource.name': `${pass.kind} pass`,
    },
    related: [],
    payload: { kind: pass.kind, error: pass.error, duration_ms: pass.durationMs },
  };
}

/**
 * The source shrank past its limit since the last good pass: every delete is
 * held until it looks healthy again. One event per episode, about the source.
 */
export function sourceShrankEvent(shrink: {
  table: string;
  from: number;
  to: number;
  limit: string;
  held: number;
}): EventDraft {
  return {
    event: EVENT_NAMES['source-shrank'],
    action: 'source-shrank',
    connector_id: null,
    deployment_id: null,
    resource: {
      'prefect.resource.id': `connector-sync.source.${shrink.table}`,
      'prefect.resource.name': shrink.table,
    },
    related: [],
    payload: {
      from_rows: shrink.from,
      to_rows: shrink.to,
      limit: shrink.limit,
      held_deletes: shrink.held,
    },
  };
}
