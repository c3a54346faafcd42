import type {
  Change,
  DeleteChange,
  DeleteReason,
  Deployment,
  PauseReason,
  UpdateChange,
} from './types.js';

// Small facts about changes that the planner, the guard and the apply step share.

/**
 * Whether a change moves its connector's own state. A delete of a renamed or
 * moved deployment clears the way for the connector's new one, and a pause
 * with a reason only stops runs: neither syncs the connector.
 */
export function changesConnectorState(change: Change): boolean {
  if (change.action === 'delete')
    return !isLeftover(change) && change.reason !== 'inactive, row invalid';
  if (change.action === 'create') return true;
  return change.reason === undefined;
}

/** A deployment of a live connector that is not its desired one any more (renamed, other flow). */
export function isLeftover(change: DeleteChange): boolean {
  return change.reason === 'renamed' || change.reason === 'moved to another flow';
}

export function deleteChange(
  deployment: Deployment,
  connectorId: string | null,
  connectorName: string | null,
  reason: DeleteReason,
): DeleteChange {
  return { action: 'delete', connectorId, connectorName, deployment, reason };
}

export function pauseChange(
  deployment: Deployment,
  connectorId: string,
  connectorName: string | null,
  reason: PauseReason,
): UpdateChange {
  return {
    action: 'pause',
    connectorId,
    connectorName,
    deployment,
    fields: { paused: { from: deployment.paused, to: true } },
    reason,
  };
}
