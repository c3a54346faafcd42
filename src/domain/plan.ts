import { deleteChange, pauseChange } from './changes.js';
import { diffDeployment, updateAction } from './diff.js';
import { guardDeletes, type DeleteRules, type GuardDraft } from './guard.js';
import { connectorIdOfTags } from './vocabulary.js';
import { installationOfTags } from './ownership.js';
import type {
  DeleteReason,
  Deployment,
  DeploymentSpec,
  Plan,
  Problem,
  SuspendedConnector,
  Suspension,
} from './types.js';

export type DeleteLimit = { percent: number } | { count: number };

export interface PlanInput {
  /** Desired deployments of live, valid connectors (inactive ones included). */
  specs: DeploymentSpec[];
  /** Connectors that must not be touched this pass (invalid, backing off): their deployments stay. */
  leftAlone: Set<string>;
  /**
   * Connectors an operator suspended (id → who, why, since): their deployments
   * stay exactly as they are — none created, updated, paused, resumed or
   * deleted, not even when the row is gone or inactive — and their problems
   * are not this pass's to report.
   */
  suspended: Map<string, Suspension>;
  problems: Problem[];
  /**
   * Connectors left as they are because their row is invalid, whose row is
   * also inactive (id → name): their runs stop all the same — their
   * deployments are paused (or deleted, with onInactive: delete).
   */
  stopRuns: Map<string, string | null>;
  /** Soft-deleted rows: id → name. */
  softDeleted: Map<string, string | null>;
  /** Connector ids the worker has seen before (to tell a deleted row from a stranger's orphan). */
  known: Set<string>;
  /**
   * Connectors whose row is the one their deployment was last synced from:
   * a difference on their deployment with the same version is an edit made
   * in Prefect (a drift), not a row change such as a deactivation.
   */
  rowAsSynced: Set<string>;
  /** This installation's managed deployments. */
  managed: Deployment[];
  /** Deployments of our flow with a wanted name that are not ours (no managed tag, or another installation's). */
  foreign: Deployment[];
  flowId: string | null;
  /** Tags that are never a connector's tag: deployment.tags and the managed tag. */
  configTags: string[];
  /** A stranger carrying it belongs to another installation: a conflict, never adopted. */
  managedTag: string;
  onInactive: 'pause' | 'delete';
  adopt: boolean;
  deleteLimit: DeleteLimit;
  /** The sliding window's delete budget, and how much of it is spent. */
  budget: DeleteRules['budget'];
  /** Set when a full pass read far fewer rows than the last good one. */
  sourceShrank: DeleteRules['sourceShrank'];
  allowMassDelete: boolean;
  /** Deployments (by id) whose delete an operator approved (`approve-deletes`): they go whatever the guards say. */
  approvedDeletes?: ReadonlySet<string> | undefined;
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
  return connectorIdOfTags(deployment.tags, configTags);
}

/** What one pass builds up before the mass-delete guard has its say. */
interface Draft extends GuardDraft {
  /** Deployments a connector keeps (its own, or left alone): never deleted as leftovers. */
  claimed: Set<string>;
}

/**
 * Suspended connectors and the managed deployments they keep: every one
 * tagged with their id (whatever its name or flow, so a rename's leftover
 * stays too), listed or not by a spec. Pure.
 */
export function suspendedOf(
  suspended: Map<string, Suspension>,
  managed: Deployment[],
  configTags: string[],
): { connectors: SuspendedConnector[]; kept: Set<string> } {
  const names = new Map<string, string>();
  const kept = new Set<string>();
  for (const deployment of managed) {
    const connectorId = connectorIdOf(deployment, configTags);
    if (connectorId === null || !suspended.has(connectorId)) continue;
    kept.add(deployment.id);
    if (!names.has(connectorId)) names.set(connectorId, deployment.name);
  }
  const connectors = [...suspended]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([connectorId, s]) => ({
      connectorId,
      ...s,
      deploymentName: names.get(connectorId) ?? null,
    }));
  return { connectors, kept };
}

/**
 * Desired × actual → the changes and problems of one pass. Pure.
 *
 * A connector whose deployment must be recreated (renamed, or moved to
 * another flow) is one unit: the old deployment is deleted before the new one
 * is created (the apply step runs a connector's changes in that order, and
 * stops at the first that fails), and when the guard holds that delete back
 * the create is held back too. So no pass ever leaves a connector with two
 * deployments that run.
 */
export function planPass(input: PlanInput): Plan {
  const suspended = suspendedOf(input.suspended, input.managed, input.configTags);
  const draft: Draft = {
    changes: [],
    deletes: [],
    problems: input.problems.filter((p) => !input.suspended.has(p.connectorId)),
    unchanged: [],
    claimed: suspended.kept,
  };
  const ours = new Map(
    input.managed.filter((d) => d.flow_id === input.flowId).map((d) => [d.name, d]),
  );
  const foreign = new Map(input.foreign.map((d) => [d.name, d]));
  for (const spec of input.specs)
    if (!input.suspended.has(spec.connectorId)) planSpec(spec, input, ours, foreign, draft);
  const held = heldBySuspension(input, ours, foreign);
  planStoppedRuns(input, draft);
  planLeftovers(input, draft);
  const plan = guardDeletes(draft, {
    perPass: deleteLimit(input.deleteLimit, input.managed.length),
    budget: input.budget,
    sourceShrank: input.sourceShrank,
    approved: input.allowMassDelete ? 'all' : (input.approvedDeletes ?? new Set()),
  });
  return {
    ...plan,
    suspended: suspended.connectors.map((s) =>
      held.has(s.connectorId) ? { ...s, wouldChange: true } : s,
    ),
  };
}

