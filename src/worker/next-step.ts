import { passRetryDelayMs } from '../domain/backoff.js';
import { classifyError, LeadershipLostError } from '../domain/errors.js';
import { type PassResult, verdictOf } from '../pass/result.js';
import { failureText, PrefectError } from '../prefect/errors.js';

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
  log: { level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> } | null;
  /**
   * The failure episode this pass leaves: what failed, as told once in the
   * log (a pass failing the same way again does not repeat it), and whether
   * it was Prefect (readiness says so); null once a pass gets through.
   */
  episode: FailureEpisode | null;
}

export interface FailureEpisode {
  text: string;
  prefect: boolean;
}

export interface StepContext {
  failures: number;
  stopping: boolean;
  scope: string[] | undefined;
  /** The failure episode the passes before left (null when the last one got through). */
  episode?: FailureEpisode | null;
}

/** A little past the settle bound: the database's clock decides, and timers may fire early. */
export const COME_BACK_MARGIN_MS = 250;

export function nextStep(ending: PassEnding, context: StepContext): NextStep {
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
      log: context.episode
        ? {
            level: 'info',
            msg: 'passes get through again',
            fields: { failedPassesBefore: context.failures, failure: context.episode.text },
          }
        : null,
      episode: null,
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
      episode: context.episode ?? null,
    };
  // Cut short because Prefect kept failing: the same growing pause as a failed pass.
  const failures = context.failures + 1;
  const retryInMs = passRetryDelayMs(failures);
  const episode = { text: result.aborted, prefect: true };
  const again = sameEpisode(context, episode);
  return {
    ...base,
    verdict: 'aborted',
    succeeded: false,
    failures,
    retryFullInMs: retryInMs,
    log: {
      level: again ? 'info' : 'warn',
      msg: 'pass aborted',
      fields: { ...(again ? { again: true } : { reason: result.aborted }), failures, retryInMs },
    },
    episode,
  };
}

/** The same failure as the passes before: said already, so not said again. */
function sameEpisode(context: StepContext, episode: FailureEpisode): boolean {
  return context.episode?.text === episode.text;
}

function afterError(error: Error, context: StepContext): NextStep {
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
        fields: { error: error.message },
      },
      episode: context.episode ?? null,
    };
  // Postgres or Prefect down: try again with a growing pause, as a full pass.
  const failures = context.failures + 1;
  const retryInMs = passRetryDelayMs(failures);
  const errorClass = classifyError(error);
  const episode = { text: failureText(error), prefect: error instanceof PrefectError };
  const again = sameEpisode(context, episode);
  return {
    ...none,
    failures,
    retryFullInMs: retryInMs,
    requeue: context.scope ?? [],
    lostLeadership: false,
    log: {
      level: again ? 'info' : 'error',
      msg: 'pass failed',
      // Once per episode, in words; a stack only for what nobody expected (a bug).
      fields: {
        ...(again ? { again: true } : { error: episode.text }),
        ...(errorClass === 'permanent' && !again ? { err: error } : {}),
        class: errorClass,
        failures,
        retryInMs,
      },
    },
    episode,
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
