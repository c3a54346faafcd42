import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { eventForChange, type RelatedContext } from '../domain/events.js';
import { maskerOf } from '../domain/mask.js';
import { redactText } from '../domain/redact.js';
import { reschedulesAfter } from '../domain/reschedule.js';
import { writeWindowMs } from '../domain/settle.js';
import type { Applied, Change, Deployment, Problem } from '../domain/types.js';
import { coerceError } from '../domain/errors.js';
import { PrefectError } from '../prefect/errors.js';
import { flowNameOf } from '../config/schema.js';
import type { PassDeps } from './context.js';
import { eventRow } from './event-row.js';
import { stateAfter, type ConnectorState } from '../domain/connector-state.js';

export interface ApplyResult {
  applied: Applied[];
  failures: Problem[];
  /** Set when Prefect kept failing and the rest of the pass was skipped. */
  aborted: string | null;
}

/** The reason a pass gives when the worker's shutdown stopped it. */
export const SHUTTING_DOWN = 'shutting down';

/** Consecutive unreachable/5xx failures after which a pass stops asking Prefect. */
const CIRCUIT_THRESHOLD = 5;

export interface ApplyInput {
  changes: Change[];
  passId: string;
  context: RelatedContext;
  states: Map<string, ConnectorState>;
  /** Each connector's row hash: a confirmed change records the row it was made from. */
  hashes: Map<string, string>;
  /** Flow id for creates; resolved (POST /flows/) only if a create is planned. */
  ensureFlow: () => Promise<string>;
  /** Throws when this worker may no longer write (it lost the leader lock). */
  guard?: (() => Promise<void>) | undefined;
  /** True once shutdown began: no new change starts, the ones in flight finish. */
  shouldStop?: (() => boolean) | undefined;
}

/**
 * Applies changes with bounded concurrency. Each change: intent recorded,
 * Prefect called, then event + state confirmed in one transaction.
 *
 * A connector's changes are one unit, applied in order (`unitsOf`) and
 * stopped at the first that fails: a recreate's create never goes out while
 * the old deployment's delete failed.
 */
export async function applyChanges(deps: PassDeps, input: ApplyInput): Promise<ApplyResult> {
  const limit = pLimit(deps.config.reconcile.concurrency);
  const run = new ApplyRun(deps, input);
  // Queued tasks are never cleared (p-limit's clearQueue would leave their
  // promises pending forever): each one looks at the pass's state first and
  // returns at once once the pass stops, aborts or fails.
  await Promise.all(
    unitsOf(input.changes).map((unit) =>
      limit(async () => {
        for (const change of unit) if (!(await run.applyInTurn(change))) return;
      }),
    ),
  );
  return run.finish();
}

/** One pass's applying: the outcome so far, the circuit, the first fatal error. */
class ApplyRun {
  private readonly outcome: ApplyResult = { applied: [], failures: [], aborted: null };
  private consecutiveUnavailable = 0;
  private fatal: Error | null = null;

  constructor(
    private readonly deps: PassDeps,
    private readonly input: ApplyInput,
  ) {}

  /** Applies one change; false when the rest of its unit must not go ahead. */
  async applyInTurn(change: Change): Promise<boolean> {
    if (this.outcome.aborted || this.fatal !== null) return false;
    if (this.input.shouldStop?.()) {
      this.outcome.aborted ??= SHUTTING_DOWN;
      return false;
    }
    const log = this.deps.logger.child({ connector: change.connectorId, action: change.action });
    try {
      this.outcome.applied.push(await applyOne(this.deps, this.input, change, log));
      this.consecutiveUnavailable = 0;
      return true;
    } catch (error) {
      if (!(error instanceof PrefectError)) {
        // Lost lock, Postgres down: stop starting changes; the pass fails.
        this.fatal ??= coerceError(error);
        return false;
      }
      // Prefect may quote the value it refused ("Failure reason: 'hunter2' is
      // not of type …"): the message goes on to logs, state and events.
      error.message = redactText(error.message, this.secretTextsOf(change));
      this.outcome.failures.push(failureOf(change, error));
      // Not a warning: the connector's new problem is (once, in record.ts), not each attempt.
      log.info({ err: error, status: error.status }, 'change failed');
      if (error.retryable && ++this.consecutiveUnavailable >= CIRCUIT_THRESHOLD)
        this.outcome.aborted ??= `Prefect kept failing (${this.consecutiveUnavailable} changes in a row): ${error.message}`;
      return false;
    }
  }

  private secretTextsOf(change: Change): string[] {
    return maskerOf(this.deps.config.masking.keys).secretTexts(change);
  }

  finish(): ApplyResult {
    if (this.fatal !== null) throw this.fatal;
    return this.outcome;
  }
}

