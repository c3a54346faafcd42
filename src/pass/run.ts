import type { Logger } from 'pino';
import type { Plan, Problem } from '../domain/types.js';
import type { CallCounts } from '../prefect/http.js';
import { act, type Acted } from './act.js';
import type { Applied } from './apply.js';
import type { PassDeps, PassOptions } from './context.js';
import { decide, judge, poolsOf, withKnownPools, type Judgement, type Waiting } from './decide.js';
import { lookUpStrangers, observe, readWorkPools } from './observe.js';

export type { Waiting } from './decide.js';

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

/** How a pass that ran ended: with nothing wrong, with connector problems (or held deletes), or cut short. */
export function verdictOf(result: PassResult): 'ok' | 'problems' | 'aborted' {
  if (result.aborted) return 'aborted';
  const problems = result.plan.problems.length + result.failures.length > 0;
  return problems || result.plan.heldDeletes ? 'problems' : 'ok';
}

const NOTHING_DONE: Acted = {
  settled: { tookEffect: 0, didNot: 0 },
  applied: [],
  failures: [],
  aborted: null,
  events: 0,
};

/**
 * One reconcile pass: observe both sides, decide (settle leftover intents,
 * plan), act (apply, record). Level-triggered: it looks at the whole state
 * every time, so running it twice changes nothing the second time.
 */
export async function runPass(deps: PassDeps, options: PassOptions): Promise<PassResult> {
  const result = await passWithoutSummary(deps, options);
  logPassFinished(deps.logger, result, options);
  return result;
}

/**
 * The pass without its closing "pass finished" line, for a caller with more
 * to do first (recorded.ts writes the history): that line is the last word.
 */
export async function passWithoutSummary(
  deps: PassDeps,
  options: PassOptions,
): Promise<PassResult> {
  const started = Date.now();
  const passId = options.passId ?? deps.newId();
  const log = deps.logger.child({ pass: passId });
  const callsBefore = deps.prefect.callCounts();

  const snapshot = await observe(deps, options.scope);
  const judgement = judge(snapshot, deps.config, options, deps.now());
  const foreign = await lookUpStrangers(deps, snapshot.flowId, judgement.lookups);
  const decided = decide(judgement, snapshot, foreign, deps.config, options);
  // Read only when something will be written: a pass with nothing to do asks no more.
  const workPools = await workPoolsOf(deps, decided, judgement.settings.workPoolName);
  const plan = withKnownPools(decided, workPools);
  logDecision(log, judgement, plan, options);

  const acted = options.dryRun
    ? NOTHING_DONE
    : await act(
        { ...deps, logger: log },
        { passId, snapshot, judgement, plan, options, workPools: [...workPools.values()] },
      );
  const result: PassResult = {
    passId,
    dryRun: options.dryRun,
    plan,
    ...acted,
    waiting: judgement.waiting,
    calls: diffCounts(deps.prefect.callCounts(), callsBefore),
    durationMs: Date.now() - started,
  };
  return result;
}

/** The work pools the plan's changes send or touch, each read once; none for an empty plan. */
async function workPoolsOf(
  deps: PassDeps,
  plan: Plan,
  configured: string,
): Promise<Map<string, { id: string; name: string }>> {
  if (plan.changes.length === 0) return new Map();
  const { sent, touched } = poolsOf(plan);
  return readWorkPools(deps, [...sent, ...touched], sent.has(configured) ? configured : null);
}

function logDecision(log: Logger, judgement: Judgement, plan: Plan, options: PassOptions): void {
  const { settlements, waiting } = judgement;
  // A real pass says what it settled once it has (act.ts).
  if (options.dryRun && settlements.length + waiting.length > 0)
    log.info(
      { open: settlements.length + waiting.length, waiting: waiting.length },
      'open intents (not settled: dry run)',
    );
  if (plan.heldDeletes)
    log.warn(
      {
        count: plan.heldDeletes.count,
        limit: plan.heldDeletes.limit,
        deployments: plan.heldDeletes.deletes.map((d) => d.deployment.name),
      },
      'mass-delete guard: deletes held back (run with --allow-mass-delete if they are intended)',
    );
}

export function logPassFinished(logger: Logger, result: PassResult, options: PassOptions): void {
  logger.child({ pass: result.passId }).info(
    {
      kind: options.scope ? 'targeted' : 'full',
      ...(options.scope ? { connectors: options.scope } : {}),
      dryRun: options.dryRun,
      changes: result.plan.changes.length,
      // What the plan would do, by action: all a dry run (or observe mode) does.
      ...(options.dryRun ? { planned: plannedByAction(result.plan) } : {}),
      ...(result.plan.suspended.length > 0 ? { suspended: result.plan.suspended.length } : {}),
      applied: result.applied.length,
      problems: result.plan.problems.length + result.failures.length,
      events: result.events,
      ...(result.waiting.length > 0 ? { waiting: result.waiting.length } : {}),
      reads: result.calls.reads,
      writes: result.calls.writes,
      durationMs: result.durationMs,
    },
    'pass finished',
  );
}

function plannedByAction(plan: Plan): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const change of plan.changes) counts[change.action] = (counts[change.action] ?? 0) + 1;
  return counts;
}

function diffCounts(after: CallCounts, before: CallCounts): CallCounts {
  const byRoute: Record<string, number> = {};
  for (const [route, n] of Object.entries(after.byRoute)) {
    const delta = n - (before.byRoute[route] ?? 0);
    if (delta > 0) byRoute[route] = delta;
  }
  return { reads: after.reads - before.reads, writes: after.writes - before.writes, byRoute };
}
