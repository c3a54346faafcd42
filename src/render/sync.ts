import type { Masker } from '../domain/mask.js';
import { reportOf } from './run.js';
import type { SyncOutcome } from '../domain/sync-request.js';
import type { Change } from '../domain/types.js';
import type { PassResult } from '../pass/result.js';

// What `sync` / `retry` print for one request and exit with: the part of a
// pass that concerns the request's connectors (the leader may have served
// several requests in one pass). Pure.

/** The pass as it concerns `ids`: their changes, problems and waits; the pass's own totals. */
export function resultFor(result: PassResult, ids: readonly string[]): PassResult {
  const mine = new Set(ids);
  const has = (id: string | null): boolean => id !== null && mine.has(id);
  const { plan } = result;
  const held = plan.heldDeletes;
  return {
    ...result,
    plan: {
      changes: plan.changes.filter((c) => has(c.connectorId)),
      problems: plan.problems.filter((p) => has(p.connectorId)),
      notices: plan.notices.filter((n) => has(n.connectorId)),
      unchanged: plan.unchanged.filter(has),
      suspended: plan.suspended.filter((s) => has(s.connectorId)),
      heldDeletes: held?.connectors.some((c) => has(c.connectorId)) ? held : null,
    },
    applied: result.applied.filter((a) => has(a.change.connectorId)),
    failures: result.failures.filter((f) => has(f.connectorId)),
    waiting: result.waiting.filter((w) => has(w.connectorId)),
  };
}

/** The request's report, as `run --once` would print it, and its exit code. */
export function syncOutcomeOf(
  result: PassResult,
  ids: readonly string[],
  masker: Masker,
): SyncOutcome {
  const report = reportOf(resultFor(result, ids), masker);
  return { ...report, json: { connectors: [...ids], ...report.json } };
}

/** A request whose pass failed as a whole: the error's one line and its exit code. */
export function failedSyncOutcome(message: string, exitCode: number): SyncOutcome {
  return {
    exitCode,
    text: `The pass failed: ${message}`,
    json: { error: message },
  };
}

/**
 * The pass as it concerns the approved deletes (deployment ids): those it
 * made, those that failed; the pass's own totals.
 */
export function resultForDeletes(result: PassResult, deploymentIds: readonly string[]): PassResult {
  const approved = new Set(deploymentIds);
  const mine = (c: Change): boolean => c.action === 'delete' && approved.has(c.deployment.id);
  const connectors = new Set(
    result.plan.changes
      .filter(mine)
      .flatMap((c) => (c.connectorId === null ? [] : [c.connectorId])),
  );
  return {
    ...result,
    plan: {
      changes: result.plan.changes.filter(mine),
      problems: [],
      notices: [],
      unchanged: [],
      suspended: [],
      heldDeletes: null,
    },
    applied: result.applied.filter((a) => mine(a.change)),
    failures: result.failures.filter((f) => connectors.has(f.connectorId)),
    waiting: [],
  };
}

/** An approval's report (the deletes it made) and its exit code. */
export function approvalOutcomeOf(
  result: PassResult,
  deploymentIds: readonly string[],
  masker: Masker,
): SyncOutcome {
  const report = reportOf(resultForDeletes(result, deploymentIds), masker);
  return { ...report, json: { approved_deletes: [...deploymentIds], ...report.json } };
}
