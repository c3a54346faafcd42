import { createHash } from 'node:crypto';
import { changesConnectorState } from './changes.js';
import type { Change, ConnectorRow, Deployment, Problem, SourceRow } from './types.js';
import type { ConnectorStatus } from './vocabulary.js';

// A connector's sync state (<schema>.connector_state) and its pure transitions.

/** One row of <schema>.connector_state (docs/concepts/how-a-pass-works.md, "Per-connector state"). */
export interface ConnectorState {
  connectorId: string;
  deploymentId: string | null;
  deploymentName: string | null;
  status: ConnectorStatus;
  lastError: string | null;
  attempts: number;
  nextAttemptAt: Date | null;
  lastSyncedAt: Date | null;
  rowHash: string | null;
}

export function rowHash(row: SourceRow): string {
  // prefect_deployment_id is ours to write; it does not make a row "changed".
  const judged = [
    row.id,
    row.name,
    row.schedule,
    row.timezone,
    row.isActive,
    row.parameters,
    row.deleted,
    // The per-connector columns only when a row sets them: a hash stays the
    // same across the upgrade that added them.
    ...perConnectorColumns(row),
  ];
  return createHash('sha256').update(JSON.stringify(judged)).digest('hex').slice(0, 32);
}

function perConnectorColumns(row: SourceRow): [Record<string, unknown>] | [] {
  const set = Object.entries({
    workPoolName: row.workPoolName,
    workQueueName: row.workQueueName,
    jobVariables: row.jobVariables,
    tags: row.tags,
    concurrencyLimit: row.concurrencyLimit,
  }).filter(([, value]) => value !== undefined && value !== null);
  return set.length > 0 ? [Object.fromEntries(set)] : [];
}

/**
 * The hash of each connector's row(s). Rows sharing an id (possible in a view)
 * get one hash that does not depend on the order the source returned them in,
 * so an unchanged duplicate does not look changed on the next pass.
 */
export function rowHashes(rows: SourceRow[]): Map<string, string> {
  const byId = new Map<string, string[]>();
  for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), rowHash(row)]);
  return new Map(
    [...byId].map(([id, hashes]) => [
      id,
      hashes.length === 1
        ? hashes[0]!
        : createHash('sha256').update(hashes.sort().join(',')).digest('hex').slice(0, 32),
    ]),
  );
}

export function blankState(connectorId: string): ConnectorState {
  return {
    connectorId,
    deploymentId: null,
    deploymentName: null,
    status: 'pending',
    lastError: null,
    attempts: 0,
    nextAttemptAt: null,
    lastSyncedAt: null,
    rowHash: null,
  };
}

export function withStatus(
  previous: ConnectorState | undefined,
  connectorId: string,
  status: ConnectorStatus,
  patch: Partial<ConnectorState>,
): ConnectorState {
  return { ...(previous ?? blankState(connectorId)), status, ...patch };
}

export function synced(
  previous: ConnectorState | undefined,
  connectorId: string,
  deployment: { id: string; name: string } | null,
  now: Date,
  /** The row it was synced from; unknown (a settled intent) keeps the one before. */
  hash?: string,
): ConnectorState {
  return withStatus(previous, connectorId, deployment ? 'synced' : 'deleted', {
    ...(hash === undefined ? {} : { rowHash: hash }),
    deploymentId: deployment?.id ?? null,
    deploymentName: deployment?.name ?? null,
    lastError: null,
    attempts: 0,
    nextAttemptAt: null,
    lastSyncedAt: now,
  });
}

export function problemState(
  previous: ConnectorState | undefined,
  problem: Problem,
  hash: string | null,
): ConnectorState {
  const sameProblem = previous?.status === problem.status && previous.lastError === problem.message;
  return withStatus(previous, problem.connectorId, problem.status, {
    lastError: problem.message,
    attempts: (sameProblem ? previous.attempts : 0) + 1,
    rowHash: hash,
  });
}

/** A failure event is written once per distinct problem, not on every retry. */
export function isNewProblem(previous: ConnectorState | undefined, problem: Problem): boolean {
  return previous?.status !== problem.status || previous.lastError !== problem.message;
}

