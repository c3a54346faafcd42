import { connectorTag, desiredDeployment, type DesiredSettings } from '../core/desired.js';
import type { RelatedContext } from '../core/events.js';
import { planPass, unmatchedNames, type DeleteLimit } from '../core/plan.js';
import type { Plan, Problem, SourceRow } from '../core/types.js';
import { validateRows } from '../core/validate.js';
import type { Config } from '../config/schema.js';
import { readSource, type SourceSnapshot } from '../db/source.js';
import { loadStates, saveStates } from '../db/state.js';
import { ConfigurationError } from '../errors.js';
import { PrefectError } from '../prefect/errors.js';
import type { CallCounts } from '../prefect/http.js';
import { applyChanges, type Applied } from './apply.js';
import type { PassDeps, PassOptions } from './context.js';
import { recordStates } from './record.js';
import { readOpenIntents, settleRipe, type Waiting } from './settle.js';
import { heldBack, rowHashes, withStatus } from './states.js';
import { writeBack } from './writeback.js';

export interface PassResult {
  passId: string;
  dryRun: boolean;
  plan: Plan;
  applied: Applied[];
  /** Problems found while applying (Prefect refused or failed). */
  failures: Problem[];
  settled: { tookEffect: number; didNot: number };
  /**
   * Open intents too young to settle (a call may still land in Prefect):
   * their connectors were left alone this pass; a later pass settles them.
   */
  waiting: Waiting[];
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

  const scope = options.scope ? new Set(options.scope) : null;
  const workPool = await preflight(deps);
  const source = await readSource(pool, config.source.table, options.scope);
  const states = await loadStates(pool, schema);
  const flowId = await prefect.readFlowId(config.deployment.flowName);
  const managed = options.scope
    ? await prefect.listManagedOf(config.ownership.managedTag, options.scope.map(connectorTag))
    : await prefect.listByTag(config.ownership.managedTag);
  const context: RelatedContext = {
    flow: flowId ? { id: flowId, name: config.deployment.flowName } : null,
    workPool,
  };

  const intents = await readOpenIntents(deps, scope);
  const { waiting } = intents;
  const settled = options.dryRun
    ? { tookEffect: 0, didNot: 0 }
    : await settleRipe(deps, intents.ripe, managed, flowId, states);
  if (intents.ripe.length + waiting.length > 0)
    log.info(
      { open: intents.ripe.length + waiting.length, ...settled, waiting: waiting.length },
      options.dryRun ? 'open intents (not settled: dry run)' : 'settled leftover intents',
    );
  // A connector whose earlier call may still land is not touched until it is
  // settled: a change planned now could be overtaken by that late write.
  const waitingIds = new Set(
    waiting.flatMap((w) => (w.connectorId === null ? [] : [w.connectorId])),
  );
  const waitingOrphans = new Set(
    waiting.flatMap((w) => (w.connectorId === null && w.deploymentId ? [w.deploymentId] : [])),
  );
  const plannable = managed.filter((d) => !waitingOrphans.has(d.id));

  const validated = validateRows(source.rows, {
    idKind: source.idKind,
    defaultTimezone: config.deployment.defaultTimezone,
    nameTemplate: config.deployment.nameTemplate,
  });
  const hashes = rowHashes(source.rows);
  const held = heldBack(
    validated.valid,
    states,
    hashes,
    deps.now(),
    options.honourBackoff === true,
  );
  const settings = desiredSettings(config, source);
  const specs = validated.valid.map((row) => desiredDeployment(row, settings));
  const untouchable = new Set([...held.untouchable, ...waitingIds]);
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
    problems: [...validated.problems, ...held.problems],
    stopRuns: inactiveButInvalid(
      source.rows,
      [...validated.problems, ...held.problems],
      waitingIds,
    ),
    softDeleted: validated.softDeleted,
    known: new Set(states.keys()),
    managed: plannable,
    foreign,
    flowId,
    configTags: [...config.deployment.tags, config.ownership.managedTag],
    onInactive: config.deployment.onInactive,
    adopt: config.ownership.adopt,
    deleteLimit: parseDeleteLimit(config.reconcile.maxDeletesPerPass),
    allowMassDelete: options.allowMassDelete,
  });
  for (const w of waiting)
    plan.notices.push({ connectorId: w.connectorId, message: waitingNotice(w) });
  if (options.dryRun && intents.ripe.length > 0)
    plan.notices.push({
      connectorId: null,
      message: `${intents.ripe.length} open intents of an earlier pass are old enough to settle: a real pass reads Prefect for each and writes the event of every change that took effect`,
    });
  if (plan.heldDeletes)
    log.warn(
      {
        count: plan.heldDeletes.count,
        limit: plan.heldDeletes.limit,
        deployments: plan.heldDeletes.deletes.map((d) => d.deployment.name),
      },
      'mass-delete guard: deletes held back (run with --allow-mass-delete if they are intended)',
    );

  const result: PassResult = {
    passId,
    dryRun: options.dryRun,
    plan,
    applied: [],
    failures: [],
    settled,
    waiting,
    events: settled.tookEffect,
    aborted: null,
    calls: callsBefore,
    durationMs: 0,
  };
  if (!options.dryRun) {
    await options.guard?.();
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
    const outcome = await applyChanges(
      { ...deps, logger: log },
      {
        changes: plan.changes,
        passId,
        context,
        states,
        ensureFlow: () => (flowPromise ??= ensureFlowOnce()),
        guard: options.guard,
        shouldStop: options.shouldStop,
      },
    );
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
      new Set(source.rows.filter((row) => !row.deleted).map((row) => row.id)),
      managed,
      scope,
      held.untouchable,
      new Map(waiting.flatMap((w) => (w.connectorId === null ? [] : [[w.connectorId, w.message]]))),
    );
    await writeBack(deps, source, plan, outcome.applied, managed, flowId);
  }

  result.calls = diffCounts(prefect.http.counts, callsBefore);
  result.durationMs = Date.now() - started;
  log.info(
    {
      kind: options.scope ? 'targeted' : 'full',
      ...(options.scope ? { connectors: options.scope } : {}),
      dryRun: options.dryRun,
      changes: plan.changes.length,
      applied: result.applied.length,
      problems: plan.problems.length + result.failures.length,
      events: result.events,
      ...(waiting.length > 0 ? { waiting: waiting.length } : {}),
      reads: result.calls.reads,
      writes: result.calls.writes,
      durationMs: result.durationMs,
    },
    'pass finished',
  );
  return result;
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

/** Problems shared by every connector are reported once, as what they are. */
async function preflight(deps: PassDeps): Promise<{ id: string; name: string }> {
  const name = deps.config.deployment.workPoolName;
  try {
    const pool = await deps.prefect.readWorkPool(name);
    if (pool) return pool;
    await deps.prefect.assertApiRoot();
    throw new ConfigurationError([
      `work pool "${name}" does not exist in Prefect (deployment.workPoolName)`,
    ]);
  } catch (error) {
    if (error instanceof PrefectError && error.kind === 'auth') {
      throw new ConfigurationError([
        `Prefect refused the credentials (${error.status}); check PREFECT_API_KEY / PREFECT_API_AUTH_STRING`,
      ]);
    }
    throw error;
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
