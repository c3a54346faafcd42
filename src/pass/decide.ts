import type { Config } from '../config/schema.js';
import type { ConnectorState } from '../domain/connector-state.js';
import { planPass, type DeleteLimit } from '../domain/plan.js';
import type { Deployment, Notice, Plan, Problem, SourceRow } from '../domain/types.js';
import type { PassOptions } from './context.js';
import { shrinkLimitOf, shrinkOf, sourceRowCount } from '../domain/source-health.js';
import type { Judgement, Waiting } from './judge.js';
import type { Snapshot } from './observe.js';
import { releaseNotices } from '../domain/release-plan.js';

// Step 4 of a pass, decide: pure. The plan — the changes that make Prefect
// match the rows, with the mass-delete guard's holds, the problems and
// notices an operator must be told beside it.

/** The plan of the pass, with what the operator must be told beside it. */
export function decide(
  judgement: Judgement,
  snapshot: Snapshot,
  foreign: Deployment[],
  config: Config,
  options: Pick<PassOptions, 'allowMassDelete' | 'approvedDeletes' | 'dryRun'>,
): Plan {
  const { validated, deferred, waiting } = judgement;
  const problems = [...validated.problems, ...deferred.problems].map((p) =>
    stillRunning(p, judgement.states),
  );
  const plan = planPass({
    specs: judgement.specs,
    leftAlone: judgement.leftAlone,
    suspended: snapshot.suspensions,
    problems,
    stopRuns: inactiveButInvalid(snapshot.source.rows, problems, judgement.waitingIds),
    softDeleted: validated.softDeleted,
    known: new Set(judgement.states.keys()),
    rowAsSynced: rowAsSynced(judgement.states, judgement.hashes),
    managed: judgement.plannable,
    foreign,
    flowId: snapshot.flowId,
    configTags: [...config.deployment.tags, config.ownership.managedTag],
    managedTag: config.ownership.managedTag,
    onInactive: config.deployment.onInactive,
    adopt: config.ownership.adopt,
    deleteLimit: parseDeleteLimit(config.reconcile.maxDeletesPerPass),
    budget: { ...config.reconcile.deleteBudget, used: snapshot.deletesInWindow },
    sourceShrank: sourceShrinkOf(snapshot, config),
    allowMassDelete: options.allowMassDelete,
    approvedDeletes: options.approvedDeletes,
  });
  const notices: Notice[] = waiting.map((w) => ({
    connectorId: w.connectorId,
    message: waitingNotice(w),
  }));
  for (const message of releaseNotices(judgement.releases))
    notices.push({ connectorId: null, message });
  if (options.dryRun && judgement.settlements.length > 0)
    notices.push({
      connectorId: null,
      message: `${judgement.settlements.length} open intents of an earlier pass are old enough to settle: a real pass reads Prefect for each and writes the event of every change that took effect`,
    });
  return { ...plan, notices: [...plan.notices, ...notices] };
}

/**
 * An invalid row leaves its deployment as it was: the connector still runs
 * the spec of its last sync, and the plan says since when.
 */
function stillRunning(problem: Problem, states: Map<string, ConnectorState>): Problem {
  const state = states.get(problem.connectorId);
  if (problem.status !== 'invalid' || !state?.deploymentId || !state.lastSyncedAt) return problem;
  return { ...problem, stillRunningSince: state.lastSyncedAt };
}

/** The source's shrink since the last good pass, when past its limit (a full pass only). */
export function sourceShrinkOf(
  snapshot: Pick<Snapshot, 'source' | 'sourceHealth'>,
  config: Config,
): { from: number; to: number } | null {
  if (!snapshot.sourceHealth) return null;
  const rows = sourceRowCount(snapshot.source.rows);
  return shrinkOf(
    snapshot.sourceHealth.goodRows,
    rows,
    shrinkLimitOf(config.reconcile.sourceShrinkLimit),
  );
}

/** Synced connectors whose row hashes as it did when they were last synced. */
function rowAsSynced(
  states: Map<string, ConnectorState>,
  hashes: Map<string, string>,
): Set<string> {
  const ids = new Set<string>();
  for (const [id, state] of states)
    if (state.status === 'synced' && state.rowHash !== null && state.rowHash === hashes.get(id))
      ids.add(id);
  return ids;
}

/**
 * Connectors left as they are because their row is invalid, whose row is also
 * inactive: deactivating a connector stops its runs whatever else is wrong
 * (id → name). Every row of the id must say inactive (a view may repeat an
 * id); one whose earlier call may still land waits all the same.
 */
function inactiveButInvalid(
  rows: SourceRow[],
  problems: Problem[],
  waiting: Set<string>,
): Map<string, string | null> {
  const invalid = new Set(problems.filter((p) => p.status === 'invalid').map((p) => p.connectorId));
  const active = new Set(rows.filter((r) => r.isActive !== false || r.deleted).map((r) => r.id));
  const stop = new Map<string, string | null>();
  for (const row of rows) {
    if (!invalid.has(row.id) || active.has(row.id) || waiting.has(row.id)) continue;
    stop.set(row.id, typeof row.name === 'string' ? row.name : null);
  }
  return stop;
}

function waitingNotice(w: Waiting): string {
  const who =
    w.connectorId !== null
      ? `connector ${w.connectorId}`
      : `deployment ${w.deploymentId ?? '?'} (no connector)`;
  return `${who} left as it is: ${w.message}`;
}

export function parseDeleteLimit(value: number | string): DeleteLimit {
  return typeof value === 'number' ? { count: value } : { percent: Number(value.replace('%', '')) };
}