/** Only write a state whose content changed (keeps a no-op pass free of writes). */
export function stateChanged(previous: ConnectorState | undefined, next: ConnectorState): boolean {
  if (!previous) return true;
  return (
    previous.status !== next.status ||
    previous.deploymentId !== next.deploymentId ||
    previous.deploymentName !== next.deploymentName ||
    previous.lastError !== next.lastError ||
    previous.attempts !== next.attempts ||
    previous.rowHash !== next.rowHash ||
    (previous.nextAttemptAt?.getTime() ?? null) !== (next.nextAttemptAt?.getTime() ?? null)
  );
}

/**
 * Connectors that want no deployment and have none: their row is gone or
 * soft-deleted, and no managed deployment carries their tag. Their state
 * becomes `deleted` whatever it was — also `pending` (a create killed before
 * it reached Prefect, then the row was deleted) or `invalid` (a bad row that
 * was then deleted); otherwise nothing would ever move them again.
 */
export function goneConnectors(
  states: Map<string, ConnectorState>,
  liveRows: Set<string>,
  deployed: Set<string>,
  scope: Set<string> | null,
): string[] {
  const gone: string[] = [];
  for (const [id, state] of states) {
    if (scope !== null && !scope.has(id)) continue;
    if (!liveRows.has(id) && state.status !== 'deleted' && !deployed.has(id)) gone.push(id);
  }
  return gone;
}

/** Connectors a pass defers, and the problems they still have. */
export interface Deferred {
  connectors: Set<string>;
  /** The problems they still have, reported again without a new event. */
  problems: Problem[];
}

/** Which reasons to defer a pass honours (see deferredConnectors). */
export interface DeferRules {
  /** A failing connector waits for its backoff (the long-running worker). */
  backoff: boolean;
  /** A row Prefect itself judged invalid waits until it changes (all but `sync`/`retry`). */
  invalid: boolean;
}

/**
 * Connectors a pass defers (docs/concepts/glossary.md, "defer"): a row
 * Prefect itself judged invalid (until the row changes) and, in the
 * long-running worker, a failing connector whose backoff has not run out
 * (unless its row changed since). An operator's `sync` or `retry` lifts both.
 */
export function deferredConnectors(
  rows: ConnectorRow[],
  states: Map<string, ConnectorState>,
  hashes: Map<string, string>,
  now: Date,
  rules: DeferRules,
): Deferred {
  const deferred: Deferred = { connectors: new Set(), problems: [] };
  for (const row of rows) {
    const state = states.get(row.id);
    if (!state?.lastError || state.rowHash !== hashes.get(row.id)) continue;
    const invalid = state.status === 'invalid';
    const backingOff =
      state.status === 'failed' && state.nextAttemptAt !== null && state.nextAttemptAt > now;
    if (!(invalid && rules.invalid) && !(backingOff && rules.backoff)) continue;
    deferred.connectors.add(row.id);
    deferred.problems.push({
      connectorId: row.id,
      connectorName: row.name,
      status: invalid ? 'invalid' : 'failed',
      message: state.lastError,
      retryable: !invalid,
    });
  }
  return deferred;
}

/** The connector state a successful change leads to (none for a change that only clears the way). */
export function stateAfter(
  change: Change,
  result: Deployment | null,
  states: Map<string, ConnectorState>,
  now: Date,
  hashes?: Map<string, string>,
): ConnectorState[] {
  // A recreate's delete of the old deployment, a pause that only stops runs:
  // the connector's own state is decided by the rest of the pass.
  if (change.connectorId === null || !changesConnectorState(change)) return [];
  const previous = states.get(change.connectorId);
  const hash = hashes?.get(change.connectorId);
  if (change.action === 'delete') return [synced(previous, change.connectorId, null, now, hash)];
  const deployment = result ?? (change.action === 'create' ? null : change.deployment);
  if (!deployment) return [];
  const { id, name } = deployment;
  return [synced(previous, change.connectorId, { id, name }, now, hash)];
}
