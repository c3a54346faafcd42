import { desiredDeployment, type DesiredSettings } from '../domain/desired.js';
import { planPass, unmatchedNames, type DeleteLimit } from '../domain/plan.js';
import {
  ripeIntents,
  settleAfterMs,
  settleIntent,
  viewOf,
  waitingMessage,
  type Settlement,
  type Intent,
} from '../domain/settle.js';
import type {
  Change,
  Deployment,
  DeploymentSpec,
  Notice,
  Plan,
  Problem,
  SourceRow,
} from '../domain/types.js';
import { validateRows, type ValidatedRows } from '../domain/validate.js';
import type { Config } from '../config/schema.js';
import type { PassOptions } from './context.js';
import type { Snapshot } from './observe.js';
import { checkParameters, desiredSettings } from './settings.js';
import { maskerOf } from '../domain/mask.js';
import {
  heldBack,
  rowHashes,
  stateAfter,
  type HeldBack,
  type ConnectorState,
} from '../domain/connector-state.js';

// The decide step of a pass: pure, snapshot in, plan and state changes out.

/** An open intent too young to settle: a call of ours may still be writing it into Prefect. */
export interface Waiting {
  connectorId: string | null;
  /** The deployment it changes (none for a create). */
  deploymentId: string | null;
  message: string;
  /** How long until it may be settled. */
  inMs: number;
}

/** An open intent old enough to settle, and what Prefect says became of it. */
export interface IntentSettlement {
  intent: Intent;
  settlement: Settlement;
}

/** What a pass has judged before it looks up strangers: everything but the plan. */
export interface Judgement {
  settlements: IntentSettlement[];
  waiting: Waiting[];
  /** Connector states once the settlements are confirmed. */
  states: Map<string, ConnectorState>;
  validated: ValidatedRows;
  hashes: Map<string, string>;
  held: HeldBack;
  specs: DeploymentSpec[];
  /** Connectors left as they are this pass: held back, or waiting for an earlier call. */
  untouchable: Set<string>;
  waitingIds: Set<string>;
  /** Managed deployments the plan may touch (not one an earlier call may still be changing). */
  plannable: Deployment[];
  /** Deployment names a create is planned for: looked up among deployments that are not ours. */
  lookups: string[];
  /** What every connector's deployment starts from (configuration over template). */
  settings: DesiredSettings;
}

export function judge(
  snapshot: Snapshot,
  config: Config,
  options: Pick<PassOptions, 'honourBackoff' | 'retryHeld'>,
  now: Date,
): Judgement {
  const { settlements, waiting } = splitIntents(snapshot, config);
  const states = statesAfter(snapshot.states, settlements, now);
  // A connector whose earlier call may still land is not touched until it is
  // settled: a change planned now could be overtaken by that late write.
  const waitingIds = new Set(
    waiting.flatMap((w) => (w.connectorId === null ? [] : [w.connectorId])),
  );
  const waitingOrphans = new Set(
    waiting.flatMap((w) => (w.connectorId === null && w.deploymentId ? [w.deploymentId] : [])),
  );
  const { source } = snapshot;
  const settings = desiredSettings(config, source.idKind, snapshot.template);
  const validated = checkParameters(
    validateRows(source.rows, {
      idKind: source.idKind,
      defaultTimezone: config.deployment.defaultTimezone,
      nameTemplate: config.deployment.nameTemplate,
      reservedTags: [config.ownership.managedTag],
    }),
    settings,
    maskerOf(config.masking.keys),
  );
  const hashes = rowHashes(source.rows);
  const held = heldBack(validated.valid, states, hashes, now, {
    backoff: options.honourBackoff === true && options.retryHeld !== true,
    invalid: options.retryHeld !== true,
  });
  const specs = validated.valid.map((row) => desiredDeployment(row, settings));
  const untouchable = new Set([...held.untouchable, ...waitingIds]);
  const lookups = unmatchedNames(
    specs.filter(
      (s) => !untouchable.has(s.connectorId) && !snapshot.suspensions.has(s.connectorId),
    ),
    snapshot.managed,
    snapshot.flowId,
  );
  const plannable = snapshot.managed.filter((d) => !waitingOrphans.has(d.id));
  return {
    settlements,
    waiting,
    states,
    validated,
    hashes,
    held,
    specs,
    untouchable,
    waitingIds,
    plannable,
    lookups,
    settings,
  };
}