/**
 * The changes grouped per connector, in the order they must go out: deletes
 * first (a renamed connector's old deployment goes before its new one is
 * created), then the rest in plan order. Changes without a connector
 * (orphans) are units of their own.
 */
export function unitsOf(changes: Change[]): Change[][] {
  const units = new Map<string, Change[]>();
  const loose: Change[][] = [];
  for (const change of changes) {
    if (change.connectorId === null) {
      loose.push([change]);
      continue;
    }
    const unit = units.get(change.connectorId);
    if (unit) unit.push(change);
    else units.set(change.connectorId, [change]);
  }
  const deletesFirst = (unit: Change[]): Change[] => [
    ...unit.filter((c) => c.action === 'delete'),
    ...unit.filter((c) => c.action !== 'delete'),
  ];
  return [...[...units.values()].map(deletesFirst), ...loose];
}

/** Intent, Prefect call, confirm: one change, exactly one event if it took effect. */
async function applyOne(
  deps: PassDeps,
  input: ApplyInput,
  change: Change,
  log: Logger,
): Promise<Applied> {
  const { config, store } = deps;
  const flowId = change.action === 'create' ? await input.ensureFlow() : null;
  const context: RelatedContext =
    flowId === null
      ? input.context
      : { ...input.context, flow: { id: flowId, name: flowNameOf(config.deployment) } };
  const intentId = deps.newId();
  await input.guard?.();
  // Taken before the intent is written: every attempt of this change goes out
  // within the window after the intent's created_at (settled only after that).
  const sendBefore = Date.now() + writeWindowMs(config.prefect);
  await store.recordIntent({ id: intentId, passId: input.passId, change, flowId, context });

  let result: Deployment | null;
  // Before the PATCH: the runs it deletes are those due after this moment.
  const sentAt = deps.now();
  try {
    result = await callPrefect(deps, change, flowId, sendBefore);
  } catch (error) {
    // A definite refusal means nothing changed: the intent goes. An unknown
    // outcome (timeout, 5xx) stays open and is settled by reading Prefect.
    if (error instanceof PrefectError && !error.retryable) await store.dropIntent(intentId);
    throw error;
  }

  // The event's id is made at confirm time, so ids follow commit order closely
  // and readers paging by id (the API's cursor) do not skip a slow call's event.
  const event = eventRow(deps, eventForChange(change, result, context), input.passId, deps.now());
  await store.confirmIntent(
    intentId,
    event,
    stateAfter(change, result, input.states, deps.now(), input.hashes),
  );
  log.info({ deployment: event.deployment_id, event: event.event }, `${change.action} applied`);
  await restoreRuns(deps, change, sentAt, log);
  return { change, result, eventId: event.id };
}

/**
 * After an update that leaves a run due soon: the runs the PATCH deleted are
 * scheduled again from the moment before it (domain/reschedule.ts). The change
 * itself is done and has its event; if this fails, Prefect's scheduler still
 * makes again every run not yet due when it next looks.
 */
async function restoreRuns(
  deps: PassDeps,
  change: Change,
  sentAt: Date,
  log: Logger,
): Promise<void> {
  if (change.action !== 'update' && change.action !== 'resume') return;
  const within = deps.config.reconcile.rescheduleWithinSeconds;
  const now = deps.now();
  if (!reschedulesAfter(change, now, within)) return;
  // Only the runs due within the window: Prefect's scheduler makes the later
  // ones again long before they are due (and this call stays small).
  const until = new Date(now.getTime() + within * 1000);
  try {
    await deps.prefect.scheduleRuns(change.deployment.id, sentAt, until);
  } catch (error) {
    log.warn(
      { err: coerceError(error), deployment: change.deployment.id },
      "could not schedule again the runs the update deleted; Prefect's scheduler makes again those not yet due when it next looks",
    );
  }
}

/** The Prefect call of a change; the deployment after it (null for a delete). */
async function callPrefect(
  deps: PassDeps,
  change: Change,
  flowId: string | null,
  sendBefore: number,
): Promise<Deployment | null> {
  switch (change.action) {
    case 'create':
      return deps.prefect.createDeployment(flowId!, change.spec, sendBefore);
    case 'update':
    case 'pause':
    case 'resume':
      await deps.prefect.updateDeployment(change.deployment, change.fields, sendBefore);
      return change.deployment;
    case 'delete':
      await deps.prefect.deleteDeployment(change.deployment.id, sendBefore);
      return null;
  }
}

function failureOf(change: Change, error: PrefectError): Problem {
  const status = error.isRowDataProblem ? 'invalid' : 'failed';
  const connectorName =
    change.action === 'create' ? change.spec.connectorName : change.connectorName;
  return {
    connectorId:
      change.connectorId ??
      `deployment:${change.action === 'delete' ? change.deployment.name : ''}`,
    connectorName,
    status,
    message: `${change.action} failed: ${error.message}`,
    retryable: error.retryable,
  };
}
