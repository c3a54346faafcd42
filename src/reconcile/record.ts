import { backoffSeconds } from '../core/backoff.js';
import { failedEvent, type EventRow } from '../core/events.js';
import { connectorIdOf } from '../core/plan.js';
import type { Deployment, Plan, Problem } from '../core/types.js';
import { appendEvents } from '../db/eventlog.js';
import type { ConnectorState } from '../db/state.js';
import type { Applied } from './apply.js';
import type { PassDeps } from './context.js';
import {
  goneConnectors,
  isNewProblem,
  problemState,
  stateChanged,
  synced,
  withStatus,
} from './states.js';

/** Writes the state of every connector the pass judged, and one failure event per new problem. */
export async function recordStates(
  deps: PassDeps,
  passId: string,
  plan: Plan,
  applied: Applied[],
  failures: Problem[],
  states: Map<string, ConnectorState>,
  hashes: Map<string, string>,
  /** Rows that are not soft-deleted. */
  liveRows: Set<string>,
  managed: Deployment[],
  scope: Set<string> | null,
  /** Connectors held back this pass (backing off, invalid until changed): their state stands. */
  heldBack: Set<string>,
  /** Connectors whose earlier call may still land (connector id → why): pending until settled. */
  waiting: Map<string, string> = new Map(),
): Promise<number> {
  const now = deps.now();
  const next = new Map<string, ConnectorState>();
  const events: EventRow[] = [];
  const byConnector = new Map<string, Deployment>();
  for (const d of managed) {
    const id = connectorIdOf(d, [...deps.config.deployment.tags, deps.config.ownership.managedTag]);
    if (id !== null) byConnector.set(id, d);
  }
  for (const id of plan.unchanged) {
    const deployment = byConnector.get(id) ?? null;
    next.set(id, synced(states.get(id), id, deployment, now));
  }
  for (const id of goneConnectors(states, liveRows, new Set(byConnector.keys()), scope))
    next.set(id, synced(states.get(id), id, null, now));
  for (const problem of [...plan.problems, ...failures]) {
    if (heldBack.has(problem.connectorId)) continue;
    const previous = states.get(problem.connectorId);
    const state = problemState(previous, problem, hashes.get(problem.connectorId) ?? null);
    if (problem.status === 'failed') {
      // Backoff for the long-running worker; a one-shot run tries every connector anyway.
      const delay = backoffSeconds(state.attempts, deps.config.reconcile.backoff, Math.random());
      state.nextAttemptAt = new Date(now.getTime() + delay * 1000);
    }
    next.set(problem.connectorId, state);
    if (isNewProblem(previous, problem)) {
      events.push({ ...failedEvent(problem), id: deps.newId(), occurred: now, pass_id: passId });
    }
  }
  for (const { change } of applied) if (change.connectorId) next.delete(change.connectorId);
  for (const [id, message] of waiting) {
    const judged = next.get(id);
    // A row problem found meanwhile (a typo in its cron) stands; it touches no deployment.
    if (judged && judged.status !== 'synced' && judged.status !== 'deleted') continue;
    next.set(id, withStatus(states.get(id), id, 'pending', { lastError: message }));
  }
  const changed = [...next.values()].filter((s) => stateChanged(states.get(s.connectorId), s));
  await appendEvents(deps.pool, deps.config.database.schema, events, changed);
  return events.length;
}
