import { diffDeployment, updateAction } from './diff.js';
import type {
  Change,
  DeleteChange,
  DeleteReason,
  Deployment,
  DeploymentSpec,
  HeldConnector,
  Notice,
  PauseReason,
  Plan,
  Problem,
  UpdateChange,
} from './types.js';

export type DeleteLimit = { percent: number } | { count: number };

export interface PlanInput {
  /** Desired deployments of live, valid connectors (inactive ones included). */
  specs: DeploymentSpec[];
  /** Connectors that must not be touched this pass (invalid, backing off): their deployments stay. */
  untouchable: Set<string>;
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

/** What one pass builds up before the mass-delete guard has its say. */
interface Draft {
  changes: Change[];
  deletes: DeleteChange[];
  problems: Problem[];
  unchanged: string[];
  /** Deployments a connector keeps (its own, or left alone): never deleted as leftovers. */
  claimed: Set<string>;
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
  const draft: Draft = {
    changes: [],
    deletes: [],
    problems: [...input.problems],
    unchanged: [],
    claimed: new Set(),
  };
  const ours = new Map(
    input.managed.filter((d) => d.flow_id === input.flowId).map((d) => [d.name, d]),
  );
  const foreign = new Map(input.foreign.map((d) => [d.name, d]));
  for (const spec of input.specs) planSpec(spec, input, ours, foreign, draft);
  planStoppedRuns(input, draft);
  planLeftovers(input, draft);
  return guardDeletes(input, draft);
}

function planSpec(
  spec: DeploymentSpec,
  input: PlanInput,
  ours: Map<string, Deployment>,
  foreign: Map<string, Deployment>,
  draft: Draft,
): void {
  if (input.untouchable.has(spec.connectorId)) {
    const existing = ours.get(spec.name);
    if (existing) draft.claimed.add(existing.id);
    return;
  }
  let actual = ours.get(spec.name);
  if (!actual) {
    const stranger = foreign.get(spec.name);
    if (stranger && !input.adopt) {
      draft.problems.push({
        connectorId: spec.connectorId,
        connectorName: spec.connectorName,
        status: 'conflict',
        message: `deployment "${spec.name}" already exists without the managed tag; remove it, rename it or set ownership.adopt`,
        retryable: false,
      });
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
    });
}

/** An invalid row that is inactive: its runs stop whatever else is wrong with it. */
function planStoppedRuns(input: PlanInput, draft: Draft): void {
  for (const deployment of input.managed) {
    const connectorId = connectorIdOf(deployment, input.configTags);
    if (connectorId === null || !input.stopRuns.has(connectorId)) continue;
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
  const keep = new Set([...input.untouchable, ...input.problems.map((p) => p.connectorId)]);
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

/**
 * The mass-delete guard: a pass that would delete more than the limit deletes
 * nothing. What it holds back holds back what depends on it: a renamed
 * connector's new deployment is not created while its old one stays; a
 * deployment that must not run meanwhile (a leftover beside the connector's
 * live deployment, an inactive connector's) is paused instead.
 */
function guardDeletes(input: PlanInput, draft: Draft): Plan {
  const limit = deleteLimit(input.deleteLimit, input.managed.length);
  const plan = { problems: draft.problems, unchanged: draft.unchanged };
  if (draft.deletes.length <= limit || input.allowMassDelete) {
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

function deleteChange(
  deployment: Deployment,
  connectorId: string | null,
  connectorName: string | null,
  reason: DeleteReason,
): DeleteChange {
  return { action: 'delete', connectorId, connectorName, deployment, reason };
}

function pauseChange(
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

/** maxDeletesPerPass: a share of the managed deployments listed this pass, never fewer than 10. */
export function deleteLimit(limit: DeleteLimit, managedCount: number): number {
  const raw = 'percent' in limit ? Math.floor((limit.percent / 100) * managedCount) : limit.count;
  return Math.max(10, raw);
}
