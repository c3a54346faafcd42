import { EXIT } from '../domain/exit-codes.js';
import type { Masker } from '../domain/mask.js';
import { allProblems, planJson, renderPlan } from './plan.js';
import type { PassResult } from '../pass/result.js';

// What `run --once` / `plan` report about a pass: text, JSON and exit code. Pure.

/** What a command prints for a pass (text or JSON) and exits with. */
export interface PassReport {
  exitCode: number;
  text: string;
  json: Record<string, unknown>;
}

/** `run --once` / `plan`: the whole pass. */
export function reportOf(result: PassResult, masker?: Masker): PassReport {
  return {
    exitCode: exitCodeOf(result),
    text: renderRun(result, masker),
    json: { ...planJson(result, masker), ...runJson(result) },
  };
}

export function runJson(result: PassResult): Record<string, unknown> {
  // Connectors left alone because an earlier call of theirs may still land: plan says so too.
  const waiting = result.waiting.map((w) => ({
    connector_id: w.connectorId,
    deployment_id: w.deploymentId,
    message: w.message,
  }));
  if (result.dryRun) return { waiting };
  return {
    pass_id: result.passId,
    applied: result.applied.length,
    events: result.events,
    settled: result.settled,
    waiting,
    aborted: result.aborted,
    prefect_calls: result.calls,
    duration_ms: result.durationMs,
  };
}

export function renderRun(result: PassResult, masker?: Masker): string {
  if (result.dryRun) return renderPlan(result, 'Plan', masker);
  const lines = [renderPlan(result, 'Applied', masker)];
  if (result.settled.tookEffect + result.settled.didNot > 0) {
    lines.push(
      `Settled ${result.settled.tookEffect + result.settled.didNot} open intents from an earlier pass: ${result.settled.tookEffect} took effect.`,
    );
  }
  if (result.waiting.length > 0) {
    lines.push(
      `${result.waiting.length} open intents are too recent to settle (a call of an earlier pass may still land in Prefect); their connectors were left as they are: run again after the time each note gives.`,
    );
  }
  if (result.aborted) lines.push(`Pass ended early: ${result.aborted}`);
  lines.push(
    `Events written: ${result.events}. Prefect calls: ${result.calls.reads} reads, ${result.calls.writes} writes. ${(result.durationMs / 1000).toFixed(2)}s.`,
  );
  return lines.join('\n');
}

/** docs/reference/exit-codes.md: the first that applies of 69, 1, 2, 0 (64 is decided before a pass). */
export function exitCodeOf(result: PassResult): number {
  if (result.aborted) return EXIT.unavailable;
  if (allProblems(result).length > 0 || result.plan.heldDeletes) return EXIT.problems;
  if (result.dryRun && result.plan.changes.length > 0) return EXIT.pending;
  // Not converged, nothing wrong: connectors wait for an earlier call to settle.
  if (result.waiting.length > 0) return EXIT.pending;
  // Converged but for what an operator's suspension holds back.
  if (result.plan.suspended.some((s) => s.wouldChange === true)) return EXIT.suspended;
  return EXIT.ok;
}
