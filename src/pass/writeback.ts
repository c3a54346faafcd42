import { changesConnectorState } from '../domain/changes.js';
import type { Deployment, Plan, SourceSnapshot, Applied } from '../domain/types.js';
import { deploymentName } from '../domain/validate.js';
import type { PassDeps } from './context.js';

export interface WriteBackInput {
  source: SourceSnapshot;
  plan: Plan;
  applied: Applied[];
  managed: Deployment[];
  flowId: string | null;
  nameTemplate: string;
}

/** Keeps <source>.prefect_deployment_id equal to the connector's deployment. */
export async function writeBack(deps: PassDeps, input: WriteBackInput): Promise<void> {
  if (!deps.config.source.writeBackDeploymentId || !input.source.hasDeploymentIdColumn) return;
  for (const [id, deploymentId] of deploymentIdsToWrite(input)) {
    try {
      await deps.store.writeBackDeploymentId(id, deploymentId);
    } catch (error) {
      deps.logger.warn({ connector: id, err: error }, 'could not write back prefect_deployment_id');
      return; // a read-only view: say it once per pass, not once per row
    }
  }
}

/** Connector id → the deployment id its row should hold, where the row holds another. Pure. */
export function deploymentIdsToWrite(input: WriteBackInput): Map<string, string | null> {
  const wanted = new Map<string, string | null>();
  const ours = new Map(
    input.managed.filter((d) => d.flow_id === input.flowId).map((d) => [d.name, d.id]),
  );
  const unchanged = new Set(input.plan.unchanged);
  for (const row of input.source.rows) {
    if (unchanged.has(row.id))
      wanted.set(row.id, ours.get(deploymentName(input.nameTemplate, row.id)) ?? null);
  }
  const current = new Map(input.source.rows.map((r) => [r.id, r.prefectDeploymentId]));
  // A deleted deployment's id goes, whatever the reason; a connector's new one (a
  // recreate's create comes after its delete) takes its place.
  for (const { change } of input.applied) {
    if (change.action !== 'delete' || change.connectorId === null) continue;
    if (changesConnectorState(change) || current.get(change.connectorId) === change.deployment.id)
      wanted.set(change.connectorId, null);
  }
  for (const { change, result } of input.applied) {
    if (change.action === 'delete' || !changesConnectorState(change) || !result) continue;
    wanted.set(change.connectorId, result.id);
  }
  return new Map(
    [...wanted].filter(([id, deploymentId]) => current.has(id) && current.get(id) !== deploymentId),
  );
}
