import type { Config } from '../config/schema.js';
import {
  deferredConnectors,
  rowHashes,
  stateAfter,
  type ConnectorState,
  type Deferred,
} from '../domain/connector-state.js';
import { desiredDeployment, type DesiredSettings } from '../domain/desired.js';
import { maskerOf } from '../domain/mask.js';
import { unmatchedNames } from '../domain/plan.js';
import {
  ripeIntents,
  settleAfterMs,
  settleIntent,
  viewOf,
  waitingMessage,
  type Intent,
  type Settlement,
} from '../domain/settle.js';
import type { Deployment, DeploymentSpec } from '../domain/types.js';
import { validateRows, type ValidatedRows } from '../domain/validate.js';
import type { PassOptions } from './context.js';
import type { Snapshot } from './observe.js';
import { checkParameters, desiredSettings, rolloutRulesOf } from './settings.js';
import { releaseSpecOf, settingsOn } from '../domain/release.js';
import { planReleases, type ReleasePlan } from '../domain/release-plan.js';
import { runsPerDay, type Candidate } from '../domain/rollout.js';
import type { ConnectorRow } from '../domain/types.js';

// Step 2 of a pass, judge: pure. What the snapshot says before anything is
// planned — which open intents settle and which wait, each row valid or not
// and the deployment it asks for, which connectors a pass defers — and the
// names a create may collide with, for step 3 to look up.

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
  deferred: Deferred;
  specs: DeploymentSpec[];
  /** Connectors left as they are this pass: deferred, or waiting for an earlier call. */
  leftAlone: Set<string>;
  waitingIds: Set<string>;
  /** Managed deployments the plan may touch (not one an earlier call may still be changing). */
  plannable: Deployment[];
  /** Deployment names a create is planned for: looked up among deployments that are not ours. */
  lookups: string[];
  /** What every connector's deployment starts from (configuration over template): today's release. */
  settings: DesiredSettings;
  /** The ledger's say: the release each connector is given, a release started (docs/concepts/releases.md). */
  releases: ReleasePlan;
}

export function judge(
  snapshot: Snapshot,
  config: Config,
  options: Pick<PassOptions, 'honourBackoff' | 'retryDeferred' | 'scope'>,
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
  const { settings, releases, settingsOf, validated } = rowsAndReleases(
    snapshot,
    config,
    options,
    now,
  );
  const hashes = rowHashes(source.rows);
  const deferred = deferredConnectors(validated.valid, states, hashes, now, {
    backoff: options.honourBackoff === true && options.retryDeferred !== true,
    invalid: options.retryDeferred !== true,
  });
  const specs = validated.valid.map((row) => desiredDeployment(row, settingsOf(row.id)));
  const leftAlone = new Set([...deferred.connectors, ...waitingIds]);
  const lookups = unmatchedNames(
    specs.filter((s) => !leftAlone.has(s.connectorId) && !snapshot.suspensions.has(s.connectorId)),
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
    deferred,
    specs,
    leftAlone,
    waitingIds,
    plannable,
    lookups,
    settings,
    releases,
  };
}

/**
 * Each row validated, and the release it is given (docs/concepts/releases.md):
 * its spec's fleet-wide part, parameter schema included, is that release's.
 */
function rowsAndReleases(
  snapshot: Snapshot,
  config: Config,
  options: Pick<PassOptions, 'scope'>,
  now: Date,
) {
  const { source } = snapshot;
  const settings = desiredSettings(config, source.idKind, snapshot.template);
  const rows = validateRows(source.rows, {
    idKind: source.idKind,
    defaultTimezone: config.deployment.defaultTimezone,
    nameTemplate: config.deployment.nameTemplate,
    reservedTags: [config.ownership.managedTag],
  });
  const releases = planReleases({
    ledger: snapshot.releases,
    target: releaseSpecOf(settings),
    candidates: candidatesOf(rows.valid, snapshot, now),
    rules: rolloutRulesOf(config),
    fullPass: options.scope === undefined,
    now,
  });
  const settingsOf = (id: string) => settingsOn(settings, releases.assign(id).spec);
  const validated = checkEachRelease(rows, settingsOf, maskerOf(config.masking.keys));
  return { settings, releases, settingsOf, validated };
}

/** Connectors as the canary choice sees them. */
function candidatesOf(rows: ConnectorRow[], snapshot: Snapshot, now: Date): Candidate[] {
  return rows.map((row) => ({
    connectorId: row.id,
    active: row.isActive,
    suspended: snapshot.suspensions.has(row.id),
    runsPerDay: runsPerDay(row.cron, row.timezone, now),
    lastRunCompleted: snapshot.lastRuns?.get(row.id) ?? null,
  }));
}

/** Each row's parameters judged by the schema of the release it is given. */
function checkEachRelease(
  rows: ValidatedRows,
  settingsOf: (id: string) => DesiredSettings,
  masker: ReturnType<typeof maskerOf>,
): ValidatedRows {
  const groups = new Map<DesiredSettings['parameterSchema'], ConnectorRow[]>();
  const settingsBySchema = new Map<DesiredSettings['parameterSchema'], DesiredSettings>();
  for (const row of rows.valid) {
    const settings = settingsOf(row.id);
    groups.set(settings.parameterSchema, [...(groups.get(settings.parameterSchema) ?? []), row]);
    settingsBySchema.set(settings.parameterSchema, settings);
  }
  if (groups.size <= 1) {
    const only = [...settingsBySchema.values()][0];
    return only ? checkParameters(rows, only, masker) : rows;
  }
  let checked: ValidatedRows = { ...rows, valid: [] };
  for (const [schema, valid] of groups) {
    const part = checkParameters({ ...checked, valid }, settingsBySchema.get(schema)!, masker);
    checked = { ...part, valid: [...checked.valid, ...part.valid] };
  }
  return checked;
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

/** Connector states once the changes that took effect are confirmed. */
function statesAfter(
  before: Map<string, ConnectorState>,
  settlements: IntentSettlement[],
  now: Date,
): Map<string, ConnectorState> {
  const states = new Map(before);
  for (const { settlement } of settlements) {
    if (!settlement.tookEffect) continue;
    for (const s of stateAfter(settlement.change, settlement.result, states, now))
      states.set(s.connectorId, s);
  }
  return states;
}
