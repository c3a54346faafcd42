import type { ReleaseView } from '../domain/release.js';
import type { Applied, Plan, Problem } from '../domain/types.js';
import type { CallCounts } from '../prefect/http.js';
import type { Waiting } from './judge.js';
import type { RunHealthFound } from './run-health.js';

// What a pass returns, for whoever shows or records it (render/, history.ts,
// the worker), and the verdict of a pass that ran.

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
  /** A release is moving (docs/concepts/releases.md): come back for a full pass this soon. */
  releaseComeBackInMs?: number | null;
  /** The releases that matter now, for the metrics (a full pass that wrote). */
  releases?: ReleaseView | null;
  calls: CallCounts;
  durationMs: number;
  /** What the full pass found of its deployments' runs; null or absent when it did not look. */
  runHealth?: RunHealthFound | null;
}

/** How a pass that ran ended: with nothing wrong, with connector problems (or held deletes), or cut short. */
export function verdictOf(result: PassResult): 'ok' | 'problems' | 'aborted' {
  if (result.aborted) return 'aborted';
  const problems = result.plan.problems.length + result.failures.length > 0;
  return problems || result.plan.heldDeletes ? 'problems' : 'ok';
}
