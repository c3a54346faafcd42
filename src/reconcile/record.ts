import { backoffSeconds } from '../core/backoff.js';
import { failedEvent, type EventRow } from '../core/events.js';
import { changesConnectorState, connectorIdOf } from '../core/plan.js';
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
  const forced = new Set<string>();
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
      deps.logger.warn(
        { connector: problem.connectorId, status: problem.status, problem: problem.message },
        `connector ${problem.connectorId} is ${problem.status}`,
      );
      events.push({ ...failedEvent(problem), id: deps.newId(), occurred: now, pass_id: passId });
    }
  }
  // A confirmed change wrote its connector's state with its event.
  const confirmed = new Set<string>();
  for (const { change } of applied) {
    if (change.connectorId === null) continue;
    if (changesConnectorState(change)) {
      next.delete(change.connectorId);
      confirmed.add(change.connectorId);
    } else if (change.action === 'delete') {
      // An invalid row's deployment deleted (onInactive: delete): its problem stands, the deployment is gone.
      const judged = next.get(change.connectorId);
      if (judged?.deploymentId === change.deployment.id)
        next.set(change.connectorId, { ...judged, deploymentId: null, deploymentName: null });
    }
  }
  const problemIds = new Set([...plan.problems, ...failures].map((p) => p.connectorId));
  for (const held of plan.heldDeletes?.connectors ?? []) {
    // A row problem is what to fix first; it stands.
    if (problemIds.has(held.connectorId)) continue;
    next.set(
      held.connectorId,
      withStatus(states.get(held.connectorId), held.connectorId, 'held', {
        lastError: held.message,
      }),
    );
    // Its confirmed change wrote `synced` meanwhile: held must be written over it.
    if (confirmed.has(held.connectorId)) forced.add(held.connectorId);
  }
  for (const [id, message] of waiting) {
    const judged = next.get(id);
    // A row problem found meanwhile (a typo in its cron) stands; it touches no deployment.
    if (judged && judged.status !== 'synced' && judged.status !== 'deleted') continue;
    next.set(id, withStatus(states.get(id), id, 'pending', { lastError: message }));
  }
  const changed = [...next.values()].filter(
    (s) => forced.has(s.connectorId) || stateChanged(states.get(s.connectorId), s),
  );
  await appendEvents(deps.pool, deps.config.database.schema, events, changed);
  return events.length;
}
