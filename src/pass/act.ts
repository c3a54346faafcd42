import type { RelatedContext } from '../domain/events.js';
import type { Plan, Problem, Applied } from '../domain/types.js';
import { applyChanges } from './apply.js';
import { flowNameOf } from '../config/schema.js';
import type { PassDeps, PassOptions } from './context.js';
import type { Snapshot } from './observe.js';
import type { AfterPassInput } from '../domain/states-after-pass.js';
import { recordStates } from './record-states.js';
import { confirmSettlements } from './settle.js';
import { withStatus } from '../domain/connector-state.js';
import { writeBack } from './writeback.js';
import { keepSourceHealth } from './source-check.js';
import type { Judgement } from './judge.js';

export interface Acted {
  settled: { tookEffect: number; didNot: number };
  applied: Applied[];
  failures: Problem[];
  aborted: string | null;
  /** Events written: settled intents, applied changes, new problems. */
  events: number;
}

export interface ActInput {
  passId: string;
  snapshot: Snapshot;
  judgement: Judgement;
  plan: Plan;
  options: PassOptions;
  /** The work pools the plan's changes use, as read before acting (their events name them). */
  workPools: { id: string; name: string }[];
}

/**
 * The act step of a pass: settle the intents the decide step read off
 * Prefect, mark planned connectors pending, apply the plan, record every
 * connector's state, write deployment ids back to the source, and keep what a
 * full pass found of the source for the source check.
 */
export async function act(deps: PassDeps, input: ActInput): Promise<Acted> {
  const { config } = deps;
  const { snapshot, judgement, plan, options } = input;
  const settled = await confirmSettlements(deps, judgement.settlements, snapshot.states);
  const open = judgement.settlements.length + judgement.waiting.length;
  if (open > 0)
    deps.logger.info(
      { open, ...settled, waiting: judgement.waiting.length },
      'settled leftover intents',
    );
  await options.guard?.();
  // Planned changes are pending until confirmed (docs/concepts/how-a-pass-works.md, "Per-connector state").
  const pending = plan.changes.flatMap((c) =>
    c.connectorId === null
      ? []
      : [withStatus(judgement.states.get(c.connectorId), c.connectorId, 'pending', {})],
  );
  if (pending.length > 0) await deps.store.saveStates(pending);

  const context: RelatedContext = {
    flow: snapshot.flowId ? { id: snapshot.flowId, name: flowNameOf(config.deployment) } : null,
    workPools: input.workPools,
  };
  // Creates share one flow: get-or-create it once, and only if a create is planned.
  let flow: Promise<string> | null = snapshot.flowId ? Promise.resolve(snapshot.flowId) : null;
  const outcome = await applyChanges(deps, {
    changes: plan.changes,
    passId: input.passId,
    context,
    states: judgement.states,
    hashes: judgement.hashes,
    ensureFlow: () => (flow ??= deps.prefect.ensureFlow(flowNameOf(config.deployment))),
    guard: options.guard,
    shouldStop: options.shouldStop,
  });
  const problemEvents = await recordStates(
    deps,
    input.passId,
    afterPassInput(deps, input, outcome),
    context,
  );
  await writeBack(deps, {
    source: snapshot.source,
    plan,
    applied: outcome.applied,
    managed: snapshot.managed,
    flowId: snapshot.flowId,
    nameTemplate: config.deployment.nameTemplate,
  });
  const sourceEvents = await keepSourceHealth(deps, {
    passId: input.passId,
    source: snapshot.source,
    health: snapshot.sourceHealth,
    plan,
  });
  const events = settled.tookEffect + outcome.applied.length + problemEvents + sourceEvents;
  return { settled, ...outcome, events };
}

/** What record.ts needs to judge every connector's state after the apply step. */
function afterPassInput(
  deps: PassDeps,
  input: ActInput,
  outcome: { applied: Applied[]; failures: Problem[] },
): AfterPassInput {
  const { config } = deps;
  const { snapshot, judgement, plan, options } = input;
  return {
    plan,
    applied: outcome.applied,
    failures: outcome.failures,
    states: judgement.states,
    hashes: judgement.hashes,
    liveRows: new Set(snapshot.source.rows.filter((row) => !row.deleted).map((row) => row.id)),
    managed: snapshot.managed,
    scope: options.scope ? new Set(options.scope) : null,
    deferred: judgement.deferred.connectors,
    waiting: new Map(
      judgement.waiting.flatMap((w) =>
        w.connectorId === null ? [] : [[w.connectorId, w.message]],
      ),
    ),
    configTags: [...config.deployment.tags, config.ownership.managedTag],
    backoff: config.reconcile.backoff,
    now: deps.now(),
    random: deps.random ?? Math.random,
  };
}
