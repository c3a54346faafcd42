import { diffDeployment, updateAction } from './diff.js';
import type {
  Change,
  DeleteReason,
  Deployment,
  DeploymentSpec,
  Notice,
  Plan,
  Problem,
} from './types.js';

export type DeleteLimit = { percent: number } | { count: number };

export interface PlanInput {
  /** Desired deployments of live, valid connectors (inactive ones included). */
  specs: DeploymentSpec[];
  /** Connectors that must not be touched this pass (invalid, backing off): their deployments stay. */
  untouchable: Set<string>;
  problems: Problem[];
  /** Soft-deleted rows: id → name. */
  softDeleted: Map<string, string | null>;
  /** Connector ids the worker has seen before (to tell a deleted row from a stranger's orphan). */
  known: Set<string>;
  /** Every deployment carrying the managed tag. */
  managed: Deployment[];
  /** Deployments of our flow with a wanted name but without the managed tag. */
  foreign: Deployment[];
  flowId: string | null;
  /** Tags that are never a connector's tag: deployment.tags and the managed tag. */
  configTags: string[];
  onInactive: 'pause' | 'delete';
  adopt: boolean;
  deleteLimit: DeleteLimit;
  allowMassDelete: boolean;
}

/** Names of specs with no managed deployment of our flow: candidates for a conflict lookup. */
export function unmatchedNames(
  specs: DeploymentSpec[],
  managed: Deployment[],
  flowId: string | null,
): string[] {
  const have = new Set(managed.filter((d) => d.flow_id === flowId).map((d) => d.name));
  return specs.filter((s) => !have.has(s.name)).map((s) => s.name);
}

/** The connector a managed deployment belongs to, read from its `connector-<id>` tag. */
export function connectorIdOf(deployment: Deployment, configTags: string[]): string | null {
  const tag = deployment.tags.find((t) => t.startsWith('connector-') && !configTags.includes(t));
  return tag === undefined ? null : tag.slice('connector-'.length);
}

/** Desired × actual → the changes and problems of one pass (SPEC §5, §6). Pure. */
export function planPass(input: PlanInput): Plan {
  const ours = new Map(
    input.managed.filter((d) => d.flow_id === input.flowId).map((d) => [d.name, d]),
  );
  const foreign = new Map(input.foreign.map((d) => [d.name, d]));
  const claimed = new Set<string>();
  const changes: Change[] = [];
  const deletes: Change[] = [];
  const problems: Problem[] = [...input.problems];
  const notices: Notice[] = [];
  const unchanged: string[] = [];
  const specIds = new Set(input.specs.map((s) => s.connectorId));
  const specNames = new Map(input.specs.map((s) => [s.connectorId, s.connectorName]));

  for (const spec of input.specs) {
    if (input.untouchable.has(spec.connectorId)) {
      const existing = ours.get(spec.name);
      if (existing) claimed.add(existing.id);
      continue;
    }
    let actual = ours.get(spec.name);
    if (!actual) {
      const stranger = foreign.get(spec.name);
      if (stranger && !input.adopt) {
        problems.push({
          connectorId: spec.connectorId,
          connectorName: spec.connectorName,
          status: 'conflict',
          message: `deployment "${spec.name}" already exists without the managed tag; remove it, rename it or set ownership.adopt`,
          retryable: false,
        });
        continue;
      }
      actual = stranger;
    }
    if (actual) claimed.add(actual.id);

    const wantsDeployment = !(input.onInactive === 'delete' && spec.paused);
    if (!wantsDeployment) {
      if (actual) {
        deletes.push(deleteChange(actual, spec.connectorId, spec.connectorName, 'inactive'));
      } else unchanged.push(spec.connectorId);
      continue;
    }
    if (!actual) {
      changes.push({ action: 'create', connectorId: spec.connectorId, spec });
      continue;
    }
    const fields = diffDeployment(spec, actual);
    if (Object.keys(fields).length === 0) unchanged.push(spec.connectorId);
    else
      changes.push({
        action: updateAction(fields),
        connectorId: spec.connectorId,
        spec,
        deployment: actual,
        fields,
      });
  }

  // A connector with a problem (say, a typo in its cron) keeps its deployment as it is.
  const keep = new Set([...input.untouchable, ...input.problems.map((p) => p.connectorId)]);
  for (const deployment of input.managed) {
    if (claimed.has(deployment.id)) continue;
    const connectorId = connectorIdOf(deployment, input.configTags);
    if (connectorId !== null && keep.has(connectorId)) continue;
    const reason = deleteReason(deployment, connectorId, input, specIds);
    const name =
      connectorId === null
        ? null
        : (specNames.get(connectorId) ?? input.softDeleted.get(connectorId) ?? null);
    deletes.push(deleteChange(deployment, connectorId, name, reason));
  }

  const limit = deleteLimit(input.deleteLimit, input.managed.length);
  let heldDeletes: Plan['heldDeletes'] = null;
  if (deletes.length > limit && !input.allowMassDelete) {
    heldDeletes = { count: deletes.length, limit, deletes };
    notices.push({
      connectorId: null,
      message: `mass-delete guard: this pass would delete ${deletes.length} deployments, more than the limit of ${limit}; nothing was deleted (use --allow-mass-delete if this is intended)`,
    });
  } else changes.push(...deletes);

  return { changes, problems, notices, unchanged, heldDeletes };
}

function deleteReason(
  deployment: Deployment,
  connectorId: string | null,
  input: PlanInput,
  specIds: Set<string>,
): DeleteReason {
  if (connectorId === null) return 'orphan';
  if (input.softDeleted.has(connectorId)) return 'soft-deleted';
  if (specIds.has(connectorId)) {
    return deployment.flow_id === input.flowId ? 'renamed' : 'moved to another flow';
  }
  return input.known.has(connectorId) ? 'row deleted' : 'orphan';
}

function deleteChange(
  deployment: Deployment,
  connectorId: string | null,
  connectorName: string | null,
  reason: DeleteReason,
): Change {
  return { action: 'delete', connectorId, connectorName, deployment, reason };
}

/** maxDeletesPerPass: a share of the managed deployments listed this pass, never fewer than 10. */
export function deleteLimit(limit: DeleteLimit, managedCount: number): number {
  const raw = 'percent' in limit ? Math.floor((limit.percent / 100) * managedCount) : limit.count;
  return Math.max(10, raw);
}
