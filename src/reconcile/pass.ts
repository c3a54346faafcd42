import { desiredDeployment, type DesiredSettings } from '../core/desired.js';
import { eventForChange, failedEvent, type EventRow, type RelatedContext } from '../core/events.js';
import { connectorIdOf, planPass, unmatchedNames, type DeleteLimit } from '../core/plan.js';
import { settleIntent, viewOf } from '../core/settle.js';
import type { Deployment, Plan, Problem, SourceRow } from '../core/types.js';
import { validateRows } from '../core/validate.js';
import type { Config } from '../config/schema.js';
import { appendEvents, confirmIntent, dropIntent, openIntents } from '../db/eventlog.js';
import { readSource, writeBackDeploymentId, type SourceSnapshot } from '../db/source.js';
import { loadStates, saveStates, type ConnectorState } from '../db/state.js';
import { ConfigurationError } from '../errors.js';
import { PrefectError } from '../prefect/errors.js';
import type { CallCounts } from '../prefect/http.js';
import { applyChanges, stateAfter, type Applied } from './apply.js';
import type { PassDeps, PassOptions } from './context.js';
import { isNewProblem, problemState, rowHash, stateChanged, synced, withStatus } from './states.js';

export interface PassResult {
  passId: string;
  dryRun: boolean;
  plan: Plan;
  applied: Applied[];
  /** Problems found while applying (Prefect refused or failed). */
  failures: Problem[];
  settled: { tookEffect: number; didNot: number };
  events: number;
  aborted: string | null;
  calls: CallCounts;
  durationMs: number;
}

/**
 * One reconcile pass: read both sides, settle leftover intents, plan, apply,
 * record. Level-triggered: it looks at the whole state every time, so running
 * it twice changes nothing the second time.
 */
export async function runPass(deps: PassDeps, options: PassOptions): Promise<PassResult> {
  const started = Date.now();
  const { config, prefect, pool } = deps;
  const schema = config.database.schema;
  const passId = deps.newId();
  const log = deps.logger.child({ pass: passId });
  const callsBefore = { ...prefect.http.counts, byRoute: { ...prefect.http.counts.byRoute } };

  const workPool = await preflight(deps);
  const source = await readSource(pool, config.source.table);
  const states = await loadStates(pool, schema);
  const flowId = await prefect.readFlowId(config.deployment.flowName);
  const managed = await prefect.listByTag(config.ownership.managedTag);
  const context: RelatedContext = {
    flow: flowId ? { id: flowId, name: config.deployment.flowName } : null,
    workPool,
  };

  const settled = options.dryRun
    ? { tookEffect: 0, didNot: 0 }
    : await settleLeftovers(deps, passId, managed, flowId, states);

  const validated = validateRows(source.rows, {
    idKind: source.idKind,
    defaultTimezone: config.deployment.defaultTimezone,
    nameTemplate: config.deployment.nameTemplate,
  });
  const hashes = new Map(source.rows.map((row) => [row.id, rowHash(row)]));
  // A row Prefect itself judged invalid is not retried until it changes.
  const untouchable = new Set<string>();
  const carried: Problem[] = [];
  for (const row of validated.valid) {
    const state = states.get(row.id);
    if (state?.status === 'invalid' && state.rowHash === hashes.get(row.id) && state.lastError) {
      untouchable.add(row.id);
      carried.push({
        connectorId: row.id,
        connectorName: row.name,
        status: 'invalid',
        message: state.lastError,
        retryable: false,
      });
    }
  }
  const settings = desiredSettings(config, source);
  const specs = validated.valid.map((row) => desiredDeployment(row, settings));
  const missing = unmatchedNames(
    specs.filter((s) => !untouchable.has(s.connectorId)),
    managed,
    flowId,
  );
  const foreign =
    flowId && missing.length > 0
      ? (await prefect.findByNames(flowId, missing)).filter(
          (d) => !d.tags.includes(config.ownership.managedTag),
        )
      : [];

  const plan = planPass({
    specs,
    untouchable,
    problems: [...validated.problems, ...carried],
    softDeleted: validated.softDeleted,
    known: new Set(states.keys()),
    managed,
    foreign,
    flowId,
    configTags: [...config.deployment.tags, config.ownership.managedTag],
    onInactive: config.deployment.onInactive,
    adopt: config.ownership.adopt,
    deleteLimit: parseDeleteLimit(config.reconcile.maxDeletesPerPass),
    allowMassDelete: options.allowMassDelete,
  });

  const result: PassResult = {
    passId,
    dryRun: options.dryRun,
    plan,
    applied: [],
    failures: [],
    settled,
    events: settled.tookEffect,
    aborted: null,
    calls: callsBefore,
    durationMs: 0,
  };
  if (!options.dryRun) {
    // Planned changes are pending until confirmed (SPEC §8).
    const pending = plan.changes
      .filter((c) => c.connectorId !== null)
      .map((c) => withStatus(states.get(c.connectorId!), c.connectorId!, 'pending', {}));
    await saveStates(pool, schema, pending);

    // Creates share one flow: get-or-create it once, and only if a create is planned.
    let flowPromise: Promise<string> | null = flowId ? Promise.resolve(flowId) : null;
    const ensureFlowOnce = async (): Promise<string> => {
      const id = await prefect.ensureFlow(config.deployment.flowName);
      context.flow = { id, name: config.deployment.flowName };
      return id;
    };
    const outcome = await applyChanges(deps, {
      changes: plan.changes,
      passId,
      context,
      states,
      ensureFlow: () => (flowPromise ??= ensureFlowOnce()),
    });
    result.applied = outcome.applied;
    result.failures = outcome.failures;
    result.aborted = outcome.aborted;
    result.events += outcome.applied.length;
    result.events += await recordStates(
      deps,
      passId,
      plan,
      outcome.applied,
      outcome.failures,
      states,
      hashes,
      managed,
    );
    await writeBack(deps, source, plan, outcome.applied, managed, flowId);
  }

  result.calls = diffCounts(prefect.http.counts, callsBefore);
  result.durationMs = Date.now() - started;
  log.info(
    {
      dryRun: options.dryRun,
      changes: plan.changes.length,
      applied: result.applied.length,
      problems: plan.problems.length + result.failures.length,
      events: result.events,
      reads: result.calls.reads,
      writes: result.calls.writes,
      durationMs: result.durationMs,
    },
    'pass finished',
  );
  return result;
}