/** The plan of the pass, with what the operator must be told beside it. */
export function decide(
  judgement: Judgement,
  snapshot: Snapshot,
  foreign: Deployment[],
  config: Config,
  options: Pick<PassOptions, 'allowMassDelete' | 'dryRun'>,
): Plan {
  const { validated, held, waiting } = judgement;
  const problems = [...validated.problems, ...held.problems];
  const plan = planPass({
    specs: judgement.specs,
    untouchable: judgement.untouchable,
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
    onInactive: config.deployment.onInactive,
    adopt: config.ownership.adopt,
    deleteLimit: parseDeleteLimit(config.reconcile.maxDeletesPerPass),
    allowMassDelete: options.allowMassDelete,
  });
  const notices: Notice[] = waiting.map((w) => ({
    connectorId: w.connectorId,
    message: waitingNotice(w),
  }));
  if (options.dryRun && judgement.settlements.length > 0)
    notices.push({
      connectorId: null,
      message: `${judgement.settlements.length} open intents of an earlier pass are old enough to settle: a real pass reads Prefect for each and writes the event of every change that took effect`,
    });
  return { ...plan, notices: [...plan.notices, ...notices] };
}

/** Open intents old enough to settle (with their outcome, read from the listing) and the rest. */
function splitIntents(
  snapshot: Snapshot,
  config: Config,
): { settlements: IntentSettlement[]; waiting: Waiting[] } {
  if (snapshot.intentsReadAt === null) return { settlements: [], waiting: [] };
  const now = snapshot.intentsReadAt;
  const { ripe, waiting } = ripeIntents(snapshot.intents, now, settleAfterMs(config.prefect));
  const view = viewOf(snapshot.managed);
  return {
    settlements: ripe.map((intent) => ({
      intent,
      settlement: settleIntent(intent.change, intent.flowId ?? snapshot.flowId, view),
    })),
    waiting: waiting.map(({ intent, settlesAt }) => ({
      connectorId: intent.change.connectorId,
      deploymentId: intent.change.action === 'create' ? null : intent.change.deployment.id,
      message: waitingMessage(intent.change.action, intent.passId, settlesAt),
      inMs: settlesAt.getTime() - now.getTime(),
    })),
  };
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

/** Connector states once the changes that took effect are confirmed. */
function statesAfter(
  before: Map<string, ConnectorState>,
  settlements: IntentSettlement[],
  now: Date,
): Map<string, ConnectorState> {
  const states = new Map(before);
  for (const { settlement } of settlements) {
    if (settlement.outcome !== 'took-effect') continue;
    for (const s of stateAfter(settlement.change, settlement.result, states, now))
      states.set(s.connectorId, s);
  }
  return states;
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

/** Work pools a plan's writes send (a create's, a changed one) and the ones its changes touch. */
export function poolsOf(plan: Plan): { sent: Set<string>; touched: Set<string> } {
  const sent = new Set<string>();
  const touched = new Set<string>();
  for (const change of plan.changes) {
    if (change.action === 'create') sent.add(change.spec.work_pool_name);
    else if (change.action !== 'delete' && change.fields.work_pool_name)
      sent.add(change.fields.work_pool_name.to as string);
    else if (change.deployment.work_pool_name) touched.add(change.deployment.work_pool_name);
  }
  return { sent, touched };
}

/**
 * The plan without the writes that send a work pool Prefect does not have
 * (one a row named): their connectors are invalid, as a row that names a
 * pool that is not there cannot become a deployment.
 */
export function withKnownPools(plan: Plan, known: Map<string, unknown>): Plan {
  const missing = (change: Change): string | null => {
    const pool =
      change.action === 'create'
        ? change.spec.work_pool_name
        : change.action === 'delete'
          ? null
          : ((change.fields.work_pool_name?.to as string | undefined) ?? null);
    return pool !== null && !known.has(pool) ? pool : null;
  };
  const problems: Problem[] = [];
  const changes = plan.changes.filter((change) => {
    const pool = missing(change);
    if (pool === null || change.connectorId === null) return true;
    const connectorName =
      change.action === 'create' ? change.spec.connectorName : change.connectorName;
    problems.push({
      connectorId: change.connectorId,
      connectorName,
      status: 'invalid',
      message: `work pool "${pool}" (the row's work_pool_name) does not exist in Prefect; create it or fix the row`,
      retryable: false,
    });
    return false;
  });
  if (problems.length === 0) return plan;
  return { ...plan, changes, problems: [...plan.problems, ...problems] };
}
