import { diffDeployment, updateAction } from './diff.js';
import type { Change, Deployment, FieldChanges } from './types.js';

// An intent is recorded before a Prefect call and confirmed after it. One left
// open by a crash or an unknown outcome (timeout) is settled here by reading
// what Prefect now holds: an event is written only for what took effect.

export type Settlement =
  | { outcome: 'took-effect'; change: Change; result: Deployment | null }
  | { outcome: 'did-not-take-effect' };

export interface PrefectView {
  byId: Map<string, Deployment>;
  /** key: `${flow_id}/${name}` */
  byFlowAndName: Map<string, Deployment>;
}

export function viewOf(deployments: Deployment[]): PrefectView {
  return {
    byId: new Map(deployments.map((d) => [d.id, d])),
    byFlowAndName: new Map(deployments.map((d) => [`${d.flow_id}/${d.name}`, d])),
  };
}

export function settleIntent(
  change: Change,
  flowId: string | null,
  prefect: PrefectView,
): Settlement {
  switch (change.action) {
    case 'create': {
      const found =
        flowId === null ? undefined : prefect.byFlowAndName.get(`${flowId}/${change.spec.name}`);
      return found
        ? { outcome: 'took-effect', change, result: found }
        : { outcome: 'did-not-take-effect' };
    }
    case 'delete':
      return prefect.byId.has(change.deployment.id)
        ? { outcome: 'did-not-take-effect' }
        : { outcome: 'took-effect', change, result: null };
    case 'update':
    case 'pause':
    case 'resume': {
      const found = prefect.byId.get(change.deployment.id);
      if (!found) return { outcome: 'did-not-take-effect' };
      const remaining = diffDeployment(change.spec, found);
      const applied: FieldChanges = {};
      for (const [field, values] of Object.entries(change.fields) as [
        keyof FieldChanges,
        { from: unknown; to: unknown },
      ][]) {
        if (!(field in remaining)) applied[field] = values;
      }
      if (Object.keys(applied).length === 0) return { outcome: 'did-not-take-effect' };
      return {
        outcome: 'took-effect',
        change: { ...change, action: updateAction(applied), fields: applied },
        result: found,
      };
    }
  }
}
