import { backoffSeconds } from './backoff.js';
import { changesConnectorState } from './changes.js';
import { connectorIdOf } from './plan.js';
import type { Deployment, HeldConnector, Plan, Problem, Applied } from './types.js';
import {
  goneConnectors,
  isNewProblem,
  problemState,
  stateChanged,
  synced,
  withStatus,
  type ConnectorState,
} from './connector-state.js';

// What a pass leaves each connector's state at, decided from what it planned
// and what it applied. Pure: pass/record-states.ts writes it.

export interface AfterPassInput {
  plan: Plan;
  applied: Applied[];
  /** Problems found while applying (Prefect refused or failed). */
  failures: Problem[];
  /** States at the start of the apply step (the settled intents' changes included). */
  states: Map<string, ConnectorState>;
  hashes: Map<string, string>;
  /** Rows that are not soft-deleted. */
  liveRows: Set<string>;
  managed: Deployment[];
  /** A targeted pass judges only its connectors. */
  scope: Set<string> | null;
  /** Connectors deferred this pass (backing off, invalid until changed): their state stands. */
  deferred: Set<string>;
  /** Connectors whose earlier call may still land (connector id → why): pending until settled. */
  waiting: Map<string, string>;
  /** Tags that are never a connector's: deployment.tags and the managed tag. */
  configTags: string[];
  backoff: { baseSeconds: number; maxSeconds: number };
  now: Date;
  /** Jitter for the backoff of a failed connector, in [0, 1). */
  random: () => number;
}

export interface StatesAfterPass {
  /** The states to write: only those whose content changed (a no-op pass writes none). */
  states: ConnectorState[];
  /** Problems that are new or changed this pass: one failure event and one WARN line each. */
  newProblems: Problem[];
  /** Connectors that left a problem state (failed, invalid, conflict, held) for `synced`. */
  recovered: { connectorId: string; from: { status: string; message: string | null } }[];
  /** Connectors newly held back by the mass-delete guard (or for another reason). */
  newlyHeld: HeldConnector[];
}

/** The states a connector recovers from when it is synced again. */
// A held connector is not one of them: it waits for an operator, and its
// hold, once lifted, shows as the deletes and creates that follow (no `recovered`).
const PROBLEM_STATES = new Set(['failed', 'invalid', 'conflict']);

export function statesAfterPass(input: AfterPassInput): StatesAfterPass {
  const next = syncedStates(input);
  const newProblems = problemStates(input, next);
  const confirmed = appliedStates(input, next);
  const forced = heldStates(input, next, confirmed);
  for (const [id, message] of input.waiting) {
    const judged = next.get(id);
    // A row problem found meanwhile (a typo in its cron) stands; it touches no deployment.
    if (judged && judged.status !== 'synced' && judged.status !== 'deleted') continue;
    next.set(id, withStatus(input.states.get(id), id, 'pending', { lastError: message }));
  }
  const states = [...next.values()].filter(
    (s) => forced.has(s.connectorId) || stateChanged(input.states.get(s.connectorId), s),
  );
  return {
    states,
    newProblems,
    recovered: recoveries(input, next, confirmed),
    newlyHeld: (input.plan.heldDeletes?.connectors ?? []).filter((held) => {
      const now = next.get(held.connectorId);
      const before = input.states.get(held.connectorId);
      return (
        now?.status === 'held' && (before?.status !== 'held' || before.lastError !== held.message)
      );
    }),
  };
}

/** Connectors in a problem state before the pass and synced after it (a confirm wrote synced). */
function recoveries(
  input: AfterPassInput,
  next: Map<string, ConnectorState>,
  confirmed: Set<string>,
): StatesAfterPass['recovered'] {
  const recovered: StatesAfterPass['recovered'] = [];
  for (const [id, before] of input.states) {
    if (!PROBLEM_STATES.has(before.status)) continue;
    const after = next.get(id)?.status ?? (confirmed.has(id) ? 'synced' : null);
    if (after === 'synced')
      recovered.push({
        connectorId: id,
        from: { status: before.status, message: before.lastError },
      });
  }
  return recovered;
}

/** Connectors whose deployment matches (synced), and those that want none and have none (deleted). */
function syncedStates(input: AfterPassInput): Map<string, ConnectorState> {
  const { states, now } = input;
  const next = new Map<string, ConnectorState>();
  const byConnector = new Map<string, Deployment>();
  for (const d of input.managed) {
    const id = connectorIdOf(d, input.configTags);
    if (id !== null) byConnector.set(id, d);
  }
  for (const id of input.plan.unchanged)
    next.set(
      id,
      synced(states.get(id), id, byConnector.get(id) ?? null, now, input.hashes.get(id)),
    );
  // A suspended connector's state stays what it was, even when its row is gone.
  const suspended = new Set(input.plan.suspended.map((s) => s.connectorId));
  for (const id of goneConnectors(states, input.liveRows, new Set(byConnector.keys()), input.scope))
    if (!suspended.has(id)) next.set(id, synced(states.get(id), id, null, now));
  return next;
}

/** Each problem's state (a failed connector gets its backoff); returns the ones that are new. */
function problemStates(input: AfterPassInput, next: Map<string, ConnectorState>): Problem[] {
  const fresh: Problem[] = [];
  for (const problem of [...input.plan.problems, ...input.failures]) {
    if (input.deferred.has(problem.connectorId)) continue;
    const previous = input.states.get(problem.connectorId);
    const state = problemState(previous, problem, input.hashes.get(problem.connectorId) ?? null);
    if (problem.status === 'failed') {
      // Backoff for the long-running worker; a one-shot run tries every connector anyway.
      const delay = backoffSeconds(state.attempts, input.backoff, input.random());
      state.nextAttemptAt = new Date(input.now.getTime() + delay * 1000);
    }
    next.set(problem.connectorId, state);
    if (isNewProblem(previous, problem)) fresh.push(problem);
  }
  return fresh;
}

/** A confirmed change wrote its connector's state with its event: it stands. Returns those connectors. */
function appliedStates(input: AfterPassInput, next: Map<string, ConnectorState>): Set<string> {
  const confirmed = new Set<string>();
  for (const { change } of input.applied) {
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
  return confirmed;
}

/** Connectors behind held deletes are `held`; returns those whose state must be written over a confirm's. */
function heldStates(
  input: AfterPassInput,
  next: Map<string, ConnectorState>,
  confirmed: Set<string>,
): Set<string> {
  const forced = new Set<string>();
  const problemIds = new Set([...input.plan.problems, ...input.failures].map((p) => p.connectorId));
  for (const held of input.plan.heldDeletes?.connectors ?? []) {
    // A row problem is what to fix first; it stands.
    if (problemIds.has(held.connectorId)) continue;
    const previous = input.states.get(held.connectorId);
    next.set(
      held.connectorId,
      withStatus(previous, held.connectorId, 'held', { lastError: held.message }),
    );
    // Its confirmed change wrote `synced` meanwhile: held must be written over it.
    if (confirmed.has(held.connectorId)) forced.add(held.connectorId);
  }
  return forced;
}
