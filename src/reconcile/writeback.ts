import type { Deployment, Plan, SourceRow } from '../core/types.js';
import { deploymentName } from '../core/validate.js';
import { writeBackDeploymentId, type SourceSnapshot } from '../db/source.js';
import { changesConnectorState } from '../core/plan.js';
import type { Applied } from './apply.js';
import type { PassDeps } from './context.js';

/** Keeps <source>.prefect_deployment_id equal to the connector's deployment. */
export async function writeBack(
  deps: PassDeps,
  source: SourceSnapshot,
  plan: Plan,
  applied: Applied[],
  managed: Deployment[],
  flowId: string | null,
): Promise<void> {
  const { config } = deps;
  if (!config.source.writeBackDeploymentId || !source.hasDeploymentIdColumn) return;
  const wanted = new Map<string, string | null>();
  const ours = new Map(managed.filter((d) => d.flow_id === flowId).map((d) => [d.name, d.id]));
  const unchanged = new Set(plan.unchanged);
  for (const row of source.rows) {
    if (!unchanged.has(row.id)) continue;
    const name = deploymentName(config.deployment.nameTemplate, row.id);
    wanted.set(row.id, ours.get(name) ?? null);
  }
  const current = new Map<string, string | null>(
    source.rows.map((r: SourceRow) => [r.id, r.prefectDeploymentId]),
  );
  // A deleted deployment's id goes, whatever the reason; a connector's new one (a
  // recreate's create comes after its delete) takes its place.
  for (const { change } of applied) {
    if (change.action !== 'delete' || change.connectorId === null) continue;
    if (changesConnectorState(change) || current.get(change.connectorId) === change.deployment.id)
      wanted.set(change.connectorId, null);
  }
  for (const { change, result } of applied) {
    if (change.action === 'delete' || !changesConnectorState(change) || !result) continue;
    wanted.set(change.connectorId, result.id);
  }
  for (const [id, deploymentId] of wanted) {
    if (!current.has(id) || current.get(id) === deploymentId) continue;
    try {
      await writeBackDeploymentId(deps.pool, config.source.table, id, deploymentId);
    } catch (error) {
      deps.logger.warn(
        { connector: id, err: error instanceof Error ? error.message : String(error) },
        'could not write back prefect_deployment_id',
      );
      return; // a read-only view: say it once per pass, not once per row
    }
  }
}