/** Problems shared by every connector are reported once, as what they are. */
async function preflight(deps: PassDeps): Promise<{ id: string; name: string }> {
  const name = deps.config.deployment.workPoolName;
  try {
    const pool = await deps.prefect.readWorkPool(name);
    if (!pool)
      throw new ConfigurationError([
        `work pool "${name}" does not exist in Prefect (deployment.workPoolName)`,
      ]);
    return pool;
  } catch (error) {
    if (error instanceof PrefectError && error.kind === 'auth') {
      throw new ConfigurationError([
        `Prefect refused the credentials (${error.status}); check PREFECT_API_KEY / PREFECT_API_AUTH_STRING`,
      ]);
    }
    throw error;
  }
}

/** Intents left open by a crash or an unknown outcome: an event for what took effect, nothing for the rest. */
async function settleLeftovers(
  deps: PassDeps,
  passId: string,
  managed: Deployment[],
  flowId: string | null,
  states: Map<string, ConnectorState>,
): Promise<{ tookEffect: number; didNot: number }> {
  const schema = deps.config.database.schema;
  const intents = await openIntents(deps.pool, schema);
  const view = viewOf(managed);
  let tookEffect = 0;
  for (const intent of intents) {
    const settlement = settleIntent(intent.change, intent.flowId ?? flowId, view);
    if (settlement.outcome === 'did-not-take-effect') {
      await dropIntent(deps.pool, schema, intent.id);
      continue;
    }
    const draft = eventForChange(settlement.change, settlement.result, intent.context);
    const event: EventRow = {
      ...draft,
      id: intent.id,
      occurred: intent.createdAt,
      pass_id: intent.passId,
    };
    const next = stateAfter(settlement.change, settlement.result, states, deps.now());
    if (await confirmIntent(deps.pool, schema, intent.id, event, next)) {
      tookEffect++;
      for (const s of next) states.set(s.connectorId, s);
    }
  }
  if (intents.length > 0) {
    deps.logger.info(
      { pass: passId, open: intents.length, tookEffect },
      'settled leftover intents',
    );
  }
  return { tookEffect, didNot: intents.length - tookEffect };
}

