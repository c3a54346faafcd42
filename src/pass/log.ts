import type { Logger } from 'pino';
import type { Plan } from '../domain/types.js';
import type { CallCounts } from '../prefect/http.js';
import type { PassOptions } from './context.js';
import type { Judgement } from './judge.js';
import type { PassResult } from './result.js';

// What a pass says in the log: its decision (held deletes, intents a dry run
// leaves open) and its closing "pass finished" line.

export function logDecision(
  log: Logger,
  judgement: Judgement,
  plan: Plan,
  options: PassOptions,
): void {
  const { settlements, waiting } = judgement;
  // A real pass says what it settled once it has (act.ts).
  if (options.dryRun && settlements.length + waiting.length > 0)
    log.info(
      { open: settlements.length + waiting.length, waiting: waiting.length },
      'open intents (not settled: dry run)',
    );
  const held = plan.heldDeletes;
  // A real pass says a source shrank once per episode (source-check.ts), not every pass.
  if (held && (held.rule !== 'source-shrank' || options.dryRun))
    log.warn(
      {
        rule: held.rule,
        count: held.count,
        limit: held.limit,
        deployments: held.deletes.map((d) => d.deployment.name),
      },
      `${held.by.replace(/^the /, '')}: deletes held back (approve them with --allow-mass-delete if they are intended)`,
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
      // Cut short (Prefect kept failing, or shutdown): why, on the pass's own last line.
      ...(result.aborted ? { aborted: result.aborted } : {}),
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

/** The calls made between two readings of the counts. */
/** The calls made since `before`, less `others` made meanwhile that are not the pass's. */
export function callsSince(
  after: CallCounts,
  before: CallCounts,
  others: CallCounts = { reads: 0, writes: 0, byRoute: {} },
): CallCounts {
  const byRoute: Record<string, number> = {};
  for (const [route, n] of Object.entries(after.byRoute)) {
    const delta = n - (before.byRoute[route] ?? 0) - (others.byRoute[route] ?? 0);
    if (delta > 0) byRoute[route] = delta;
  }
  return {
    reads: after.reads - before.reads - others.reads,
    writes: after.writes - before.writes - others.writes,
    byRoute,
  };
}