/**
 * Suspended connectors whose deployment differs from their row: what a pass
 * would change were they not suspended, planned on a scratch draft and
 * dropped. `plan` says so (and exits 3 when nothing else is pending).
 */
function heldBySuspension(
  input: PlanInput,
  ours: Map<string, Deployment>,
  foreign: Map<string, Deployment>,
): Set<string> {
  const scratch: Draft = {
    changes: [],
    deletes: [],
    problems: [],
    unchanged: [],
    claimed: new Set(),
  };
  for (const spec of input.specs)
    if (input.suspended.has(spec.connectorId)) planSpec(spec, input, ours, foreign, scratch);
  return new Set(
    [...scratch.changes, ...scratch.deletes].flatMap((c) =>
      c.connectorId === null ? [] : [c.connectorId],
    ),
  );
}

function planSpec(
  spec: DeploymentSpec,
  input: PlanInput,
  ours: Map<string, Deployment>,
  foreign: Map<string, Deployment>,
  draft: Draft,
): void {
  if (input.leftAlone.has(spec.connectorId)) {
    const existing = ours.get(spec.name);
    if (existing) draft.claimed.add(existing.id);
    return;
  }
  let actual = ours.get(spec.name);
  if (!actual) {
    const stranger = foreign.get(spec.name);
    const conflict = stranger ? strangerConflict(spec, stranger, input) : null;
    if (conflict) {
      draft.problems.push(conflict);
      return;
    }
    actual = stranger;
  }
  if (actual) draft.claimed.add(actual.id);

  const wantsDeployment = !(input.onInactive === 'delete' && spec.paused);
  if (!wantsDeployment) {
    if (actual)
      draft.deletes.push(deleteChange(actual, spec.connectorId, spec.connectorName, 'inactive'));
    else draft.unchanged.push(spec.connectorId);
    return;
  }
  if (!actual) {
    draft.changes.push({ action: 'create', connectorId: spec.connectorId, spec });
    return;
  }
  const fields = diffDeployment(spec, actual);
  if (Object.keys(fields).length === 0) draft.unchanged.push(spec.connectorId);
  else
    draft.changes.push({
      action: updateAction(fields),
      connectorId: spec.connectorId,
      connectorName: spec.connectorName,
      deployment: actual,
      fields,
      // The version hashes the desired spec (all but `paused`), the row is as
      // last synced: nothing of ours changed, so someone edited Prefect.
      ...(actual.version === spec.version && input.rowAsSynced.has(spec.connectorId)
        ? { cause: 'drift' as const }
        : {}),
    });
}

/**
 * A same-named deployment that is not ours: a conflict — always when it is
 * another installation's, unless adopted when it is nobody's; null to adopt it.
 */
function strangerConflict(
  spec: DeploymentSpec,
  stranger: Deployment,
  input: PlanInput,
): Problem | null {
  const theirs = stranger.tags.includes(input.managedTag)
    ? installationOfTags(stranger.tags)
    : null;
  if (theirs === null && input.adopt) return null;
  return {
    connectorId: spec.connectorId,
    connectorName: spec.connectorName,
    status: 'conflict',
    message:
      theirs === null
        ? `deployment "${spec.name}" already exists without the managed tag; remove it, rename it or set ownership.adopt`
        : `deployment "${spec.name}" belongs to connector-sync installation "${theirs}"; give this installation a deployment.nameTemplate or flow of its own`,
    retryable: false,
  };
}

/** An invalid row that is inactive: its runs stop whatever else is wrong with it. */
function planStoppedRuns(input: PlanInput, draft: Draft): void {
  for (const deployment of input.managed) {
    const connectorId = connectorIdOf(deployment, input.configTags);
    if (connectorId === null || !input.stopRuns.has(connectorId)) continue;
    if (input.suspended.has(connectorId)) continue;
    draft.claimed.add(deployment.id);
    const name = input.stopRuns.get(connectorId) ?? null;
    if (input.onInactive === 'delete')
      draft.deletes.push(deleteChange(deployment, connectorId, name, 'inactive, row invalid'));
    else if (!deployment.paused)
      draft.changes.push(pauseChange(deployment, connectorId, name, 'row invalid'));
  }
}

/** Managed deployments no connector keeps: deleted (orphans, deleted rows, leftovers of a rename). */
function planLeftovers(input: PlanInput, draft: Draft): void {
  // A connector with a problem (say, a typo in its cron) keeps its deployment as it is.
  const keep = new Set([...input.leftAlone, ...input.problems.map((p) => p.connectorId)]);
  const specIds = new Set(input.specs.map((s) => s.connectorId));
  const specNames = new Map(input.specs.map((s) => [s.connectorId, s.connectorName]));
  for (const deployment of input.managed) {
    if (draft.claimed.has(deployment.id)) continue;
    const connectorId = connectorIdOf(deployment, input.configTags);
    if (connectorId !== null && keep.has(connectorId)) continue;
    const reason = deleteReason(deployment, connectorId, input, specIds);
    const name =
      connectorId === null
        ? null
        : (specNames.get(connectorId) ?? input.softDeleted.get(connectorId) ?? null);
    draft.deletes.push(deleteChange(deployment, connectorId, name, reason));
  }
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

/** maxDeletesPerPass: a share of the managed deployments listed this pass, never fewer than 10. */
export function deleteLimit(limit: DeleteLimit, managedCount: number): number {
  const raw = 'percent' in limit ? Math.floor((limit.percent / 100) * managedCount) : limit.count;
  return Math.max(10, raw);
}