/** Writes the state of every connector the pass judged, and one failure event per new problem. */
async function recordStates(
  deps: PassDeps,
  passId: string,
  plan: Plan,
  applied: Applied[],
  failures: Problem[],
  states: Map<string, ConnectorState>,
  hashes: Map<string, string>,
  managed: Deployment[],
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
  // Connectors with a remembered deployment and no row at all are gone.
  const rows = new Set(hashes.keys());
  for (const [id, state] of states) {
    if (!rows.has(id) && state.status !== 'deleted' && !byConnector.has(id))
      next.set(id, synced(state, id, null, now));
  }
  for (const problem of [...plan.problems, ...failures]) {
    const previous = states.get(problem.connectorId);
    next.set(
      problem.connectorId,
      problemState(previous, problem, hashes.get(problem.connectorId) ?? null),
    );
    if (isNewProblem(previous, problem)) {
      events.push({ ...failedEvent(problem), id: deps.newId(), occurred: now, pass_id: passId });
    }
  }
  for (const { change } of applied) if (change.connectorId) next.delete(change.connectorId);
  const changed = [...next.values()].filter((s) => stateChanged(states.get(s.connectorId), s));
  await appendEvents(deps.pool, deps.config.database.schema, events, changed);
  return events.length;
}

/** Keeps <source>.prefect_deployment_id equal to the connector's deployment. */
async function writeBack(
  deps: PassDeps,
  source: SourceSnapshot,
  plan: Plan,
  applied: Applied[],
  managed: Deployment[],
  flowId: string | null,
): Promise<void> {
  const { config } = deps;
  if (!config.source.writeBackDeploymentId || !source.hasDeploymentIdColumn) return;
  const wanted = new Map<string, string | null>();
  const ours = new Map(managed.filter((d) => d.flow_id === flowId).map((d) => [d.name, d.id]));
  const settings = desiredSettings(config, source);
  const unchanged = new Set(plan.unchanged);
  for (const row of source.rows) {
    if (!unchanged.has(row.id)) continue;
    const name = settings.nameTemplate.replaceAll('{id}', row.id);
    wanted.set(row.id, ours.get(name) ?? null);
  }
  for (const { change, result } of applied) {
    if (change.connectorId === null) continue;
    if (change.action === 'delete') {
      if (change.reason !== 'renamed' && change.reason !== 'moved to another flow')
        wanted.set(change.connectorId, null);
    } else if (result) wanted.set(change.connectorId, result.id);
  }
  const current = new Map<string, string | null>(
    source.rows.map((r: SourceRow) => [r.id, r.prefectDeploymentId]),
  );
  for (const [id, deploymentId] of wanted) {
    if (!current.has(id) || current.get(id) === deploymentId) continue;
    try {
      await writeBackDeploymentId(deps.pool, config.source.table, id, deploymentId);
    } catch (error) {
      deps.logger.warn(
        { connector: id, err: error instanceof Error ? error.message : String(error) },
        'could not write back prefect_deployment_id',
      );
      return; // a read-only view: say it once per pass, not once per row
    }
  }
}

export function desiredSettings(
  config: Config,
  source: Pick<SourceSnapshot, 'idKind'>,
): DesiredSettings {
  return {
    idKind: source.idKind,
    nameTemplate: config.deployment.nameTemplate,
    tags: config.deployment.tags,
    managedTag: config.ownership.managedTag,
    workPoolName: config.deployment.workPoolName,
    workQueueName: config.deployment.workQueueName,
    entrypoint: config.deployment.entrypoint,
    path: config.deployment.path,
    pullSteps: config.deployment.pullSteps,
    jobVariables: config.deployment.jobVariables,
  };
}

export function parseDeleteLimit(value: number | string): DeleteLimit {
  return typeof value === 'number' ? { count: value } : { percent: Number(value.replace('%', '')) };
}

function diffCounts(after: CallCounts, before: CallCounts): CallCounts {
  const byRoute: Record<string, number> = {};
  for (const [route, n] of Object.entries(after.byRoute)) {
    const delta = n - (before.byRoute[route] ?? 0);
    if (delta > 0) byRoute[route] = delta;
  }
  return { reads: after.reads - before.reads, writes: after.writes - before.writes, byRoute };
}
