import { passRetryDelayMs } from '../domain/backoff.js';
import { classifyError, LeadershipLostError } from '../domain/errors.js';
import { type PassResult, verdictOf } from '../pass/result.js';

// What the worker does after a pass, decided in one place from how the pass
// ended (as controller-runtime's reconcileHandler does from a Result): pure.

export type PassEnding = { result: PassResult } | { error: Error };

export type PassVerdict = 'ok' | 'problems' | 'aborted' | 'error';

export interface NextStep {
  /** For `connector_sync_passes_total{result}`. */
  verdict: PassVerdict;
  /** The pass ran to its end (problems or not): the last successful pass is now. */
  succeeded: boolean;
  /** Passes in a row that failed or were cut short, counting this one. */
  failures: number;
  /** Hold the next pass — a full one — back this long (Prefect or Postgres kept failing). */
  retryFullInMs: number | null;
  /** Connectors of a failed targeted pass: asked for again. */
  requeue: string[];
  /** Come back for connectors whose open intents were too young to settle. */
  comeBack: { inMs: number; connectors: string[]; full: boolean } | null;
  /** This replica lost the reconcile lock: it follows until it can take it again. */
  lostLeadership: boolean;
  /** What to log about it, if anything. */
  log: { level: 'warn' | 'error'; msg: string; fields: Record<string, unknown> } | null;
}

/** A little past the settle bound: the database's clock decides, and timers may fire early. */
export const COME_BACK_MARGIN_MS = 250;

export function nextStep(
  ending: PassEnding,
  context: { failures: number; stopping: boolean; scope: string[] | undefined },
): NextStep {
  if ('error' in ending) return afterError(ending.error, context);
  const { result } = ending;
  const base = {
    requeue: [],
    comeBack: comeBackFor(result),
    lostLeadership: false,
  };
  if (!result.aborted) {
    return {
      ...base,
      verdict: verdictOf(result),
      succeeded: true,
      failures: 0,
      retryFullInMs: null,
      log: null,
    };
  }
  if (context.stopping)
    return {
      ...base,
      verdict: 'aborted',
      succeeded: false,
      failures: context.failures,
      retryFullInMs: null,
      log: null,
    };
  // Cut short because Prefect kept failing: the same growing pause as a failed pass.
  const failures = context.failures + 1;
  const retryInMs = passRetryDelayMs(failures);
  return {
    ...base,
    verdict: 'aborted',
    succeeded: false,
    failures,
    retryFullInMs: retryInMs,
    log: { level: 'warn', msg: 'pass aborted', fields: { reason: result.aborted, retryInMs } },
  };
}

function afterError(
  error: Error,
  context: { failures: number; scope: string[] | undefined },
): NextStep {
  const none = { verdict: 'error' as const, succeeded: false, comeBack: null };
  if (error instanceof LeadershipLostError)
    return {
      ...none,
      failures: context.failures,
      retryFullInMs: null,
      requeue: [],
      lostLeadership: true,
      log: {
        level: 'warn',
        msg: 'pass stopped: this replica lost the reconcile lock',
        fields: { err: error },
      },
    };
  // Postgres or Prefect down: try again with a growing pause, as a full pass.
  const failures = context.failures + 1;
  const retryInMs = passRetryDelayMs(failures);
  return {
    ...none,
    failures,
    retryFullInMs: retryInMs,
    requeue: context.scope ?? [],
    lostLeadership: false,
    log: {
      level: 'error',
      msg: 'pass failed',
      fields: { err: error, class: classifyError(error), retryInMs },
    },
  };
}

/**
 * Intents too young to settle: come back with a targeted pass (a full one
 * for a deployment without a connector) as soon as the first is old enough,
 * rather than after the next scheduled pass, which may be an hour away.
 */
function comeBackFor(result: PassResult): NextStep['comeBack'] {
  const release = result.releaseComeBackInMs ?? null;
  if (result.waiting.length === 0)
    return release === null ? null : { inMs: release, connectors: [], full: true };
  const waiting = comeBackForWaiting(result);
  return release === null
    ? waiting
    : { ...waiting, inMs: Math.min(waiting.inMs, release), full: true };
}

function comeBackForWaiting(result: PassResult): NonNullable<NextStep['comeBack']> {
  return {
    inMs: Math.min(...result.waiting.map((w) => w.inMs)) + COME_BACK_MARGIN_MS,
    connectors: result.waiting.flatMap((w) => (w.connectorId === null ? [] : [w.connectorId])),
    full: result.waiting.some((w) => w.connectorId === null),
  };
}
