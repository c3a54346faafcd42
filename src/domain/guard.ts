import { isLeftover, pauseChange } from './changes.js';
import type {
  Change,
  DeleteChange,
  DeploymentSpec,
  HeldConnector,
  Notice,
  Plan,
  Problem,
  UpdateChange,
} from './types.js';

/** A pass's plan before the guard has its say: its deletes apart from the rest. */
export interface GuardDraft {
  changes: Change[];
  deletes: DeleteChange[];
  problems: Problem[];
  unchanged: string[];
}

/**
 * The mass-delete guard: a pass that would delete more than the limit deletes
 * nothing. What it holds back holds back what depends on it: a renamed
 * connector's new deployment is not created while its old one stays; a
 * deployment that must not run meanwhile (a leftover beside the connector's
 * live deployment, an inactive connector's) is paused instead.
 */
export function guardDeletes(
  draft: GuardDraft,
  limit: number,
  allowMassDelete: boolean,
): Omit<Plan, 'suspended'> {
  const plan = { problems: draft.problems, unchanged: draft.unchanged };
  if (draft.deletes.length <= limit || allowMassDelete) {
    return {
      ...plan,
      changes: [...draft.changes, ...draft.deletes],
      notices: [],
      heldDeletes: null,
    };
  }
  const why = `the mass-delete guard held back all ${draft.deletes.length} deletes of this pass (limit ${limit}); run with --allow-mass-delete if they are intended`;
  const waitingToRecreate = new Set(draft.deletes.filter(isLeftover).map((d) => d.connectorId));
  const recreates = new Map<string, DeploymentSpec>();
  const changes: Change[] = [];
  for (const change of draft.changes) {
    if (change.action === 'create' && waitingToRecreate.has(change.connectorId))
      recreates.set(change.connectorId, change.spec);
    else changes.push(change);
  }
  const pauses = pausesWhileHeld(draft.deletes, recreates);
  const notices: Notice[] = [
    {
      connectorId: null,
      message: `mass-delete guard: this pass would delete ${draft.deletes.length} deployments, more than the limit of ${limit}; nothing was deleted (use --allow-mass-delete if this is intended)`,
    },
  ];
  return {
    ...plan,
    changes: [...changes, ...pauses],
    notices,
    heldDeletes: {
      count: draft.deletes.length,
      limit,
      deletes: draft.deletes,
      connectors: heldConnectors(draft.deletes, recreates, pauses, why),
    },
  };
}

/**
 * The held deletes whose deployment must not go on running: inactive
 * connectors' deployments, and every leftover of a rename but one — the one
 * an active connector waiting for its recreate goes on running on.
 */
function pausesWhileHeld(
  deletes: DeleteChange[],
  recreates: Map<string, DeploymentSpec>,
): UpdateChange[] {
  const runsOn = new Set<string>();
  const pauses: UpdateChange[] = [];
  for (const d of deletes) {
    if (d.connectorId === null || d.deployment.paused) continue;
    const inactive = d.reason === 'inactive' || d.reason === 'inactive, row invalid';
    if (!inactive && !isLeftover(d)) continue; // a deleted row's: left as it is
    const recreate = recreates.get(d.connectorId);
    if (isLeftover(d) && recreate && !recreate.paused && !runsOn.has(d.connectorId)) {
      runsOn.add(d.connectorId);
      continue;
    }
    pauses.push(pauseChange(d.deployment, d.connectorId, d.connectorName, 'delete held back'));
  }
  return pauses;
}

function heldConnectors(
  deletes: DeleteChange[],
  recreates: Map<string, DeploymentSpec>,
  pauses: UpdateChange[],
  why: string,
): HeldConnector[] {
  const paused = new Set(pauses.map((p) => p.deployment.id));
  const byConnector = new Map<string, HeldConnector>();
  for (const d of deletes) {
    if (d.connectorId === null || d.reason === 'orphan') continue;
    const then = paused.has(d.deployment.id) ? '; it is paused until then' : '';
    const line = `deployment "${d.deployment.name}" (${d.reason}) not deleted: ${why}${then}`;
    const held = byConnector.get(d.connectorId);
    if (held) held.message = `${held.message}. ${line}`;
    else
      byConnector.set(d.connectorId, {
        connectorId: d.connectorId,
        connectorName: d.connectorName,
        message: line,
        notCreated: null,
      });
  }
  for (const [connectorId, spec] of recreates) {
    const held = byConnector.get(connectorId);
    if (!held) continue;
    held.message = `${held.message}; "${spec.name}" is created once it is deleted`;
    held.notCreated = spec.name;
  }
  return [...byConnector.values()];
}
